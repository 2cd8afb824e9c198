import { releaseExpiredReservations } from '../inventory/sweep.js';
import { createSimulatedGateway } from '../payments/gateway.js';
import { startConsumers } from '../events/consumers/index.js';
import { runProcess } from '../process.js';
import { openResources } from '../runtime.js';
import { connectWorker } from '../temporal/connection.js';
import { createOrderWorker } from './worker.js';

runProcess('worker', async (config, logger) => {
  const resources = await openResources(config, 'orders-worker');
  const connection = await connectWorker(config.TEMPORAL_ADDRESS);
  const worker = await createOrderWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    codec: resources.codec,
    db: resources.db,
    outbox: resources.outbox,
    gateway: createSimulatedGateway(resources.db),
  });
  const sweeper = setInterval(() => {
    releaseExpiredReservations(resources.db).then(
      (count) => count > 0 && logger.info({ count }, 'released expired reservations'),
      (error: unknown) => logger.warn({ err: String(error) }, 'reservation sweep failed')
    );
  }, config.RESERVATION_SWEEP_INTERVAL);
  const running = worker.run();
  const consumers = await startConsumers({ ...resources, config, logger });
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker running');
  return async () => {
    clearInterval(sweeper);
    await consumers.stop();
    worker.shutdown();
    await running;
    await connection.close();
    await resources.close();
  };
});
