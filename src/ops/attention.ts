import type { Client } from '@temporalio/client';
import type { Db } from '../db/client.js';
import type { RecoveryOutcome } from '../workflows/messages.js';
import { getOrderQuery, orderWorkflowId, recoverWorkflowId } from '../workflows/messages.js';

export interface AttentionOrder {
  orderId: string;
  stage: string;
  status: string;
  updatedAt: Date;
  reason: string;
}

/**
 * How long one order's workflow may take to answer: a workflow whose workers are gone (a stopped deployment, an old
 * task queue) never answers a query, and one such order must not hold up the whole listing.
 */
const QUERY_DEADLINE_MS = 5_000;

/** The reconciler's reason, when it repaired the order after its workflow closed early. */
async function recoveryReason(temporal: Client, orderId: string): Promise<string | undefined> {
  const recovery = temporal.workflow.getHandle(recoverWorkflowId(orderId));
  const status = await recovery.describe().then(
    (description) => description.status.name,
    () => undefined
  );
  if (status !== 'COMPLETED') return undefined;
  return ((await recovery.result()) as RecoveryOutcome).reason;
}

/**
 * Orders flagged NeedsAttention, oldest first. The reason lives in the workflow's state (the row has only the
 * flag), so each order's workflow is queried; an unreachable one says so instead of hiding the order.
 */
export async function listAttention(db: Db, temporal: Client): Promise<AttentionOrder[]> {
  const orders = await db.order.findMany({
    where: { needsAttention: true },
    orderBy: { updatedAt: 'asc' },
    select: { id: true, stage: true, status: true, updatedAt: true },
  });
  return Promise.all(
    orders.map(async (order) => {
      const reason =
        (await recoveryReason(temporal, order.id)) ??
        (await temporal.connection
          .withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
            temporal.workflow.getHandle(orderWorkflowId(order.id)).query(getOrderQuery)
          )
          .then(
            (view) => view.attentionReason ?? '(no reason recorded)',
            (error: unknown) => `(workflow not queryable: ${error instanceof Error ? error.message : String(error)})`
          ));
      return { orderId: order.id, stage: order.stage, status: order.status, updatedAt: order.updatedAt, reason };
    })
  );
}
