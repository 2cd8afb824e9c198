import { Runtime } from '@temporalio/worker';
import { startReservationSweeper } from '../inventory/sweep.js';
import { createSimulatedGateway } from '../payments/gateway.js';
import { startConsumers } from '../events/consumers/index.js';
import { runProcess } from '../process.js';
import { openResources } from '../runtime.js';
import { connectWorker } from '../temporal/connection.js';
import { createOrderWorker } from './worker.js';

runProcess('worker', async (config, logger) => {
  // The SDK would start draining the worker on SIGINT/SIGTERM by itself, behind runProcess's back: runProcess owns
  // the shutdown (consumers first, then the worker, waiting for the activities it runs).
  Runtime.install({ shutdownSignals: [] });
  const resources = await openResources(config, 'orders-worker');
  const connection = await connectWorker(config.TEMPORAL_ADDRESS);
  const worker = await createOrderWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    db: resources.db,
    outbox: resources.outbox,
    gateway: createSimulatedGateway(resources.db),
  });
  const sweeper = startReservationSweeper(resources.db, config.RESERVATION_SWEEP_INTERVAL, logger);
  const running = worker.run();
  const consumers = await startConsumers({ ...resources, config, logger });
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker running');
  return async () => {
    await sweeper.stop();
    await consumers.stop();
    worker.shutdown();
    await running;
    await connection.close();
    await resources.close();
  };
});
