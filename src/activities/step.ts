import type { Tx } from '../db/client.js';

/**
 * Every state-changing activity carries the workflow's step sequence number. A step applies only if it is newer
 * than the last one applied to the order, so a retried attempt of a step that already committed, or a late
 * attempt overtaken by a later step, changes nothing.
 *
 * Returns false when the step is stale or already applied.
 */
export async function claimStep(tx: Tx, orderId: string, seq: number): Promise<boolean> {
  const claimed = await tx.$executeRaw`
    UPDATE orders SET step_seq = ${seq}, updated_at = now() WHERE id = ${orderId}::uuid AND step_seq < ${seq}`;
  return claimed === 1;
}

/** Who and what caused a step, carried into every event it publishes. */
export interface Causation {
  causationId: string;
  traceparent?: string;
}

export interface StepInput extends Causation {
  orderId: string;
  seq: number;
}
