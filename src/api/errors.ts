import { ServiceError, WorkflowUpdateRPCTimeoutOrCancelledError } from '@temporalio/client';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { ZodError } from 'zod';
import { isDatabaseConnectionLost } from '../db/connection-errors.js';
import type { ReturnErrorCode } from '../returns/errors.js';
import { ReturnError, ReturnQuantityError, ReturnUpdateInterruptedError } from '../returns/errors.js';
import type { OrderErrorCode } from '../orders/errors.js';
import {
  LinesNotOrderableError,
  OrderError,
  OrderTotalTooLargeError,
  UpdateInterruptedError,
} from '../orders/errors.js';

/** Stable error codes: the `code` member of every problem document. Clients switch on these. */
export const ErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  MALFORMED_REQUEST: 'MALFORMED_REQUEST',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  UNSUPPORTED_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  ORDER_NOT_AMENDABLE: 'ORDER_NOT_AMENDABLE',
  ORDER_NOT_CANCELLABLE: 'ORDER_NOT_CANCELLABLE',
  RETURN_NOT_ALLOWED: 'RETURN_NOT_ALLOWED',
  RETURN_ALREADY_SETTLED: 'RETURN_ALREADY_SETTLED',
  IDEMPOTENCY_KEY_IN_USE: 'IDEMPOTENCY_KEY_IN_USE',
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  RATE_LIMITED: 'RATE_LIMITED',
  SERVICE_UNAVAILABLE: 'SERVICE_UNAVAILABLE',
  INTERNAL: 'INTERNAL',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface ErrorDetail {
  field?: string;
  message: string;
}

/** An error the API answers with; anything else becomes a 500 without internals. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details: ErrorDetail[] = []
  ) {
    super(message);
    this.name = 'ApiError';
  }

  static notFound(what: string) {
    return new ApiError(404, ErrorCode.NOT_FOUND, `${what} was not found`);
  }

  static validation(message: string, details: ErrorDetail[] = []) {
    return new ApiError(422, ErrorCode.VALIDATION_FAILED, message, details);
  }

  static conflict(code: ErrorCode, message: string) {
    return new ApiError(409, code, message);
  }

  static unavailable() {
    return new ApiError(
      503,
      ErrorCode.SERVICE_UNAVAILABLE,
      'a service this request needs is unavailable; retry later (with the same Idempotency-Key)'
    );
  }
}

/** The HTTP answer to each refusal of the orders and returns contexts: status and problem code. */
const REFUSAL_ANSWERS: Record<OrderErrorCode | ReturnErrorCode, [number, ErrorCode]> = {
  ORDER_NOT_FOUND: [404, ErrorCode.NOT_FOUND],
  SHIPMENT_NOT_FOUND: [404, ErrorCode.NOT_FOUND],
  NOT_PERMITTED: [403, ErrorCode.FORBIDDEN],
  LINES_NOT_ORDERABLE: [422, ErrorCode.VALIDATION_FAILED],
  ORDER_TOTAL_TOO_LARGE: [422, ErrorCode.VALIDATION_FAILED],
  AMEND_REFUSED: [409, ErrorCode.ORDER_NOT_AMENDABLE],
  CANCEL_REFUSED: [409, ErrorCode.ORDER_NOT_CANCELLABLE],
  ORDER_FINISHED: [409, ErrorCode.CONFLICT],
  UPDATE_INTERRUPTED: [503, ErrorCode.SERVICE_UNAVAILABLE],
  RETURN_NOT_ALLOWED: [409, ErrorCode.RETURN_NOT_ALLOWED],
  RETURN_QUANTITY_EXCEEDED: [422, ErrorCode.VALIDATION_FAILED],
  RETURN_NOT_FOUND: [404, ErrorCode.NOT_FOUND],
  RETURN_ALREADY_SETTLED: [409, ErrorCode.RETURN_ALREADY_SETTLED],
  RETURN_UPDATE_INTERRUPTED: [503, ErrorCode.SERVICE_UNAVAILABLE],
};

/** Field-level problems of a refusal, named by their place in the request. */
function refusalDetails(error: OrderError | ReturnError): ErrorDetail[] {
  if (error instanceof LinesNotOrderableError) {
    return error.problems.map(({ index, field, message }) => ({ field: `items.${index}.${field}`, message }));
  }
  if (error instanceof OrderTotalTooLargeError) {
    return [
      { field: 'items', message: `the total ${error.total} exceeds the maximum of ${error.maximum} minor units` },
    ];
  }
  if (error instanceof ReturnQuantityError) {
    return error.problems.map(({ index, field, message }) => ({ field: `body.items.${index}.${field}`, message }));
  }
  return [];
}

