import { Runtime } from '@temporalio/worker';
import { startReservationSweeper } from '../inventory/sweep.js';
import { createSimulatedGateway } from '../payments/gateway.js';
import { startConsumers } from '../events/consumers/index.js';
import { createMetrics } from '../metrics/metrics.js';
import { serveMetrics } from '../metrics/process.js';
import { runProcess } from '../process.js';
import { openResources } from '../runtime.js';
import { openTracing } from '../tracing/open.js';
import { connectWorker } from '../temporal/connection.js';
import { reconcileOrders } from './reconciler.js';
import { createOrderWorker, workerTuning } from './worker.js';

runProcess('worker', async (config, logger) => {
  // The core runtime's own metrics (task slots, poll and schedule-to-start latency, sticky cache) are served by
  // the SDK's Rust core; it must be installed before the first connection. The SDK would also start draining the
  // worker on SIGINT/SIGTERM by itself, behind runProcess's back: runProcess owns the shutdown (consumers first,
  // then the worker, waiting for the activities it runs).
  Runtime.install({
    shutdownSignals: [],
    telemetryOptions: {
      metrics: { prometheus: { bindAddress: `${config.METRICS_HOST}:${config.TEMPORAL_METRICS_PORT}` } },
    },
  });
  const tracing = await openTracing(config, 'worker');
  const resources = await openResources(config, 'orders-worker', logger, tracing);
  const metrics = createMetrics();
  const metricsServer = await serveMetrics(config, 'worker', metrics, logger);
  const connection = await connectWorker(config.TEMPORAL_ADDRESS);
  const worker = await createOrderWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    codec: resources.codec,
    db: resources.db,
    outbox: resources.outbox,
    gateway: createSimulatedGateway(resources.db),
    overrides: workerTuning(config),
    metrics,
    ...(tracing ? { tracing } : {}),
  });
  const sweeper = startReservationSweeper(resources.db, config.RESERVATION_SWEEP_INTERVAL, logger);
  // A loop in the worker rather than a Temporal schedule: like the sweeper it needs no registration or migration,
  // it stops with the worker it repairs for, and running it in every worker is safe (recovery ids are unique).
  let reconciling = false;
  const reconciler = setInterval(() => {
    if (reconciling) return;
    reconciling = true;
    reconcileOrders({ client: resources.temporal, db: resources.db, taskQueue: config.TEMPORAL_TASK_QUEUE })
      .then(
        ({ recovering }) =>
          recovering.length > 0 && logger.warn({ orders: recovering }, 'recovering orders whose workflow closed'),
        (error: unknown) => logger.warn({ err: String(error) }, 'reconciliation failed')
      )
      .finally(() => (reconciling = false));
  }, config.RECONCILE_INTERVAL);
  const running = worker.run();
  // The saga needs no NATS (its events wait in the outbox): the consumers start once NATS is there.
  const consumers = resources.events.whenReady('inbound consumers', ({ nats, js }) =>
    startConsumers({ ...resources, nats, js, config, logger, metrics })
  );
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker running');
  return async () => {
    await sweeper.stop();
    clearInterval(reconciler);
    await consumers.stop();
    worker.shutdown();
    await running;
    await connection.close();
    await metricsServer.close();
    await resources.close();
    await tracing?.shutdown();
  };
});
