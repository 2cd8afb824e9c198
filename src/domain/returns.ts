/** Return vocabulary shared by the ReturnWorkflow, its activities and the API. Pure: safe inside the sandbox. */

export const ReturnStatus = {
  REQUESTED: 'REQUESTED',
  RECEIVED: 'RECEIVED',
  REJECTED: 'REJECTED',
} as const;
export type ReturnStatus = (typeof ReturnStatus)[keyof typeof ReturnStatus];

/** What the warehouse found: resellable units go back on the shelf, damaged ones are refunded but not restocked. */
export const ReturnCondition = { resellable: 'resellable', damaged: 'damaged' } as const;
export type ReturnCondition = (typeof ReturnCondition)[keyof typeof ReturnCondition];

/** The warehouse's decision on a return, as the API and operators send it. */
export const ReturnDecision = { received: 'received', rejected: 'rejected' } as const;
export type ReturnDecision = (typeof ReturnDecision)[keyof typeof ReturnDecision];

export interface ReturnLine {
  productId: string;
  quantity: number;
  /** The captured unit price (minor units): the refund of a line is exactly what was charged for it. */
  unitPrice: number;
}

export function refundOf(lines: readonly ReturnLine[]): number {
  return lines.reduce((sum, line) => sum + line.unitPrice * line.quantity, 0);
}
