/** Who and what caused a change, carried into every event it publishes. */
export interface Causation {
  causationId: string;
  traceparent?: string;
}

/**
 * The input of a fenced step: one state change to an order, numbered by the workflow. A step applies only if its
 * `seq` is newer than the last one applied to the order (see `fencedStep`).
 */
export interface StepInput extends Causation {
  orderId: string;
  seq: number;
}
