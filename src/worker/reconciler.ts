import type { Client } from '@temporalio/client';
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError } from '@temporalio/client';
import type { Db } from '../db/client.js';
import { ordersInFlight } from '../orders/recovery.js';
import type { RecoverOrderInput } from '../workflows/messages.js';
import { orderWorkflowId, RECOVER_ORDER_WORKFLOW_TYPE, recoverWorkflowId } from '../workflows/messages.js';

export interface ReconcilerDeps {
  client: Client;
  db: Db;
  /** Only orders whose workflow ran on this task queue are this worker's to repair. */
  taskQueue: string;
  /** How many in-flight orders one pass examines, oldest change first. */
  batch?: number;
}

export interface ReconcilePass {
  examined: number;
  /** Orders a recovery workflow was started for in this pass. */
  recovering: string[];
}

/** How the order's workflow closed, or undefined while it still runs (or runs on another task queue). */
async function closedAs(deps: ReconcilerDeps, orderId: string): Promise<string | undefined> {
  try {
    const description = await deps.client.workflow.getHandle(orderWorkflowId(orderId)).describe();
    if (description.taskQueue !== deps.taskQueue) return undefined;
    return description.status.name === 'RUNNING' ? undefined : description.status.name;
  } catch (error) {
    // Only a history past the namespace's retention is gone; the task queue is unknown, so leave it to an operator.
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

/**
 * One reconciliation pass. Candidates come from the orders table (stage neither COMPLETED nor CANCELLED) rather
 * than a visibility scan of every closed workflow: the table is the truth the customer sees and holds only the
 * orders in flight, and Temporal's description of each says whether its workflow still runs. A closed one gets a
 * RecoverOrderWorkflow with id `recover-<orderId>` and REJECT_DUPLICATE, so an order is repaired once however many
 * workers or passes find it.
 */
export async function reconcileOrders(deps: ReconcilerDeps): Promise<ReconcilePass> {
  const candidates = await ordersInFlight(deps.db, deps.batch ?? 500);
  const recovering: string[] = [];
  for (const orderId of candidates) {
    const closed = await closedAs(deps, orderId);
    if (!closed) continue;
    const input: RecoverOrderInput = { orderId, closedAs: closed };
    try {
      await deps.client.workflow.start(RECOVER_ORDER_WORKFLOW_TYPE, {
        workflowId: recoverWorkflowId(orderId),
        taskQueue: deps.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      recovering.push(orderId);
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }
  return { examined: candidates.length, recovering };
}
