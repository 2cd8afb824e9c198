import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { orderWorkflowId } from '../../workflows/messages.js';

/** Keeps a handler (and the inbox transaction around it) well inside the consumer's ack wait. */
export const SIGNAL_DEADLINE_MS = 10_000;

/**
 * Signals an order's workflow. Returns false when the order's workflow has already finished: a late carrier
 * update or cancellation then has nothing left to change, which is not an error.
 */
export async function signalOrder<Args extends unknown[]>(
  temporal: Client,
  orderId: string,
  signal: SignalDefinition<Args>,
  ...args: Args
): Promise<boolean> {
  try {
    await temporal.withDeadline(Date.now() + SIGNAL_DEADLINE_MS, () =>
      temporal.workflow.getHandle(orderWorkflowId(orderId)).signal(signal, ...args)
    );
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}
