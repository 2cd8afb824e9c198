import { RetryState } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import type { CancellationReason } from '../domain/order.js';

/** Failure types a workflow update may end with; callers map them to HTTP answers. */
export const OrderRejection = {
  AmendmentRejected: 'AmendmentRejected',
  CancellationRejected: 'CancellationRejected',
} as const;

/** Raised inside the main flow when the order must stop and compensate. */
export class StopOrder extends Error {
  constructor(readonly reason: CancellationReason) {
    super(`order stopped: ${reason}`);
  }
}

/** An amendment refused for good: the update's caller gets `message`, and the order stays as it was. */
export function amendmentRejected(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: OrderRejection.AmendmentRejected, message, nonRetryable: true });
}

/** A cancellation refused by the update's validator: never in the history, the caller gets `message`. */
export function cancellationRejected(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: OrderRejection.CancellationRejected, message, nonRetryable: true });
}

export function failureType(error: unknown): string | undefined {
  if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure)
    return error.cause.type ?? undefined;
  return undefined;
}

/** The activity gave up because its attempts (or its schedule) ran out, not because it refused for good. */
export function retriesExhausted(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    (error.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED || error.retryState === RetryState.TIMEOUT)
  );
}

export function messageOf(error: unknown): string {
  if (error instanceof ActivityFailure) return `${error.activityType}: ${error.cause?.message ?? error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The id a message carries, read defensively: a signal sent from the Web UI may hold anything. */
export function requestIdOf(request: unknown): string {
  if (typeof request !== 'object' || request === null) return 'unknown';
  const { requestId, eventId } = request as { requestId?: unknown; eventId?: unknown };
  if (typeof requestId === 'string') return requestId;
  return typeof eventId === 'string' ? eventId : 'unknown';
}
