import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { ROOT } from '../../scripts/lib/database.js';
import { freePort } from '../../scripts/lib/temporal-server.js';
import { mintToken } from '../../src/api/auth.js';
import type { ScratchDatabase } from '../events/support.js';
import { createScratchDatabase } from '../events/support.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, JWT_SECRET, orderBody, startSystem, TEST_PAYLOAD_KEYS } from '../support/system.js';

const temporalMetricsPort = await freePort();

/** Starts a real process role and returns how it ended. */
function start(role: 'api/main.ts' | 'worker/main.ts' | 'events/relay-main.ts', env: Record<string, string>) {
  const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'src', role)], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: inject('databaseUrl'),
      NATS_URL: inject('natsUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      EVENTS_ENV: inject('eventsEnv'),
      JWT_SECRET,
      PAYLOAD_ENCRYPTION_KEYS: TEST_PAYLOAD_KEYS,
      // Not the defaults: workers of other test files may hold them.
      METRICS_PORT: '0',
      TEMPORAL_METRICS_PORT: String(temporalMetricsPort),
      LOG_LEVEL: 'silent',
      ...env,
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: run.status, stderr: run.stderr.trim() };
}

describe('start-up - an unreachable service or a bad setting is one clear line, not a stack trace', () => {
  it.each([
    [
      'Postgres',
      { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/orders' },
      /^api: DATABASE_UNAVAILABLE: PostgreSQL is not reachable at postgresql:\/\/postgres@127\.0\.0\.1:1\/orders/,
    ],
    [
      'Temporal',
      { TEMPORAL_ADDRESS: '127.0.0.1:1' },
      /^api: TEMPORAL_UNAVAILABLE: Temporal is not reachable at 127\.0\.0\.1:1/,
    ],
    ['a bad PORT', { PORT: 'eighty' }, /^api: CONFIG_INVALID: invalid configuration: PORT /],
    ['a missing JWT secret', { JWT_SECRET: '' }, /^api: CONFIG_INVALID: .*JWT_SECRET is required when AUTH=on/],
  ])('%s', (_what, env, expected) => {
    const { status, stderr } = start('api/main.ts', env);
    expect(status).toBe(1);
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toMatch(expected);
  });

  it('the worker and the relay report the same way', () => {
    expect(start('worker/main.ts', { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/orders' }).stderr).toMatch(
      /^worker: DATABASE_UNAVAILABLE: /
    );
    expect(start('events/relay-main.ts', { TEMPORAL_ADDRESS: '127.0.0.1:1' }).stderr).toMatch(
      /^relay: TEMPORAL_UNAVAILABLE: /
    );
  });
});

/** A process role running in the background, for as long as the test needs it. */
function launch(role: 'api/main.ts' | 'worker/main.ts', env: Record<string, string>) {
  // Node itself with tsx's loader, not the tsx wrapper: a SIGKILL to the wrapper would leave its node child running.
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src', role)], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: inject('databaseUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      EVENTS_ENV: inject('eventsEnv'),
      JWT_SECRET,
      PAYLOAD_ENCRYPTION_KEYS: TEST_PAYLOAD_KEYS,
      LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    child,
    output: () => output,
    running: () => child.exitCode === null && child.signalCode === null,
    stop: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

describe('start-up - NATS down', () => {
  // A database of its own: the other test files' relays would publish its outbox rows, and the backends it
  // terminates are only its own.
  let database: ScratchDatabase;
  let system: TestSystem;
  beforeAll(async () => {
    database = await createScratchDatabase();
    system = await startSystem({ api: false, relay: false, config: { DATABASE_URL: database.url } });
  });
  afterAll(async () => {
    await system?.stop();
    await database?.drop();
  });

  it('API and worker start, take and confirm an order; its events wait in the outbox; killed backends are survived', async () => {
    const closedNats = `nats://127.0.0.1:${await freePort()}`;
    const taskQueue = `nats-down-${randomUUID()}`;
    const port = await freePort();
    const common = { NATS_URL: closedNats, TEMPORAL_TASK_QUEUE: taskQueue, DATABASE_URL: database.url };
    const api = launch('api/main.ts', { ...common, PORT: String(port), METRICS_PORT: String(await freePort()) });
    const worker = launch('worker/main.ts', {
      ...common,
      METRICS_PORT: String(await freePort()),
      TEMPORAL_METRICS_PORT: String(await freePort()),
    });
    const baseUrl = `http://127.0.0.1:${port}`;
    try {
      const readiness = await eventually(
        () =>
          fetch(`${baseUrl}/readyz`).then(
            async (response) => ({ status: response.status, body: await response.json() }),
            () => undefined
          ),
        60_000,
        `the API to listen (${api.output()})`
      );
      // Ready for orders, and honest that events are not flowing.
      expect(readiness).toEqual({
        status: 200,
        body: { status: 'degraded', checks: { postgres: true, nats: false, temporal: true } },
      });

      const product = await createProduct(system, 5);
      const customerId = randomUUID();
      const placed = await fetch(`${baseUrl}/v1/orders`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${await mintToken(JWT_SECRET, 'customer', customerId)}`,
          'idempotency-key': randomUUID(),
        },
        body: JSON.stringify(orderBody(customerId, [{ productId: product.id, quantity: 1 }])),
      });
      expect([201, 202], await placed.clone().text()).toContain(placed.status);
      const { orderId } = (await placed.json()) as { orderId: string };
      const { db } = system.resources;
      await eventually(
        async () =>
          (await db.outbox.count({ where: { aggregateId: orderId, type: 'OrderConfirmed' } })) ? true : undefined,
        90_000,
        `the order to be confirmed (worker: ${worker.output()})`
      );
      // Nothing published (there is no NATS), nothing lost: the events wait for the relay.
      const rows = await db.outbox.findMany({ where: { aggregateId: orderId } });
      expect(rows.map((row) => row.type)).toEqual(expect.arrayContaining(['OrderCreated', 'OrderConfirmed']));
      expect(rows.every((row) => row.publishedAt === null)).toBe(true);

      // Every server connection of this database is cut, idle ones included: the processes log and reconnect.
      await db.$executeRaw`
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`;
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(api.running(), api.output()).toBe(true);
      expect(worker.running(), worker.output()).toBe(true);
      const again = await eventually(
        () => fetch(`${baseUrl}/readyz`).then((response) => (response.status === 200 ? response.status : undefined)),
        30_000,
        'the API to answer again'
      );
      expect(again).toBe(200);
    } finally {
      api.stop();
      worker.stop();
    }
  }, 240_000);
});
