import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Runtime } from '@temporalio/worker';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logger.js';
import { describeFailure } from '../src/process.js';
import { DATA_DIR, devJwtSecret, devPayloadKeys } from './lib/dev-secret.js';
import { shutdownOnSignals } from './lib/supervision.js';
import { startTemporalDevServer } from './lib/temporal-server.js';
import { provision } from './provision.js';

/**
 * The whole system for a person at a keyboard: the Temporal dev server with its Web UI (workflows kept in
 * .data/temporal.db), migrations, a seeded catalog, the worker, the outbox relay and the API. Ctrl-C stops it all.
 */
const { defer, shutdown } = shutdownOnSignals();

async function main() {
  const config = loadConfig({
    ...process.env,
    JWT_SECRET: devJwtSecret(),
    PAYLOAD_ENCRYPTION_KEYS: devPayloadKeys(),
  });
  const logger = createLogger(config.LOG_LEVEL, 'dev');
  mkdirSync(DATA_DIR, { recursive: true });
  const { temporalCli } = await provision(config);

  const [host, port] = config.TEMPORAL_ADDRESS.split(':');
  if (host !== '127.0.0.1' && host !== 'localhost')
    throw new Error(`npm run dev starts its own Temporal; unset TEMPORAL_ADDRESS (${config.TEMPORAL_ADDRESS})`);
  logger.info('starting the Temporal dev server');
  const temporal = await startTemporalDevServer({
    cli: temporalCli,
    port: Number(port),
    uiPort: Number(port) + 1000,
    dbFile: join(DATA_DIR, 'temporal.db'),
    logFile: join(DATA_DIR, 'temporal.log'),
  });
  defer(() => temporal.stop());

  // Loaded only now: they need the Prisma client that provisioning generated.
  const { openResources } = await import('../src/runtime.js');
  const { startApiServer } = await import('../src/api/server.js');
  const { createOrderWorker } = await import('../src/worker/worker.js');
  const { startRelayWhenConnected, relayOptions } = await import('../src/events/relay.js');
  const { startReservationSweeper } = await import('../src/inventory/sweep.js');
  const { startConsumers } = await import('../src/events/consumers/index.js');
  const { createSimulatedGateway } = await import('../src/payments/gateway.js');
  const { connectWorker } = await import('../src/temporal/connection.js');
  const { mintToken } = await import('../src/api/auth.js');
  const { seedCatalog } = await import('./lib/seed.js');
  const { createMetrics, registerStateGauges } = await import('../src/metrics/metrics.js');
  const { serveMetrics } = await import('../src/metrics/process.js');
  const { openTracing } = await import('../src/tracing/open.js');

  // OTEL_EXPORTER_OTLP_ENDPOINT=... npm run dev traces every role of this one process (README, Operating it).
  const tracing = await openTracing(config, 'dev');
  if (tracing) defer(() => tracing.shutdown());
  const resources = await openResources(config, 'orders-dev', logger, tracing);
  defer(() => resources.close());
  const seeded = await seedCatalog(resources.db, resources.outbox);
  // Ctrl-C stops everything in order (see `shutdown`): the SDK must not start draining the worker on its own.
  Runtime.install({ shutdownSignals: [] });
  // One process plays every role here, so one registry and one endpoint carry all of their metrics.
  const metrics = createMetrics();
  registerStateGauges(metrics, resources.db);
  const metricsServer = await serveMetrics(config, 'api', metrics, logger);
  defer(() => metricsServer.close());
  const workerConnection = await connectWorker(config.TEMPORAL_ADDRESS);
  defer(() => workerConnection.close());
  const worker = await createOrderWorker({
    connection: workerConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    codec: resources.codec,
    db: resources.db,
    outbox: resources.outbox,
    gateway: createSimulatedGateway(resources.db),
    metrics,
    ...(tracing ? { tracing } : {}),
  });
  const workerRun = worker.run();
  defer(async () => {
    worker.shutdown();
    await workerRun;
  });
  // The worker process runs the sweeper in production; here the dev process is the worker.
  const sweeper = startReservationSweeper(resources.db, config.RESERVATION_SWEEP_INTERVAL, logger);
  defer(() => sweeper.stop());
  // Like the worker and the relay processes: orders are taken without NATS, events flow once it answers.
  const relay = startRelayWhenConnected(config.DATABASE_URL, resources.events, logger, {
    ...relayOptions(config),
    onPublish: (outcome, type) => metrics.outboxPublished.inc({ type, outcome }),
  });
  defer(() => relay.stop());
  const consumers = resources.events.whenReady('inbound consumers', ({ nats, js }) =>
    startConsumers({ ...resources, nats, js, config, logger, metrics })
  );
  defer(() => consumers.stop());
  const api = await startApiServer({ ...resources, config, logger, metrics: metrics.registry });
  defer(() => api.close());

  const token = await mintToken(config.JWT_SECRET!, 'operator', 'dev-operator');
  process.stdout.write(
    [
      '',
      `  API          http://localhost:${api.port}/v1   (docs: http://localhost:${api.port}/docs)`,
      `  Temporal UI  http://localhost:${Number(port) + 1000}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows`,
      `  Metrics      http://${config.METRICS_HOST}:${metricsServer.port}/metrics   (npm run ops -- --help for tooling)`,
      `  Events       subjects *.${config.EVENTS_ENV}.events  (npm run events:tail)`,
      `  Catalog      ${seeded ? `seeded ${seeded} products` : 'already seeded'}`,
      '',
      `  export TOKEN=${token}`,
      '',
      '  Ctrl-C stops everything.',
      '',
    ].join('\n')
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`dev: ${describeFailure(error)}\n`);
  void shutdown(1);
});
