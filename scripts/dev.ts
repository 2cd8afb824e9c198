import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logger.js';
import { describeFailure } from '../src/process.js';
import { DATA_DIR, devJwtSecret, devPayloadKeys } from './lib/dev-secret.js';
import { startTemporalDevServer } from './lib/temporal-server.js';
import { provision } from './provision.js';

/**
 * The whole system for a person at a keyboard: the Temporal dev server with its Web UI (workflows kept in
 * .data/temporal.db), migrations, a seeded catalog, the worker, the outbox relay and the API. Ctrl-C stops it all.
 */
/** Stops what has started so far, newest first: Ctrl-C during start-up leaves nothing behind either. */
const stops: (() => Promise<unknown>)[] = [];
let stopping = false;
async function shutdown(code: number) {
  if (stopping) process.exit(130);
  stopping = true;
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  process.exit(code);
}
process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

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
  stops.push(() => temporal.stop());

  // Loaded only now: they need the Prisma client that provisioning generated.
  const { openResources } = await import('../src/runtime.js');
  const { startApiServer } = await import('../src/api/server.js');
  const { createOrderWorker } = await import('../src/worker/worker.js');
  const { createRelay } = await import('../src/events/relay.js');
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
  if (tracing) stops.push(() => tracing.shutdown());
  const resources = await openResources(config, 'orders-dev', tracing);
  stops.push(() => resources.close());
  const seeded = await seedCatalog(resources.db, resources.outbox);
  // One process plays every role here, so one registry and one endpoint carry all of their metrics.
  const metrics = createMetrics();
  registerStateGauges(metrics, resources.db);
  const metricsServer = await serveMetrics(config, 'api', metrics, logger);
  stops.push(() => metricsServer.close());
  const workerConnection = await connectWorker(config.TEMPORAL_ADDRESS);
  stops.push(() => workerConnection.close());
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
  stops.push(async () => {
    worker.shutdown();
    await workerRun;
  });
  const relay = createRelay(resources.db, resources.js, logger, {
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL,
    retentionMs: config.OUTBOX_RETENTION,
    onPublish: (outcome, type) => metrics.outboxPublished.inc({ type, outcome }),
  });
  relay.start();
  stops.push(() => relay.stop());
  const consumers = await startConsumers({ ...resources, config, logger, metrics });
  stops.push(() => consumers.stop());
  const api = await startApiServer({ ...resources, config, logger, metrics: metrics.registry });
  stops.push(() => api.close());

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