function fromRefusal(error: OrderError | ReturnError): ApiError {
  // Worded like every other 503: the client retries with the same Idempotency-Key.
  if (error instanceof UpdateInterruptedError || error instanceof ReturnUpdateInterruptedError) {
    return ApiError.unavailable();
  }
  const [status, code] = REFUSAL_ANSWERS[error.code];
  return new ApiError(status, code, error.message, refusalDetails(error));
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Seconds a client should wait before retrying a 503. */
export const RETRY_AFTER_S = 5;

/** RFC 9457 problem document carrying the catalog Error fields (`code`, `message`, `details`). */
export function problem(status: number, code: string, message: string, details: ErrorDetail[], instance: string) {
  return {
    type: `urn:flowmart:problem:${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail: message,
    instance,
    code,
    message,
    details: details.map((d) => (d.field ? `${d.field}: ${d.message}` : d.message)),
    errors: details,
  };
}

export function zodDetails(error: ZodError, prefix: string): ErrorDetail[] {
  return error.issues.map((issue) => ({
    field: [prefix, ...issue.path.map(String)].filter(Boolean).join('.'),
    message: issue.message,
  }));
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new ApiError(404, ErrorCode.NOT_FOUND, `no route for ${req.method} ${req.path}`));
};

/** The last middleware: maps every error to a problem document and never leaks a stack or an internal message. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    let apiError: ApiError;
    if (error instanceof ApiError) apiError = error;
    else if (error instanceof OrderError || error instanceof ReturnError) apiError = fromRefusal(error);
    else if (error instanceof ZodError) apiError = ApiError.validation('the request is invalid', zodDetails(error, ''));
    else if (isDependencyUnavailable(error)) apiError = ApiError.unavailable();
    else apiError = fromHttpError(error);
    // A 503 is expected while a dependency is down; any other 5xx is a failure nobody foresaw, told apart here.
    if (apiError.status === 503) {
      logger.warn({ error: errorSummary(error), method: req.method, path: req.path }, 'dependency unavailable');
    } else if (apiError.status >= 500) {
      logger.error({ err: error, error: errorSummary(error), method: req.method, path: req.path }, 'request failed');
    }
    if (res.headersSent) return;
    if (apiError.status === 503) res.set('Retry-After', String(RETRY_AFTER_S));
    res
      .status(apiError.status)
      .type('application/problem+json')
      .json(problem(apiError.status, apiError.code, apiError.message, apiError.details, req.originalUrl));
  };
}

/**
 * gRPC status codes of a Temporal call that say the server, or the workers behind it, cannot serve the call right
 * now, so a retry may succeed: CANCELLED (the stream was cut, the server went away), UNKNOWN (a failure without a
 * status, which the Temporal client itself retries as transient), DEADLINE_EXCEEDED (a query no worker answered in
 * time), RESOURCE_EXHAUSTED (rate limits), FAILED_PRECONDITION (WorkflowNotReady: a query or update while the
 * workflow's tasks fail; or no worker polled the task queue lately), ABORTED, INTERNAL (the server's persistence, or
 * an HTTP/2 stream reset while it restarts) and UNAVAILABLE (restarting, shard status unknown, update aborted).
 * The others (INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED, UNIMPLEMENTED, ...) say the call itself
 * is wrong: a bug or a misconfiguration, answered 500.
 */
const RETRYABLE_GRPC_CODES = new Set([1, 2, 4, 8, 9, 10, 13, 14]);

/** The gRPC status code of a Temporal client error (on the ServiceError's cause), if it has one. */
function grpcCodeOf(error: ServiceError): number | undefined {
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * Whether the error says a dependency (PostgreSQL or Temporal) is down or overloaded: the request was fine and may
 * be retried, so the answer is 503 with Retry-After rather than a 500.
 */
export function isDependencyUnavailable(error: unknown): boolean {
  if (isDatabaseConnectionLost(error)) return true;
  if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError) return true;
  if (error instanceof ServiceError) {
    const code = grpcCodeOf(error);
    // No gRPC status at all: the channel itself failed (closed connection, unreachable address).
    return code === undefined || RETRYABLE_GRPC_CODES.has(code);
  }
  return false;
}

/**
 * What a log line needs to tell failures apart without the stack: the class, the code (Prisma's, the driver's,
 * SQLSTATE or gRPC status) and the message, for the error and each cause under it.
 */
export function errorSummary(error: unknown): Record<string, unknown>[] {
  const chain: Record<string, unknown>[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current !== undefined && current !== null; depth++) {
    if (typeof current !== 'object') {
      // Something thrown that is not an Error: a string says what it is, anything else only its type.
      chain.push({ name: typeof current, ...(typeof current === 'string' ? { message: current } : {}) });
      break;
    }
    const { name, code, message } = current as { name?: unknown; code?: unknown; message?: unknown };
    chain.push({
      // Some libraries leave `name` as 'Error' on their own classes (Temporal's ServiceError).
      name: typeof name === 'string' && name !== 'Error' ? name : current.constructor.name,
      ...(code !== undefined ? { code } : {}),
      ...(typeof message === 'string' ? { message } : {}),
    });
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

/** body-parser and friends raise errors with `status` and `type`; keep their status, not their wording. */
function fromHttpError(error: unknown): ApiError {
  const status = typeof error === 'object' && error !== null && 'status' in error ? Number(error.status) : 500;
  const type = typeof error === 'object' && error !== null && 'type' in error ? String(error.type) : '';
  if (status === 413) return new ApiError(413, ErrorCode.PAYLOAD_TOO_LARGE, 'the request body is too large');
  if (status === 415) return new ApiError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'send application/json');
  if (type === 'entity.parse.failed')
    return new ApiError(400, ErrorCode.MALFORMED_REQUEST, 'the body is not valid JSON');
  if (status >= 400 && status < 500) return new ApiError(400, ErrorCode.MALFORMED_REQUEST, 'the request is malformed');
  return new ApiError(500, ErrorCode.INTERNAL, 'something went wrong on our side; the request may be retried');
}
