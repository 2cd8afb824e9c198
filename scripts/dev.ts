import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { createLogger } from '../src/logger.js';
import { describeFailure } from '../src/process.js';
import { DATA_DIR, devJwtSecret } from './lib/dev-secret.js';
import { shutdownOnSignals } from './lib/supervision.js';
import { startTemporalDevServer } from './lib/temporal-server.js';
import { provision } from './provision.js';

/**
 * The whole system for a person at a keyboard: the Temporal dev server with its Web UI (workflows kept in
 * .data/temporal.db), migrations, a seeded catalog, the worker, the outbox relay and the API. Ctrl-C stops it all.
 */
const { defer, shutdown } = shutdownOnSignals();

async function main() {
  const config = loadConfig({ ...process.env, JWT_SECRET: devJwtSecret() });
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
  const { createRelay } = await import('../src/events/relay.js');
  const { startConsumers } = await import('../src/events/consumers/index.js');
  const { createSimulatedGateway } = await import('../src/activities/payment-gateway.js');
  const { connectWorker } = await import('../src/temporal/connection.js');
  const { mintToken } = await import('../src/api/auth.js');
  const { seedCatalog } = await import('./lib/seed.js');

  const resources = await openResources(config, 'orders-dev');
  defer(() => resources.close());
  const seeded = await seedCatalog(resources.db, resources.outbox);
  const workerConnection = await connectWorker(config.TEMPORAL_ADDRESS);
  defer(() => workerConnection.close());
  const worker = await createOrderWorker({
    connection: workerConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    db: resources.db,
    outbox: resources.outbox,
    gateway: createSimulatedGateway(resources.db),
  });
  const workerRun = worker.run();
  defer(async () => {
    worker.shutdown();
    await workerRun;
  });
  const relay = createRelay(resources.db, resources.js, logger, {
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL,
    retentionMs: config.OUTBOX_RETENTION,
  });
  relay.start();
  defer(() => relay.stop());
  const consumers = await startConsumers({ ...resources, config, logger });
  defer(() => consumers.stop());
  const api = await startApiServer({ ...resources, config, logger });
  defer(() => api.close());

  const token = await mintToken(config.JWT_SECRET!, 'operator', 'dev-operator');
  process.stdout.write(
    [
      '',
      `  API          http://localhost:${api.port}/v1   (docs: http://localhost:${api.port}/docs)`,
      `  Temporal UI  http://localhost:${Number(port) + 1000}/namespaces/${config.TEMPORAL_NAMESPACE}/workflows`,
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
