import type { Client } from '@temporalio/client';
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
} from '@temporalio/client';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/common';
import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import { orderTotal, Stage, statusOf } from '../domain/order.js';
import type { OrderTimings, OrderWorkflowInput } from '../workflows/messages.js';
import {
  awaitOutcomeUpdate,
  ORDER_WORKFLOW_TYPE,
  orderWorkflowId,
  restockNoticeSignal,
} from '../workflows/messages.js';
import {
  CustomerIdKey,
  NeedsAttentionKey,
  OrderStageKey,
  OrderStatusKey,
  OrderTotalKey,
} from '../workflows/search-attributes.js';

/** Commands to order workflows that do not come from one HTTP request: starting one, waking the backordered. */

export function orderTimings(config: Config): OrderTimings {
  return {
    reservationHoldMs: config.RESERVATION_HOLD,
    authorizationHoldMs: config.AUTHORIZATION_HOLD,
    reauthorizeBeforeMs: config.REAUTHORIZE_BEFORE,
    backorderWindowMs: config.BACKORDER_WINDOW,
    dispatchDeadlineMs: config.DISPATCH_DEADLINE,
    compensationMaxAttempts: config.COMPENSATION_MAX_ATTEMPTS,
  };
}

function startOptions(config: Config, order: Omit<OrderWorkflowInput, 'timings'>) {
  const { orderId, customerId, lines, currency } = order;
  const total = orderTotal(lines);
  return {
    workflowId: orderWorkflowId(orderId),
    workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
    workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [{ ...order, timings: orderTimings(config) }] as [OrderWorkflowInput],
    typedSearchAttributes: [
      { key: OrderStatusKey, value: statusOf(Stage.PENDING) },
      { key: OrderStageKey, value: Stage.PENDING },
      { key: CustomerIdKey, value: customerId },
      { key: OrderTotalKey, value: total },
      { key: NeedsAttentionKey, value: false },
    ],
    staticSummary: `Order ${orderId}: ${lines.length} line(s), ${total} ${currency} minor units`,
    staticDetails: `Customer ${customerId}\n${lines.map((line) => `- ${line.quantity} x ${line.sku}`).join('\n')}`,
  };
}

/**
 * Starts the order's saga with the configured timings, searchable by status, stage, customer and total. Once per
 * order id, ever: a second start for the same id (a retried request whose first answer was lost) joins the running
 * workflow, or finds the closed one, and starts nothing.
 */
export async function startOrderWorkflow(
  temporal: Client,
  config: Config,
  order: Omit<OrderWorkflowInput, 'timings'>
): Promise<void> {
  await temporal.workflow.start(ORDER_WORKFLOW_TYPE, startOptions(config, order)).catch((error: unknown) => {
    // The order's workflow ran and closed already: it is this order, not a reason to start another.
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  });
}

/**
 * Starts the order's saga like startOrderWorkflow and waits up to `waitMs` for its checkout outcome, in one call:
 * Update-with-Start of `awaitOutcome`, which answers once the order is confirmed, backordered or cancelled, so the
 * caller needs no polling: the order's row holds the outcome when this returns in time. The same conflict and reuse
 * policies make a retried request join the first order; `updateId` (the request's operation) makes its update the
 * same one too.
 *
 * When the wait runs out (or the outcome cannot be read) the saga is started the plain way, which joins it if it was
 * started already: the caller answers 202 for an order whose workflow certainly exists, never an error that would let
 * a retry with the same Idempotency-Key be treated as a new request.
 */
export async function placeOrderWorkflow(
  temporal: Client,
  config: Config,
  order: Omit<OrderWorkflowInput, 'timings'>,
  { updateId, waitMs }: { updateId: string; waitMs: number }
): Promise<void> {
  const startWorkflowOperation = new WithStartWorkflowOperation(ORDER_WORKFLOW_TYPE, startOptions(config, order));
  try {
    await temporal.withAbortSignal(AbortSignal.timeout(waitMs), () =>
      temporal.workflow.executeUpdateWithStart(awaitOutcomeUpdate, { updateId, startWorkflowOperation })
    );
  } catch (error) {
    // The order's workflow ran and closed already: the order's row holds its outcome.
    if (error instanceof WorkflowExecutionAlreadyStartedError) return;
    await startOrderWorkflow(temporal, config, order);
  }
}

/** Wakes every backordered order that waits for this product; returns how many were asked. */
export async function wakeBackorderedOrders(db: Db, temporal: Client, productId: string): Promise<number> {
  const waiting = await db.order.findMany({
    where: { stage: Stage.BACKORDERED, items: { some: { productId } } },
    select: { id: true },
  });
  await Promise.all(
    waiting.map((order) =>
      temporal.workflow
        .getHandle(orderWorkflowId(order.id))
        .signal(restockNoticeSignal, { productId })
        .catch((error: unknown) => {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        })
    )
  );
  return waiting.length;
}
