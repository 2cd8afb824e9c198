import { randomUUID } from 'node:crypto';
import type { JsMsg } from '@nats-io/jetstream';
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { inject } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { adjustStock } from '../../src/inventory/adjust.js';
import { createSimulatedGateway } from '../../src/payments/gateway.js';
import { mintToken } from '../../src/api/auth.js';
import type { RunningApi } from '../../src/api/server.js';
import { startApiServer } from '../../src/api/server.js';
import type { Config, EventContext } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/config.js';
import type { CloudEvent } from '../../src/events/envelope.js';
import type { NatsClients } from '../../src/events/nats.js';
import type { Relay } from '../../src/events/relay.js';
import { createRelay, relayOptions } from '../../src/events/relay.js';
import { streamName } from '../../src/events/streams.js';
import type { Logger } from '../../src/logger.js';
import { createLogger } from '../../src/logger.js';
import { activityMetrics } from '../../src/metrics/activities.js';
import { createMetrics, registerStateGauges } from '../../src/metrics/metrics.js';
import { startMetricsServer } from '../../src/metrics/server.js';
import type { Resources } from '../../src/runtime.js';
import { openResources } from '../../src/runtime.js';
import { connectWorker } from '../../src/temporal/connection.js';
import { dataConverter } from '../../src/temporal/payload-codec.js';
import type { Tracing } from '../../src/tracing/tracing.js';
import { workflowsPath } from '../../src/worker/worker.js';

export const JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
export const SERVICE_API_KEY = 'test-service-key-0123456789';
/**
 * Fixed, so histories recorded by the tests (test/histories/encrypted) replay in every later run; a test key only,
 * never used anywhere else.
 */
export const TEST_PAYLOAD_KEYS = 'test-2026-12:dGVzdC1vbmx5LWtleS1mb3ItZmxvd21hcnQtdGVzdHM=';

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** Bundled once per test file; every worker of the file reuses it. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: workflowsPath.replace(/\.js$/, '.ts'),
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

let tracedBundle: Promise<WorkflowBundleWithSourceMap> | undefined;
/** The bundle with the tracing plugin's workflow interceptors, bundled once per test file that needs it. */
function tracedWorkflowBundle(tracing: Tracing): Promise<WorkflowBundleWithSourceMap> {
  tracedBundle ??= bundleWorkflowCode({
    workflowsPath: workflowsPath.replace(/\.js$/, '.ts'),
    logger: new DefaultLogger('WARN'),
    plugins: [tracing.temporal],
  });
  return tracedBundle;
}

let runtimeInstalled = false;
function quietRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
}

export type ActivityMap = ReturnType<typeof createActivities>;

export interface SystemOptions {
  config?: Record<string, string>;
  /** Wraps the real activities, e.g. to make one fail a few times. */
  activities?: (real: ActivityMap) => ActivityMap;
  /** Extra worker options, e.g. `maxCachedWorkflows: 0`. */
  worker?: { maxCachedWorkflows?: number };
  api?: boolean;
  relay?: boolean;
  /** Traces client, workflows, activities, SQL, HTTP and events (the workflow bundle gains its interceptors). */
  tracing?: Tracing;
  /** Where the API, relay and connections log; by default nowhere (LOG_LEVEL silent). */
  logger?: Logger;
}

/** The process's resources with NATS connected (the test servers always run it). */
export type TestResources = Resources & NatsClients;

export interface TestSystem {
  config: Config;
  resources: TestResources;
  api?: RunningApi;
  baseUrl: string;
  relay?: Relay;
  /** The metrics endpoint of this in-process deployment (every role's instruments in one registry). */
  metricsUrl: string;
  tokens: { operator: string; service: string; customer: (customerId: string) => Promise<string> };
  startWorker(options?: {
    maxCachedWorkflows?: number;
    activities?: (real: ActivityMap) => ActivityMap;
  }): Promise<Worker>;
  stopWorkers(): Promise<void>;
  /** The in-process workers running now. */
  workers(): Worker[];
  stop(): Promise<void>;
}

