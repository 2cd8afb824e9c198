import { proxyActivities, setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import { CancellationReason, Stage } from '../domain/order.js';
import { ShipmentStatus } from '../domain/shipment.js';
import type { RecoverOrderInput, RecoveryOutcome } from './messages.js';

// Every step is fenced and idempotent: the recovery retries until the order is consistent, as compensations do.
const steps = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
});

/**
 * Repairs an order left behind by a workflow that closed before COMPLETED or CANCELLED (an operator's terminate, a
 * failure, a timeout, a reset gone wrong). Before dispatch the order is cancelled: shipment cancelled, stock
 * released, every open authorization voided. After dispatch (a capture exists: only the carrier's `shipped` makes
 * the saga capture) the capture stands and the stock is committed. Either way the order is flagged NeedsAttention.
 * Its steps are numbered after the last step applied, so a late activity of the closed workflow is fenced out.
 */
export async function RecoverOrderWorkflow(input: RecoverOrderInput): Promise<RecoveryOutcome> {
  const { orderId } = input;
  const plan = await steps.planRecovery(orderId);
  if (!plan || plan.stage === Stage.COMPLETED || plan.stage === Stage.CANCELLED) {
    return { orderId, action: 'none', reason: plan ? `already ${plan.stage}` : 'order never persisted' };
  }
  let seq = plan.stepSeq;
  const causationId = workflowInfo().workflowId;
  const next = () => ({ orderId, seq: ++seq, causationId });
  const reason = plan.dispatched
    ? `order workflow ${input.closedAs} at ${plan.stage} after dispatch: capture kept, check the shipment`
    : `order workflow ${input.closedAs} at ${plan.stage}: cancelled, stock released, authorization voided`;
  setCurrentDetails(`**${orderId}**: ${reason}`);

  if (plan.dispatched) {
    if (plan.holdsStock) await steps.commitStock(next());
    if (plan.shipmentRequested) await steps.recordShipmentStatus({ ...next(), status: ShipmentStatus.SHIPPED });
  } else {
    if (plan.shipmentRequested) await steps.cancelShipment({ ...next(), reason });
    if (plan.holdsStock) await steps.releaseStock(next());
  }
  // After dispatch an open authorization is a leftover of a re-authorization: the capture settled the current one.
  for (const { paymentId, amount } of plan.openAuthorizations) {
    await steps.voidPayment({
      ...next(),
      idempotencyKey: `${orderId}:recover:void:${paymentId}`,
      targetPaymentId: paymentId,
      customerId: plan.customerId,
      amount,
      currency: plan.currency,
      method: plan.method,
      reason,
    });
  }
  if (!plan.dispatched) await steps.cancelOrder({ ...next(), reason: CancellationReason.WORKFLOW_CLOSED });
  await steps.setNeedsAttention({ ...next(), needsAttention: true, reason });
  return { orderId, action: plan.dispatched ? 'flagged' : 'cancelled', reason };
}
