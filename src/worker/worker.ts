import { fileURLToPath } from 'node:url';
import type { PayloadCodec } from '@temporalio/common';
import type { NativeConnection, WorkerOptions } from '@temporalio/worker';
import { Worker } from '@temporalio/worker';
import type { ActivityDeps } from '../activities/index.js';
import type { Config } from '../config/config.js';
import { createActivities } from '../activities/index.js';
import { dataConverter } from '../temporal/payload-codec.js';
import { activityMetrics } from '../metrics/activities.js';
import type { ServiceMetrics } from '../metrics/metrics.js';
import type { Tracing } from '../tracing/tracing.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.js', import.meta.url));

export interface OrderWorkerOptions extends ActivityDeps {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** The client's codec (Resources.codec): the worker must read and write the same encrypted payloads. */
  codec: PayloadCodec | undefined;
  /** Tests pass a pre-built bundle (bundled once per run) or wrap activities to inject faults. */
  overrides?: Partial<WorkerOptions>;
  /** Counts activity and compensation failures and observes confirmation latency. */
  metrics?: ServiceMetrics;
  /** Spans for every workflow and activity task (the workflow's interceptors are bundled with it). */
  tracing?: Tracing;
}

/** The worker options set in the configuration (WORKER_*); the rest keep the SDK's defaults. */
export function workerTuning(config: Config): Partial<WorkerOptions> {
  const tuning: Partial<WorkerOptions> = {
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentLocalActivityExecutions: config.WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES,
    maxConcurrentWorkflowTaskPolls: config.WORKER_WORKFLOW_TASK_POLLERS,
    maxConcurrentActivityTaskPolls: config.WORKER_ACTIVITY_TASK_POLLERS,
  };
  // An option given as undefined would still count as set for the SDK's checks: leave unset ones out.
  return Object.fromEntries(Object.entries(tuning).filter(([, value]) => value !== undefined));
}

/** The Temporal worker: OrderWorkflow plus every activity, on the `orders` task queue. */
export async function createOrderWorker(options: OrderWorkerOptions): Promise<Worker> {
  const { connection, namespace, taskQueue, codec, overrides, metrics, tracing, ...deps } = options;
  return Worker.create({
    connection,
    namespace,
    taskQueue,
    dataConverter: dataConverter(codec),
    ...(overrides?.workflowBundle ? {} : { workflowsPath: resolveWorkflowsPath() }),
    activities: createActivities(deps),
    ...(metrics ? { interceptors: { activity: [activityMetrics(metrics, deps.db)] } } : {}),
    // On shutdown running activities may finish (a step is one short transaction) before they are cancelled.
    shutdownGraceTime: '30s',
    ...(tracing ? { plugins: [tracing.temporal] } : {}),
    ...overrides,
  });
}

/** Under tsx the sources are .ts files; compiled, they are .js. */
function resolveWorkflowsPath(): string {
  return import.meta.url.endsWith('.ts') ? workflowsPath.replace(/\.js$/, '.ts') : workflowsPath;
}