/** The service as deployed, in this process: worker(s), relay and API against the run's real servers. */
export async function startSystem(options: SystemOptions = {}): Promise<TestSystem> {
  quietRuntime();
  const config = loadConfig({
    DATABASE_URL: inject('databaseUrl'),
    NATS_URL: inject('natsUrl'),
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    EVENTS_ENV: inject('eventsEnv'),
    TEMPORAL_TASK_QUEUE: `orders-${randomUUID()}`,
    AUTH: 'on',
    JWT_SECRET,
    PAYLOAD_ENCRYPTION_KEYS: TEST_PAYLOAD_KEYS,
    API_KEYS: `service:${SERVICE_API_KEY}`,
    LOG_LEVEL: 'silent',
    ORDER_CREATE_WAIT: '10s',
    // Under a loaded machine compensations can be slow, and a worker slow to take an amendment; tests of the 202 after
    // CANCEL_WAIT and of the 503 after AMEND_WAIT set them short themselves.
    CANCEL_WAIT: '30s',
    AMEND_WAIT: '30s',
    OUTBOX_POLL_INTERVAL: '50ms',
    RATE_LIMIT_PER_MINUTE: '100000',
    ...options.config,
  });
  const logger = options.logger ?? createLogger(config.LOG_LEVEL, 'test');
  const opened = await openResources(config, 'orders-test', logger, options.tracing);
  // The test servers run NATS: the tests publish and read streams through these, as before.
  const resources: TestResources = { ...opened, ...(await opened.events.ready) };
  const metrics = createMetrics();
  registerStateGauges(metrics, resources.db);
  const metricsServer = await startMetricsServer(metrics.registry, '127.0.0.1', 0);
  const workers: { worker: Worker; running: Promise<void>; close: () => Promise<void> }[] = [];

  async function startWorker(
    workerOptions: { maxCachedWorkflows?: number; activities?: (real: ActivityMap) => ActivityMap } = {}
  ) {
    const connection = await connectWorker(config.TEMPORAL_ADDRESS);
    const real = createActivities({
      db: resources.db,
      outbox: resources.outbox,
      gateway: createSimulatedGateway(resources.db),
    });
    const wrap = workerOptions.activities ?? options.activities ?? ((a: ActivityMap) => a);
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      dataConverter: dataConverter(resources.codec),
      workflowBundle: await (options.tracing ? tracedWorkflowBundle(options.tracing) : workflowBundle()),
      ...(options.tracing ? { plugins: [options.tracing.temporal] } : {}),
      activities: wrap(real),
      interceptors: { activity: [activityMetrics(metrics, resources.db)] },
      ...(workerOptions.maxCachedWorkflows !== undefined
        ? { maxCachedWorkflows: workerOptions.maxCachedWorkflows }
        : {}),
      ...(options.worker?.maxCachedWorkflows !== undefined
        ? { maxCachedWorkflows: options.worker.maxCachedWorkflows }
        : {}),
    });
    const running = worker.run();
    workers.push({ worker, running, close: () => connection.close() });
    return worker;
  }

  async function stopWorkers() {
    for (const { worker, running, close } of workers.splice(0)) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running.catch(() => undefined);
      await close();
    }
  }

  await startWorker();
  const relay =
    options.relay === false
      ? undefined
      : createRelay(config.DATABASE_URL, resources.js, logger, {
          ...relayOptions(config),
          onPublish: (outcome, type) => metrics.outboxPublished.inc({ type, outcome }),
        });
  relay?.start();
  const api =
    options.api === false
      ? undefined
      : await startApiServer({ ...resources, config, logger, metrics: metrics.registry }, 0);

  return {
    config,
    resources,
    ...(api ? { api } : {}),
    baseUrl: api ? `http://127.0.0.1:${api.port}` : '',
    ...(relay ? { relay } : {}),
    metricsUrl: `http://127.0.0.1:${metricsServer.port}/metrics`,
    tokens: {
      operator: await mintToken(JWT_SECRET, 'operator', 'test-operator'),
      service: await mintToken(JWT_SECRET, 'service', 'test-service'),
      customer: (customerId) => mintToken(JWT_SECRET, 'customer', customerId),
    },
    startWorker,
    stopWorkers,
    workers: () => workers.map(({ worker }) => worker),
    async stop() {
      await api?.close();
      await stopWorkers();
      await relay?.stop();
      await metricsServer.close();
      await resources.close();
    },
  };
}

