/** Money is integer minor units plus an ISO 4217 code inside the service; decimals exist only on the wire. */

const fractionDigitsCache = new Map<string, number>();

export function fractionDigits(currency: string): number {
  let digits = fractionDigitsCache.get(currency);
  if (digits === undefined) {
    digits = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    fractionDigitsCache.set(currency, digits);
  }
  return digits;
}

/** 1999 USD -> 19.99: one division by a power of ten gives the nearest double to the exact decimal. */
export function toDecimal(minorUnits: number, currency: string): number {
  return minorUnits / 10 ** fractionDigits(currency);
}

/**
 * The largest order total accepted, in minor units (1,000,000.00 in a two-decimal currency). Placing or amending an
 * order above it is refused up front (422), so a total never exceeds what the API's money fields describe nor what
 * the saga can authorize; the columns are 64-bit, so this is a business cap, not a storage limit.
 */
export const MAX_ORDER_TOTAL = 100_000_000;

/**
 * A money column (BIGINT, read by Prisma as a bigint) as the number the service computes with. Exact: totals are
 * capped at MAX_ORDER_TOTAL, prices below it, far under Number.MAX_SAFE_INTEGER. Writes need no conversion (Prisma
 * takes a number for a BigInt field).
 */
export function fromStoredMoney(value: bigint): number {
  return Number(value);
}
