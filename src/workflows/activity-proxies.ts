import type { ActivityInterfaceFor } from '@temporalio/workflow';
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
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

export function runActivities(changes: WorkflowChanges, compensationMaxAttempts: number): RunActivities {
  return {
    unboundedSteps: changes.shorterTimeouts ? quickSteps : steps,
    boundedSteps: proxyActivities<Activities>({
      startToCloseTimeout: changes.shorterTimeouts ? '10s' : '30s',
      retry: { ...FORWARD_RETRY, maximumAttempts: compensationMaxAttempts },
    }),
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
