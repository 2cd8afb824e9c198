import { sleep } from '@temporalio/workflow';

/** A deliberately incompatible change: starts a timer where the recorded history scheduled an activity. */
export async function OrderWorkflow(): Promise<void> {
  await sleep('1 second');
}
