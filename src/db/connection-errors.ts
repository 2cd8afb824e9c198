import { Prisma } from '../generated/prisma/client.js';

/** Prisma error codes that mean "PostgreSQL cannot be reached right now", not "the query is wrong". */
const UNREACHABLE_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017', 'P2024']);
/** Driver adapter error kinds (@prisma/driver-adapter-utils) for a connection that failed or was closed. */
const UNREACHABLE_KINDS = new Set([
  'DatabaseNotReachable',
  'ConnectionClosed',
  'SocketTimeout',
  'TooManyConnections',
  'TlsConnectionError',
]);
/** Socket errors node-postgres passes through unconverted (the adapter converts only the first four it knows). */
const SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'ECONNABORTED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/**
 * node-postgres reports a connection that died under a query (or is reused after dying) with plain Errors and these
 * messages; the Prisma adapter does not convert them, so they reach us unchanged or as an unknown request error.
 */
const LOST_CONNECTION_MESSAGES =
  /Connection terminated|not queryable|terminating connection|server closed the connection|Client was closed/i;
/**
 * P2028 is every interactive-transaction error; only this one is about the database: no connection came free within
 * the transaction's maxWait, the interactive twin of P2024 (pool timeout). The others (an expired or closed
 * transaction used again) are bugs.
 */
const TRANSACTION_NOT_STARTED = /Unable to start a transaction in the given time/;
/** SQLSTATE class 08 (connection exception) and 57P0x (the server is shutting down, or killed this backend). */
const LOST_SQLSTATE = /^(08|57P0)/;

/** The adapter's error summary: `{ kind, code }` on a DriverAdapterError's cause or a known request error's meta. */
function adapterCause(error: object): { kind?: string; code?: string } | undefined {
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    return (error.meta?.driverAdapterError as { cause?: { kind?: string; code?: string } } | undefined)?.cause;
  }
  if ((error as { name?: unknown }).name === 'DriverAdapterError') {
    return (error as { cause?: { kind?: string; code?: string } }).cause;
  }
  return undefined;
}

function isLostHere(error: object): boolean {
  if (error instanceof Prisma.PrismaClientInitializationError) return true;
  if (error instanceof Prisma.PrismaClientKnownRequestError && UNREACHABLE_CODES.has(error.code)) return true;
  if (
    error instanceof Prisma.PrismaClientKnownRequestError &&
    error.code === 'P2028' &&
    TRANSACTION_NOT_STARTED.test(error.message)
  ) {
    return true;
  }
  const cause = adapterCause(error);
  if (cause?.kind && UNREACHABLE_KINDS.has(cause.kind)) return true;
  if (cause?.kind === 'postgres' && LOST_SQLSTATE.test(cause.code ?? '')) return true;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || LOST_SQLSTATE.test(code))) return true;
  const message = (error as { message?: unknown }).message;
  return typeof message === 'string' && LOST_CONNECTION_MESSAGES.test(message);
}

/**
 * Whether PostgreSQL was unreachable or the connection dropped (the backend was terminated, the server restarted),
 * at any depth of the error's cause chain: the request itself was fine and may be retried.
 */
export function isDatabaseConnectionLost(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current && typeof current === 'object'; depth++) {
    if (isLostHere(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
