import { randomUUID } from 'node:crypto';
import type { AddressInfo, Socket } from 'node:net';
import { Writable } from 'node:stream';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/client.js';
import type { OutboxWriter } from '../../src/events/outbox.js';
import { freePort } from '../../scripts/lib/temporal-server.js';
import { dataConverter } from '../../src/temporal/payload-codec.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, orderBody, startSystem, stockOf } from '../support/system.js';
import { api, expectNoInternals, expectProblem, startExtraApi } from './support.js';

/** A Temporal client whose connection is already closed: every call fails at once. */
async function closedTemporal(address: string): Promise<Client> {
  const connection = await Connection.connect({ address });
  await connection.close();
  return new Client({ connection });
}

describe('API under failing dependencies, and shutdown', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('answers 503 without internals when Temporal is unreachable, and leaves the Idempotency-Key free', async () => {
    const broken = await startExtraApi(system, { temporal: await closedTemporal(system.config.TEMPORAL_ADDRESS) });
    try {
      const product = await createProduct(system, 5);
      const customerId = randomUUID();
      const token = await system.tokens.customer(customerId);
      const request = {
        token,
        body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
        headers: { 'idempotency-key': `resilience-${randomUUID()}` },
      };
      const failed = await api(broken.system, 'POST', '/v1/orders', request);
      expectProblem(failed, 503, 'SERVICE_UNAVAILABLE');
      expect(failed.headers.get('retry-after')).toMatch(/^\d+$/);
      expectNoInternals(failed);

      const readiness = await api(broken.system, 'GET', '/readyz');
      expect(readiness).toMatchObject({
        status: 503,
        body: { status: 'unavailable', checks: { postgres: true, nats: true, temporal: false } },
      });

      // Nothing was stored for the key: the retry against a healthy API places the order.
      const retried = await api(system, 'POST', '/v1/orders', request);
      expect(retried.status).toBe(201);
      expect(retried.headers.get('idempotent-replayed')).toBeNull();
    } finally {
      await broken.close();
    }
  });

  it('reports not ready within the deadline when Temporal accepts connections but never answers', async () => {
    // A blackhole: TCP connects, HTTP/2 never starts. (A refused port would do too, but the SDK's retry timers
    // then outlive the request and throw once the connection is closed.)
    const sockets = new Set<Socket>();
    const blackhole = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const nowhere = Connection.lazy({ address: `127.0.0.1:${(blackhole.address() as AddressInfo).port}` });
    const lost = await startExtraApi(system, { temporal: new Client({ connection: nowhere }) });
    try {
      const started = Date.now();
      const readiness = await api(lost.system, 'GET', '/readyz');
      expect(readiness).toMatchObject({
        status: 503,
        body: { status: 'unavailable', checks: { temporal: false, postgres: true, nats: true } },
      });
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await lost.close();
      await nowhere.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => blackhole.close(resolve));
    }
  });

  it('answers 503 without internals when PostgreSQL is unreachable', async () => {
    const db = createDb(`postgresql://postgres@127.0.0.1:${await freePort()}/orders`);
    const broken = await startExtraApi(system, { db });
    try {
      const customerId = randomUUID();
      const token = await system.tokens.customer(customerId);
      const calls: [string, string, unknown?, Record<string, string>?][] = [
        ['GET', '/v1/orders'],
        ['GET', `/v1/orders/${randomUUID()}`],
        ['POST', '/v1/orders', orderBody(customerId, [{ productId: randomUUID(), quantity: 1 }])],
        [
          'POST',
          '/v1/orders',
          orderBody(customerId, [{ productId: randomUUID(), quantity: 1 }]),
          { 'idempotency-key': `resilience-${randomUUID()}` },
        ],
      ];
      for (const [method, path, body, headers] of calls) {
        const result = await api(broken.system, method, path, {
          token,
          ...(body ? { body } : {}),
          ...(headers ? { headers } : {}),
        });
        expectProblem(result, 503, 'SERVICE_UNAVAILABLE');
        expectNoInternals(result);
      }
      const readiness = await api(broken.system, 'GET', '/readyz');
      expect(readiness).toMatchObject({ status: 503, body: { checks: { postgres: false, temporal: true } } });
    } finally {
      await broken.close();
      await db.$disconnect();
    }
  });

  it('answers a generic 500 without the internal message when something unexpected throws, and logs what it was', async () => {
    const secret = 'relation "outbox" at /src/events/outbox.ts:42 SELECT * FROM outbox -- password=hunter2';
    const failingOutbox: OutboxWriter = {
      append: () => Promise.reject(Object.assign(new RangeError(secret), { code: 'XX000' })),
    };
    const logged: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'warn' },
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          logged.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      })
    );
    const broken = await startExtraApi(system, { outbox: failingOutbox, logger });
    try {
      const product = await createProduct(system, 3);
      const result = await api(broken.system, 'POST', '/v1/inventory', {
        token: system.tokens.operator,
        body: { productId: product.id, quantity: 5, warehouseId: 'WH-TEST' },
      });
      const problem = expectProblem(result, 500, 'INTERNAL');
      expect(JSON.stringify(problem)).not.toContain('hunter2');
      expectNoInternals(result);
      // The client learns nothing; the operator's log tells what it was.
      expect(logged).toContainEqual(
        expect.objectContaining({
          level: 50,
          method: 'POST',
          path: '/v1/inventory',
          error: [{ name: 'RangeError', code: 'XX000', message: secret }],
        })
      );
      // The stock change rolled back with its event.
      expect(await stockOf(system, product.id)).toEqual({ onHand: 3, reserved: 0, available: 3 });
    } finally {
      await broken.close();
    }
  });

  it('answers 503 + Retry-After, not 500, when the connection drops inside a transaction', async () => {
    // The backend serving the stock change's transaction is terminated from outside half-way (57P01), as an
    // operator's pg_terminate_backend or a failover does; the transaction's next statement finds the client dead.
    const droppingOutbox: OutboxWriter = {
      append: async (tx) => {
        const [backend] = await tx.$queryRaw<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        await system.resources.db.$queryRaw`SELECT pg_terminate_backend(${backend!.pid})`;
        await eventually(async () => {
          const [alive] = await system.resources.db.$queryRaw<{ n: number }[]>`
            SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = ${backend!.pid}`;
          return alive!.n === 0 ? true : undefined;
        });
        await tx.$queryRaw`SELECT 1`;
      },
    };
    const broken = await startExtraApi(system, { outbox: droppingOutbox });
    try {
      const product = await createProduct(system, 3);
      for (const [method, path, body] of [
        ['POST', '/v1/inventory', { productId: product.id, quantity: 5, warehouseId: 'WH-TEST' }],
        ['PUT', `/v1/inventory/${product.id}`, { quantityChange: 5, warehouseId: 'WH-TEST' }],
      ] as const) {
        const result = await api(broken.system, method, path, { token: system.tokens.operator, body });
        expectProblem(result, 503, 'SERVICE_UNAVAILABLE');
        expect(result.headers.get('retry-after')).toBe('5');
        expectNoInternals(result);
      }
      expect(await stockOf(system, product.id)).toEqual({ onHand: 3, reserved: 0, available: 3 });
    } finally {
      await broken.close();
    }
  });

  it('frees the Idempotency-Key of a 503 even when the connection that would free it was just cut', async () => {
    // A pg_terminate_backend wave cuts the request's query and, a moment later, the one releasing its key (seen in a
    // chaos run): the key must not stay IN_FLIGHT, answering the client's retry with 409 for a minute.
    const lost = () =>
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    const db = system.resources.db;
    let cut = 0;
    const keys = new Proxy(db.idempotencyKey, {
      get(target, property) {
        if (property === 'deleteMany' && cut++ === 0) return () => Promise.reject(lost());
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const cutDb = new Proxy(db, {
      get(target, property) {
        if (property === 'idempotencyKey') return keys;
        const value: unknown = Reflect.get(target, property, target);
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const failingOutbox: OutboxWriter = { append: () => Promise.reject(lost()) };
    const broken = await startExtraApi(system, { db: cutDb, outbox: failingOutbox });
    try {
      const product = await createProduct(system, 3);
      const request = {
        token: system.tokens.operator,
        body: { quantityChange: 5, warehouseId: 'WH-TEST' },
        headers: { 'idempotency-key': `cut-release-${randomUUID()}` },
      };
      expectProblem(
        await api(broken.system, 'PUT', `/v1/inventory/${product.id}`, request),
        503,
        'SERVICE_UNAVAILABLE'
      );
      expect(cut).toBeGreaterThan(0);
      const retried = await api(system, 'PUT', `/v1/inventory/${product.id}`, request);
      expect(retried.status, JSON.stringify(retried.body)).toBe(200);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 8, reserved: 0, available: 8 });
    } finally {
      await broken.close();
    }
  });

  it('answers 503 + Retry-After when the worker cannot run the order, and the retry after recovery gets the real answer', async () => {
    // Placed and persisted by the real worker; then a worker whose workflow tasks all fail takes the task queue
    // over, as a broken or half-deployed worker would: Temporal answers the order's queries and updates with
    // FAILED_PRECONDITION (WorkflowNotReady) until a working worker is back.
    const product = await createProduct(system, 20);
    const customerId = randomUUID();
    const token = await system.tokens.customer(customerId);
    const placed = await api(system, 'POST', '/v1/orders', {
      token,
      body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
    });
    expect(placed.status).toBe(201);
    const persisted = placed.body.orderId as string;
    await system.stopWorkers();
    const broken = await Worker.create({
      connection: await NativeConnection.connect({ address: system.config.TEMPORAL_ADDRESS }),
      taskQueue: system.config.TEMPORAL_TASK_QUEUE,
      dataConverter: dataConverter(system.resources.codec),
      workflowsPath: join(import.meta.dirname, 'failing-workflow', 'index.ts'),
    });
    const brokenRun = broken.run();
    const quick = await startExtraApi(system, { config: { ORDER_CREATE_WAIT: 1_000 } });
    try {
      // Its workflow never persists it: amending it asks the workflow for its currency.
      const waiting = await api(quick.system, 'POST', '/v1/orders', {
        token,
        body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
      });
      expect(waiting.status).toBe(202);
      const unpersisted = waiting.body.orderId as string;
      await eventually(async () => {
        const { raw } = await system.resources.temporal.workflow.getHandle(`order-${unpersisted}`).describe();
        return (raw.pendingWorkflowTask?.attempt ?? 0) > 1 ? true : undefined;
      });

      const items = [{ productId: product.id, quantity: 2 }];
      const calls = [
        [`/v1/orders/${persisted}/amendments`, { items }],
        [`/v1/orders/${unpersisted}/amendments`, { items }],
        [`/v1/orders/${persisted}/cancel`, { reason: 'CUSTOMER_REQUESTED' }],
      ] as const;
      const keys = calls.map(() => `worker-down-${randomUUID()}`);
      for (const [i, [path, body]] of calls.entries()) {
        const result = await api(system, 'POST', path, {
          token: system.tokens.operator,
          body,
          headers: { 'idempotency-key': keys[i]! },
        });
        expectProblem(result, 503, 'SERVICE_UNAVAILABLE');
        expect(result.headers.get('retry-after')).toMatch(/^\d+$/);
        expectNoInternals(result);
      }

      // A working worker again: each retry with its key is executed, not answered from a stored 503. Temporal
      // hands the failed workflow tasks to it after a backoff, so the client retries on 503 as it is told to.
      broken.shutdown();
      await brokenRun;
      await system.startWorker();
      for (const [i, [path, body]] of calls.entries()) {
        const retried = await eventually(
          async () => {
            const result = await api(system, 'POST', path, {
              token: system.tokens.operator,
              body,
              headers: { 'idempotency-key': keys[i]! },
            });
            return result.status === 503 ? undefined : result;
          },
          90_000,
          `an answer other than 503 to POST ${path}`
        );
        expect(retried.status, JSON.stringify(retried.body)).toBeLessThan(300);
        expect(retried.headers.get('idempotent-replayed')).toBeNull();
      }
    } finally {
      await quick.close();
      if (broken.getState() === 'RUNNING') broken.shutdown();
      await brokenRun.catch(() => undefined);
      if (system.workers().length === 0) await system.startWorker();
    }
  }, 240_000);

  it('finishes in-flight requests on shutdown while refusing new connections', async () => {
    // A task queue nobody polls keeps POST /v1/orders waiting the whole ORDER_CREATE_WAIT.
    const extra = await startExtraApi(system, {
      config: { ORDER_CREATE_WAIT: 1_500, TEMPORAL_TASK_QUEUE: `idle-${randomUUID()}` },
    });
    const product = await createProduct(system, 5);
    const customerId = randomUUID();
    const token = await system.tokens.customer(customerId);
    expect((await api(extra.system, 'GET', '/readyz')).status).toBe(200);
    const key = `shutdown-${randomUUID()}`;
    const inFlight = api(extra.system, 'POST', '/v1/orders', {
      token,
      body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
      headers: { 'idempotency-key': key },
    });
    // In flight: its key is claimed, and it will wait the whole ORDER_CREATE_WAIT.
    await eventually(() =>
      system.resources.db.idempotencyKey
        .findFirst({ where: { key, state: 'IN_FLIGHT' } })
        .then((row) => row ?? undefined)
    );
    const started = Date.now();
    const closed = extra.running.close(10_000).then(() => Date.now() - started);

    await new Promise((resolve) => setTimeout(resolve, 100));
    await expect(fetch(`${extra.system.baseUrl}/healthz`)).rejects.toThrow();

    const answered = await inFlight;
    expect(answered.status).toBe(202);
    await system.resources.temporal.workflow
      .getHandle(`order-${answered.body.orderId as string}`)
      .terminate('test done');
    const closeMs = await closed;
    expect(closeMs).toBeGreaterThanOrEqual(900);
    // Not held open by the keep-alive socket of the finished request (keepAliveTimeout is 5 s).
    expect(closeMs).toBeLessThan(3_000);
  });
});
