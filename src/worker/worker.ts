import { fileURLToPath } from 'node:url';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import type { ActivityDeps } from '../activities/index.js';
import { createActivities } from '../activities/index.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.js', import.meta.url));

export interface OrderWorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** Tests pass a pre-built bundle (bundled once per run) or wrap activities to inject faults. */
  overrides?: Partial<WorkerOptions>;
}

/** The Temporal worker: OrderWorkflow plus every activity, on the `orders` task queue. */
export async function createOrderWorker(options: OrderWorkerOptions): Promise<Worker> {
  const { connection, namespace, taskQueue, overrides, ...deps } = options;
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    ...(overrides?.workflowBundle ? {} : { workflowsPath: resolveWorkflowsPath() }),
    activities: createActivities(deps),
    // On shutdown running activities may finish (a step is one short transaction) before they are cancelled.
    shutdownGraceTime: '30s',
    ...overrides,
  });
}

/** Under tsx the sources are .ts files; compiled, they are .js. */
function resolveWorkflowsPath(): string {
  return import.meta.url.endsWith('.ts') ? workflowsPath.replace(/\.js$/, '.ts') : workflowsPath;
}
