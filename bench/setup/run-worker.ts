import type { NativeConnection, Worker } from '@temporalio/worker';
import type { Cleanup } from '../lib/cleanup.js';

/** Runs a worker until the clean-up shuts it down and closes its connection. */
export function runWorker(name: string, worker: Worker, connection: NativeConnection, cleanup: Cleanup): void {
  const running = worker.run();
  cleanup.add(`stop ${name}`, async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await running.catch(() => undefined);
    await connection.close();
  });
}
