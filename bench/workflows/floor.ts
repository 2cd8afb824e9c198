// The orchestration floor (F-T): the shape of an order's checkout without its work. Runs in Temporal's
// deterministic sandbox, bundled with the other floors (index.ts); nothing here may import Node built-ins.
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

export interface FloorActivities {
  /**
   * Does nothing; with `confirm` it also publishes the workflow id on core NATS: the floor's counterpart of the
   * order's confirmOrder committing its row (the driver measures to that moment and moves on, as for orders).
   */
  noop(step: number, confirm: boolean): Promise<number>;
}

export interface FloorInput {
  /** Regular activities, run one after the other (the order's activity tasks until CONFIRMED). */
  activities: number;
  /** Local activities, run after the regular activity whose index is in `localAfter` (the order's recordStage). */
  localAfter: number[];
  /** Index of the regular activity that announces the confirmation point. */
  confirmAfter: number;
}

// Same timeout and retry policy style as the order's forward steps (`steps` in src/workflows/activity-proxies.ts).
const steps = proxyActivities<FloorActivities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

const bookkeeping = proxyLocalActivities<FloorActivities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

export async function FloorWorkflow(input: FloorInput): Promise<number> {
  let sum = 0;
  for (let step = 0; step < input.activities; step += 1) {
    sum += await steps.noop(step, step === input.confirmAfter);
    for (const after of input.localAfter) if (after === step) sum += await bookkeeping.noop(step, false);
  }
  return sum;
}
