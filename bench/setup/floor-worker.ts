import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { Context } from '@temporalio/activity';
import type { Worker } from '@temporalio/worker';
import { bundleWorkflowCode, DefaultLogger, Worker as TemporalWorker } from '@temporalio/worker';
import type { Cleanup } from '../lib/cleanup.js';
import type { FloorActivities } from '../workflows/floor.js';
import type { NaiveCheckoutActivities } from '../workflows/naive.js';
import { runWorker } from './run-worker.js';
import { connectWorker } from './service.js';

export interface FloorWorkerSetup {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Core NATS subject on which a floor's confirming activity publishes its workflow id. */
  confirmSubject: string;
  nats: NatsConnection;
}

/**
 * One worker for every floor workflow (bench/workflows), with the SDK's default options as the order worker has:
 * a floor differs from the order only by what its activities do, which is nothing.
 */
export async function startFloorWorker(setup: FloorWorkerSetup, cleanup: Cleanup): Promise<Worker> {
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../workflows/index.ts', import.meta.url)),
    logger: new DefaultLogger('WARN'),
  });
  const confirmed = () => {
    const workflowId = Context.current().info.workflowExecution?.workflowId;
    if (workflowId) setup.nats.publish(setup.confirmSubject, workflowId);
  };
  const nothing = () => Promise.resolve();
  const floor: FloorActivities = {
    noop(step, confirm) {
      if (confirm) confirmed();
      return Promise.resolve(step);
    },
  };
  const naive: NaiveCheckoutActivities = {
    createOrder: nothing,
    reserveInventory: nothing,
    authorizePayment: nothing,
    sendNotification: nothing,
    confirmOrder() {
      confirmed();
      return Promise.resolve();
    },
  };
  const connection = await connectWorker(setup.address);
  const worker = await TemporalWorker.create({
    connection,
    namespace: setup.namespace,
    taskQueue: setup.taskQueue,
    workflowBundle,
    activities: { ...floor, ...naive },
  });
  runWorker('floor worker', worker, connection, cleanup);
  return worker;
}