/** A product with stock, unique to the calling test. */
export async function createProduct(system: TestSystem, stock: number, unitPrice = 1000) {
  const id = randomUUID();
  const sku = `SKU-${id.slice(0, 8)}`;
  await system.resources.db.product.create({
    data: { id, sku, name: `Test product ${sku}`, unitPrice, currency: 'USD' },
  });
  if (stock > 0) {
    await adjustStock(system.resources.db, system.resources.outbox, {
      productId: id,
      warehouseId: 'WH-TEST',
      quantityChange: stock,
      adjustmentId: `test:${id}`,
      causationId: 'test',
    });
  }
  return { id, sku, unitPrice };
}

export async function stockOf(system: TestSystem, productId: string) {
  const rows = await system.resources.db.inventoryItem.findMany({ where: { productId } });
  const onHand = rows.reduce((sum, row) => sum + row.onHand, 0);
  const reserved = rows.reduce((sum, row) => sum + row.reserved, 0);
  return { onHand, reserved, available: onHand - reserved };
}

export interface HttpResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/** A plain HTTP call that never throws on a status: tests assert on it. */
export async function http<T = Record<string, unknown>>(
  system: TestSystem,
  method: string,
  path: string,
  options: { body?: unknown; token?: string; headers?: Record<string, string>; rawBody?: string } = {}
): Promise<HttpResult<T>> {
  const response = await fetch(`${system.baseUrl}${path}`, {
    method,
    headers: {
      ...(options.body !== undefined || options.rawBody !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    ...(options.rawBody !== undefined
      ? { body: options.rawBody }
      : options.body !== undefined
        ? { body: JSON.stringify(options.body) }
        : {}),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // Non-JSON bodies (docs page, metrics) stay text.
  }
  return { status: response.status, headers: response.headers, body: body as T };
}

export function orderBody(customerId: string, items: { productId: string; quantity: number }[], token = 'tok_visa') {
  return {
    customerId,
    currency: 'USD',
    items,
    shippingAddress: { street: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
    payment: { method: 'card', token },
  };
}

/** Polls until `check` returns a value (not undefined) or the time is up. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  what = 'condition'
): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: Error | undefined;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error instanceof Error ? error : new Error(String(error));
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Every message on a context's stream for this run, in stream order. */
export async function streamMessages(
  system: TestSystem,
  context: EventContext
): Promise<{ seq: number; msgId: string | undefined; event: CloudEvent }[]> {
  const jsm = await jetstreamManager(system.resources.nats);
  const stream = streamName(context, system.config.EVENTS_ENV);
  const info = await jsm.streams.info(stream);
  if (info.state.messages === 0) return [];
  const name = `test-${randomUUID()}`;
  await jsm.consumers.add(stream, {
    name,
    deliver_policy: DeliverPolicy.All,
    ack_policy: AckPolicy.None,
    inactive_threshold: 60_000_000_000,
  });
  const consumer = await system.resources.js.consumers.get(stream, name);
  const messages: JsMsg[] = [];
  const iterator = await consumer.fetch({ max_messages: info.state.messages, expires: 5_000 });
  for await (const message of iterator) {
    messages.push(message);
    if (messages.length >= info.state.messages) break;
  }
  await jsm.consumers.delete(stream, name).catch(() => undefined);
  // Other tests of the run publish deliberately malformed messages to these streams: they are not events.
  return messages.flatMap((message) => {
    try {
      return [{ seq: message.seq, msgId: message.headers?.get('Nats-Msg-Id'), event: message.json<CloudEvent>() }];
    } catch {
      return [];
    }
  });
}
