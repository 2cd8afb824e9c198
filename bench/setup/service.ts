// The one bench module that imports the service's code (src/): everything else in bench/ talks to the service
// through what this returns, so a move of modules under src/ is fixed here alone.
import { randomBytes, randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { Client } from '@temporalio/client';
import { Connection } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { adjustStock } from '../../src/inventory/adjust.js';
import { createSimulatedGateway } from '../../src/payments/gateway.js';
import { startApiServer } from '../../src/api/server.js';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/config.js';
import { connectNats } from '../../src/events/nats.js';
import { createRelay, relayOptions } from '../../src/events/relay.js';
import { deleteStreams, ensureStreams } from '../../src/events/streams.js';
import { createLogger } from '../../src/logger.js';
import { openResources } from '../../src/runtime.js';
import { connectWorker } from '../../src/temporal/connection.js';
import { createOrderWorker, workerTuning, workflowsPath } from '../../src/worker/worker.js';
import { ORDER_SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes.js';
import type { Cleanup } from '../lib/cleanup.js';
import type { FloorProduct } from '../lib/pg-floor.js';
import { runWorker } from './run-worker.js';

export { connectWorker };

export interface ServiceSetup {
  databaseUrl: string;
  natsUrl: string;
  temporalAddress: string;
  eventsEnv: string;
  runId: string;
  /** WORKER_* settings (worker tuning) to measure, as the service's configuration takes them. */
  workerSettings: Record<string, string>;
}

/** The outbox relay, as the scenarios drive it: paused while the database's counters are read. */
export interface RelayControl {
  start(): void;
  stop(): Promise<void>;
}

export interface RunningService {
  namespace: string;
  client: Client;
  nats: NatsConnection;
  relay: RelayControl;
  orderWorker: Worker;
  apiUrl: string;
  config: Record<string, unknown>;
  /** Products with stock for every order of the run, in a bench warehouse. */
  seedProducts(count: number): Promise<FloorProduct[]>;
}

/** The event streams of this run's EVENTS_ENV, deleted at the end. */
export async function openStreams(natsUrl: string, eventsEnv: string, cleanup: Cleanup): Promise<void> {
  const admin = await connectNats(natsUrl, 'orders-bench-admin');
  cleanup.add('close admin NATS connection', () => admin.close());
  cleanup.add(`delete streams *_${eventsEnv}`, async () => deleteStreams(await jetstreamManager(admin), eventsEnv));
  await ensureStreams(await jetstreamManager(admin), eventsEnv);
}

/**
 * The service as deployed, in this process: its connections, the order worker (SDK default options unless WORKER_*
 * variables set them, pre-bundled workflow code), the outbox relay and the API (AUTH=off, LOG_LEVEL=silent).
 */
export async function startService(setup: ServiceSetup, cleanup: Cleanup): Promise<RunningService> {
  const config: Config = loadConfig({
    DATABASE_URL: setup.databaseUrl,
    NATS_URL: setup.natsUrl,
    TEMPORAL_ADDRESS: setup.temporalAddress,
    EVENTS_ENV: setup.eventsEnv,
    TEMPORAL_TASK_QUEUE: `bench-orders-${setup.runId}`,
    AUTH: 'off',
    // Measured as deployed: payloads encrypted.
    PAYLOAD_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString('base64')}`,
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: '100000000',
    ...setup.workerSettings,
  });
  const logger = createLogger(config.LOG_LEVEL, 'bench');
  const resources = await openResources(config, 'orders-bench', logger);
  cleanup.add('close service connections', () => resources.close());
  // openStreams connected a moment ago: NATS answers, so this resolves at once.
  const { nats, js } = await resources.events.ready;

  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: workflowsPath.replace(/\.js$/, '.ts'),
    logger: new DefaultLogger('WARN'),
  });
  const connection: NativeConnection = await connectWorker(config.TEMPORAL_ADDRESS);
  const orderWorker = await createOrderWorker({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    codec: resources.codec,
    db: resources.db,
    outbox: resources.outbox,
    gateway: createSimulatedGateway(resources.db),
    overrides: { ...workerTuning(config), workflowBundle },
  });
  runWorker('order worker', orderWorker, connection, cleanup);

  const relay = createRelay(config.DATABASE_URL, js, logger, {
    ...relayOptions(config),
  });
  cleanup.add('stop relay', () => relay.stop());
  relay.start();
  const api = await startApiServer({ ...resources, config, logger }, 0);
  cleanup.add('close API', () => api.close(2_000));

  return {
    namespace: config.TEMPORAL_NAMESPACE,
    client: resources.temporal,
    nats,
    relay,
    orderWorker,
    apiUrl: `http://127.0.0.1:${api.port}`,
    config: {
      OUTBOX_LISTEN: config.OUTBOX_LISTEN,
      OUTBOX_POLL_INTERVAL: config.OUTBOX_POLL_INTERVAL,
      ORDER_CREATE_WAIT: config.ORDER_CREATE_WAIT,
      AUTH: config.AUTH,
      LOG_LEVEL: config.LOG_LEVEL,
    },
    async seedProducts(count) {
      const products: FloorProduct[] = [];
      for (let index = 0; index < count; index += 1) {
        const id = randomUUID();
        await resources.db.product.create({
          data: {
            id,
            sku: `BENCH-${index}-${id.slice(0, 8)}`,
            name: `Bench product ${index}`,
            unitPrice: 1000,
            currency: 'USD',
          },
        });
        await adjustStock(resources.db, resources.outbox, {
          productId: id,
          warehouseId: 'WH-BENCH',
          quantityChange: 1_000_000,
          adjustmentId: `bench:${id}`,
          causationId: 'bench',
        });
        products.push({ id, warehouseId: 'WH-BENCH' });
      }
      return products;
    },
  };
}

// temporal.api.enums.v1.IndexedValueType, by number: @temporalio/proto is not one of our direct dependencies.
const INDEXED_TYPE = { KEYWORD: 2, INT: 3, BOOL: 5 } as const;

/** The order's search attributes on a server the bench did not start (the dev server gets them on its command line). */
export async function registerSearchAttributes(address: string, namespace: string): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 5_000 });
  try {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    const missing = ORDER_SEARCH_ATTRIBUTES.filter((key) => !(key.name in (customAttributes ?? {})));
    if (missing.length === 0) return;
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((key) => [key.name, INDEXED_TYPE[key.type]])),
    });
  } finally {
    await connection.close();
  }
}
