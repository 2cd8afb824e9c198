import type { ActivityInterfaceFor } from '@temporalio/workflow';
import { RetryState } from '@temporalio/common';
import { ActivityFailure, ApplicationFailure, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { ActivityErrorType } from '../domain/failures.js';
import type { WorkflowChanges } from './changes.js';

export type ActivityProxy = ActivityInterfaceFor<Activities>;

const FORWARD_RETRY = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' };

// Forward steps: database writes that must eventually happen, so they retry until they do.
export const steps = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: FORWARD_RETRY });
// One fenced transaction takes well under Prisma's 5 s transaction limit: after 10 s the attempt (or its worker) is
// gone, and retrying it is safe.
const quickSteps = proxyActivities<Activities>({ startToCloseTimeout: '10s', retry: FORWARD_RETRY });

const PAYMENT_RETRY = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '10s',
  maximumAttempts: 5,
  nonRetryableErrorTypes: [ActivityErrorType.PaymentDeclined],
};
// Payments: a bounded number of tries, then the order fails with PAYMENT_FAILED instead of hanging at checkout.
const payments = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: PAYMENT_RETRY });
// Every gateway call carries an idempotency key, so an attempt that outlives 15 s is retried without harm.
const quickPayments = proxyActivities<Activities>({ startToCloseTimeout: '15s', retry: PAYMENT_RETRY });

// Notifications are best effort: a few tries, and a failure never fails the order.
export const notifications = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 3 },
});

// Local activities: short, idempotent bookkeeping (stage history rows, catalog reads) that does not need its
// own history events; they make each transition one workflow task instead of three.
export const bookkeeping = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

// Pricing an amendment reads the catalog with what the request holds: an id the database refuses (a SKU typed into the
// Web UI) must reject the amendment after a few tries, not retry forever while the order waits behind it.
export const pricing = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumAttempts: 3 },
});

/** The proxies whose options depend on the patches a run adopted and on its COMPENSATION_MAX_ATTEMPTS. */
export interface RunActivities {
  /** Forward steps retried until they succeed. */
  unboundedSteps: ActivityProxy;
  /** Forward steps given COMPENSATION_MAX_ATTEMPTS tries before the order is flagged (`forward-steps-flagged`). */
  boundedSteps: ActivityProxy;
  /** Compensations: after COMPENSATION_MAX_ATTEMPTS tries an operator is asked to retry. */
  compensating: ActivityProxy;
  /** Card authorizations. */
  payments: ActivityProxy;
}

/**
 * Checkout's fenced database steps run as local activities with `local-checkout-steps`: one short transaction each,
 * fenced by the step's seq, so an attempt repeated after a lost workflow task is harmless, and run inside the workflow
 * task they cost no dispatch hops. The payment gateway, which can be slow and retries on its own terms, stays a regular
 * activity. So does holdStock: a new order waits at PENDING behind it (where a cancellation may arrive); as a local
 * activity it would run in the first workflow task, which stays open until it ends, and queries and updates of the
 * order would wait for that. (Its refusal, OutOfStock, would now be read right: see asActivityFailure.)
 */
const LOCAL_STEPS: ReadonlySet<string> = new Set(['createOrder', 'confirmOrder'] satisfies Array<keyof Activities>);

/**
 * A local activity's failure reaches the workflow as the bare ApplicationFailure the activity threw: unlike a regular
 * activity's (and unlike its own timeouts), it is not wrapped in an ActivityFailure. The saga reads refusals through
 * that wrapper (`failureType`: a lapsed hold is taken again, not a failed order) and spent attempts through its retry
 * state (`retriesExhausted`: the order is flagged and the step keeps trying), so the local steps fail in that shape.
 */
function asActivityFailure(error: unknown, activityType: string): unknown {
  if (!(error instanceof ApplicationFailure)) return error;
  // The local steps' retry policies name no non-retryable types: a retryable failure gets here only once the
  // attempts are spent.
  const retryState = error.nonRetryable ? RetryState.NON_RETRYABLE_FAILURE : RetryState.MAXIMUM_ATTEMPTS_REACHED;
  return new ActivityFailure('Activity task failed', activityType, undefined, retryState, undefined, error);
}

type Step = (...args: unknown[]) => Promise<unknown>;

/** `regular`, except that the local steps go through `local` (same timeout and retry policy). */
function withLocalSteps(regular: ActivityProxy, local: ActivityProxy): ActivityProxy {
  return new Proxy(regular, {
    get: (target, name): unknown => {
      if (typeof name !== 'string' || !LOCAL_STEPS.has(name)) return target[name as keyof Activities];
      const step = local[name as keyof Activities] as Step;
      return (...args: unknown[]) =>
        step(...args).catch((error: unknown) => {
          throw asActivityFailure(error, name);
        });
    },
  });
}

export function runActivities(changes: WorkflowChanges, compensationMaxAttempts: number): RunActivities {
  const boundedRetry = { ...FORWARD_RETRY, maximumAttempts: compensationMaxAttempts };
  const stepTimeout = changes.shorterTimeouts ? '10s' : '30s';
  const boundedSteps = proxyActivities<Activities>({ startToCloseTimeout: stepTimeout, retry: boundedRetry });
  const unboundedSteps = changes.shorterTimeouts ? quickSteps : steps;
  return {
    unboundedSteps: changes.localCheckoutSteps
      ? withLocalSteps(
          unboundedSteps,
          proxyLocalActivities<Activities>({ startToCloseTimeout: stepTimeout, retry: FORWARD_RETRY })
        )
      : unboundedSteps,
    boundedSteps: changes.localCheckoutSteps
      ? withLocalSteps(
          boundedSteps,
          proxyLocalActivities<Activities>({ startToCloseTimeout: stepTimeout, retry: boundedRetry })
        )
      : boundedSteps,
    compensating: proxyActivities<Activities>({
      startToCloseTimeout: changes.shorterTimeouts ? '15s' : '30s',
      retry: {
        initialInterval: '1s',
        backoffCoefficient: 2,
        maximumInterval: '30s',
        maximumAttempts: compensationMaxAttempts,
      },
    }),
    payments: changes.shorterTimeouts ? quickPayments : payments,
  };
}
