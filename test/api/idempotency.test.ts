import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, orderBody, startSystem, stockOf } from '../support/system.js';
import { api, expectProblem, newCustomer, startExtraApi } from './support.js';

type Order = Record<string, unknown> & { orderId: string; stage: string; revision: number };

describe('Idempotency-Key (Stripe semantics)', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem({ config: { BACKORDER_WINDOW: '1h' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  const customer = () => newCustomer(system);
  const key = () => `test-${randomUUID()}`;
  /** A one-unit order request carrying a fresh Idempotency-Key. */
  const keyedOrder = (who: { id: string; token: string }, productId: string) => ({
    token: who.token,
    body: orderBody(who.id, [{ productId, quantity: 1 }]),
    headers: { 'idempotency-key': key() },
  });

  async function ordersOf(customerId: string) {
    return system.resources.db.order.count({ where: { customerId } });
  }

  it('replays the first response to a retry with the same key and body, and places one order', async () => {
    const product = await createProduct(system, 10);
    const who = await customer();
    const body = orderBody(who.id, [{ productId: product.id, quantity: 1 }]);
    const headers = { 'idempotency-key': key() };
    const first = await api<Order>(system, 'POST', '/v1/orders', { token: who.token, body, headers });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();

    // The same body with its fields in another order is the same request.
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    for (const retryBody of [body, reordered]) {
      const retry = await api<Order>(system, 'POST', '/v1/orders', { token: who.token, body: retryBody, headers });
      expect(retry.status).toBe(201);
      expect(retry.headers.get('idempotent-replayed')).toBe('true');
      expect(retry.headers.get('location')).toBe(first.headers.get('location'));
      expect(retry.headers.get('content-type')).toBe(first.headers.get('content-type'));
      expect(retry.body).toEqual(first.body);
    }
    expect(await ordersOf(who.id)).toBe(1);
  });

  it('refuses the same key with a different body: 422 IDEMPOTENCY_KEY_REUSED, no second order', async () => {
    const product = await createProduct(system, 10);
    const who = await customer();
    const headers = { 'idempotency-key': key() };
    const first = await api(system, 'POST', '/v1/orders', {
      token: who.token,
      body: orderBody(who.id, [{ productId: product.id, quantity: 1 }]),
      headers,
    });
    expect(first.status).toBe(201);
    const reused = await api(system, 'POST', '/v1/orders', {
      token: who.token,
      body: orderBody(who.id, [{ productId: product.id, quantity: 2 }]),
      headers,
    });
    expectProblem(reused, 422, 'IDEMPOTENCY_KEY_REUSED');
    // Another route with the same key is a different request too.
    const elsewhere = await api(system, 'POST', `/v1/orders/${randomUUID()}/cancel`, {
      token: who.token,
      body: {},
      headers,
    });
    expectProblem(elsewhere, 422, 'IDEMPOTENCY_KEY_REUSED');
    expect(await ordersOf(who.id)).toBe(1);
  });

  it('scopes keys to the caller: two customers may use the same key', async () => {
    const product = await createProduct(system, 10);
    const shared = { 'idempotency-key': key() };
    for (const who of [await customer(), await customer()]) {
      const placed = await api(system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [{ productId: product.id, quantity: 1 }]),
        headers: shared,
      });
      expect(placed.status).toBe(201);
      expect(placed.headers.get('idempotent-replayed')).toBeNull();
    }
  });

  it('remembers nothing for refused requests: the key stays usable after a 401, 403 or 422', async () => {
    const product = await createProduct(system, 10);
    const who = await customer();
    const headers = { 'idempotency-key': key() };
    const valid = orderBody(who.id, [{ productId: product.id, quantity: 1 }]);
    expectProblem(await api(system, 'POST', '/v1/orders', { token: 'nope', body: valid, headers }), 401);
    expectProblem(await api(system, 'POST', '/v1/orders', { token: system.tokens.service, body: valid, headers }), 403);
    expectProblem(
      await api(system, 'POST', '/v1/orders', {
        token: who.token,
        body: { ...valid, customerId: randomUUID() },
        headers,
      }),
      403
    );
    expectProblem(
      await api(system, 'POST', '/v1/orders', { token: who.token, body: { ...valid, items: [] }, headers }),
      422
    );
    expectProblem(
      await api(system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [{ productId: randomUUID(), quantity: 1 }]),
        headers,
      }),
      422,
      'VALIDATION_FAILED'
    );
    const placed = await api(system, 'POST', '/v1/orders', { token: who.token, body: valid, headers });
    expect(placed.status).toBe(201);
    expect(placed.headers.get('idempotent-replayed')).toBeNull();
  });

  it('replays business outcomes too: a 404 stays a 404 for the same key', async () => {
    const who = await customer();
    const headers = { 'idempotency-key': key() };
    const path = `/v1/orders/${randomUUID()}/cancel`;
    expectProblem(await api(system, 'POST', path, { token: who.token, body: {}, headers }), 404);
    const again = await api(system, 'POST', path, { token: who.token, body: {}, headers });
    expectProblem(again, 404, 'NOT_FOUND');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
  });

  it.each([
    ['too short', 'abc'],
    ['too long', 'k'.repeat(256)],
    ['with spaces', 'has spaces in it'],
    ['non-ASCII', 'cl\u00e9-1234567'],
    ['empty', ''],
  ])('is 422 for an Idempotency-Key %s', async (_what, value) => {
    const result = await api(system, 'POST', '/v1/products', {
      token: system.tokens.operator,
      body: { sku: `K-${randomUUID().slice(0, 8)}`, name: 'x', unitPrice: 1, currency: 'USD' },
      headers: { 'idempotency-key': value },
    });
    expect(expectProblem(result, 422, 'VALIDATION_FAILED').errors.map((e) => e.field)).toEqual([
      'header.Idempotency-Key',
    ]);
  });

  it('answers 409 to a retry while the first request is in flight, then replays the first answer', async () => {
    // A task queue nobody polls keeps the first request waiting the whole ORDER_CREATE_WAIT.
    const extra = await startExtraApi(system, {
      config: { ORDER_CREATE_WAIT: 2_000, TEMPORAL_TASK_QUEUE: `idle-${randomUUID()}` },
    });
    try {
      const product = await createProduct(system, 10);
      const who = await customer();
      const request = keyedOrder(who, product.id);
      const first = api<Order>(extra.system, 'POST', '/v1/orders', request);
      await eventually(() =>
        system.resources.db.idempotencyKey
          .findFirst({ where: { key: request.headers['idempotency-key'], state: 'IN_FLIGHT' } })
          .then((row) => row ?? undefined)
      );
      const concurrent = await Promise.all(
        Array.from({ length: 5 }, () => api(extra.system, 'POST', '/v1/orders', request))
      );
      for (const result of concurrent) expectProblem(result, 409, 'IDEMPOTENCY_KEY_IN_USE');
      const answered = await first;
      expect(answered.status).toBe(202);
      const replay = await api<Order>(extra.system, 'POST', '/v1/orders', request);
      expect(replay).toMatchObject({ status: 202, body: answered.body });
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      await system.resources.temporal.workflow.getHandle(`order-${answered.body.orderId}`).terminate('test done');
    } finally {
      await extra.close();
    }
  });

  it('lets 20 simultaneous requests with one key place exactly one order', async () => {
    const product = await createProduct(system, 50);
    const who = await customer();
    const request = keyedOrder(who, product.id);
    const results = await Promise.all(
      Array.from({ length: 20 }, () => api<Order>(system, 'POST', '/v1/orders', request))
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(new Set(results.filter((r) => r.status === 201).map((r) => r.body.orderId)).size).toBe(1);
    expect(results.filter((r) => r.status === 201 && !r.headers.get('idempotent-replayed')).length).toBe(1);
    expect(await ordersOf(who.id)).toBe(1);
  });

  it('lets keys expire after IDEMPOTENCY_KEY_TTL, yet the same key still names the same order', async () => {
    const extra = await startExtraApi(system, { config: { IDEMPOTENCY_KEY_TTL: 3_000 } });
    try {
      const product = await createProduct(system, 10);
      const who = await customer();
      const request = keyedOrder(who, product.id);
      const first = await api<Order>(extra.system, 'POST', '/v1/orders', request);
      const replay = await api<Order>(extra.system, 'POST', '/v1/orders', request);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      const row = await system.resources.db.idempotencyKey.findFirstOrThrow({
        where: { key: request.headers['idempotency-key'] },
      });
      expect(row.expiresAt.getTime() - row.createdAt.getTime()).toBeGreaterThan(2_500);
      expect(row.expiresAt.getTime() - row.createdAt.getTime()).toBeLessThan(3_500);
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, row.expiresAt.getTime() - Date.now()) + 100));
      // The stored answer is gone, so the request runs again; the order id comes from the key, so it is the same order.
      const again = await api<Order>(extra.system, 'POST', '/v1/orders', request);
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBeNull();
      expect(again.body.orderId).toBe(first.body.orderId);
      expect(await ordersOf(who.id)).toBe(1);
    } finally {
      await extra.close();
    }
  });

  it('places one order when a retry runs again after the first answer was lost (503, timeout, abandoned key)', async () => {
    const product = await createProduct(system, 10);
    const who = await customer();
    const request = keyedOrder(who, product.id);
    const first = await api<Order>(system, 'POST', '/v1/orders', request);
    expect(first.status).toBe(201);
    // What a 503 after the start (or a key taken over after ABANDONED_AFTER) leaves: the workflow, no stored answer.
    await system.resources.db.idempotencyKey.deleteMany({ where: { key: request.headers['idempotency-key'] } });
    const retry = await api<Order>(system, 'POST', '/v1/orders', request);
    expect(retry.status).toBe(201);
    expect(retry.body.orderId).toBe(first.body.orderId);
    expect(await ordersOf(who.id)).toBe(1);
    // One saga, so one authorization: wait for it, then make sure it is the only one.
    const authorizations = () =>
      system.resources.db.payment.count({ where: { order: { customerId: who.id }, kind: 'AUTHORIZATION' } });
    await eventually(async () => ((await authorizations()) > 0 ? true : undefined));
    expect(await authorizations()).toBe(1);
  });

  it('answers a carrier update retried after its first attempt completed the order and lost the answer', async () => {
    const product = await createProduct(system, 10);
    const who = await customer();
    const placed = await api<Order>(system, 'POST', '/v1/orders', keyedOrder(who, product.id));
    const shipmentId = await eventually(async () => {
      const { body } = await api<Order & { shipment?: { shipmentId: string } }>(
        system,
        'GET',
        `/v1/orders/${placed.body.orderId}`,
        { token: who.token }
      );
      return body.stage === 'FULFILLING' ? body.shipment?.shipmentId : undefined;
    });
    const update = (status: string, idempotencyKey: string) =>
      api(system, 'PUT', `/v1/shipments/${shipmentId}/status`, {
        token: system.tokens.service,
        body: { status },
        headers: { 'idempotency-key': idempotencyKey },
      });
    expect((await update('shipped', key())).status).toBe(200);
    const delivery = key();
    expect(await update('delivered', delivery)).toMatchObject({ status: 200, body: { accepted: true } });
    const handle = system.resources.temporal.workflow.getHandle(`order-${placed.body.orderId}`);
    await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined));

    // What an API killed after the signal (its key taken over later) or a 503 after it leaves: no stored answer.
    await system.resources.db.idempotencyKey.deleteMany({ where: { key: delivery } });
    const retry = await update('delivered', delivery);
    expect(retry).toMatchObject({ status: 200, body: { shipmentId, status: 'delivered', accepted: false } });
    expect(await stockOf(system, product.id)).toEqual({ onHand: 9, reserved: 0, available: 9 });
    const captures = await system.resources.db.payment.findMany({
      where: { orderId: placed.body.orderId, kind: 'CAPTURE', status: 'SUCCEEDED' },
    });
    expect(captures.map((capture) => capture.amount)).toEqual([1000n]);
  });

  it.each([
    [
      'POST /v1/inventory',
      'POST',
      (productId: string) => ({ path: '/v1/inventory', body: { productId, warehouseId: 'WH-TEST', quantity: 5 } }),
    ],
    [
      'PUT /v1/inventory/{productId}',
      'PUT',
      (productId: string) => ({
        path: `/v1/inventory/${productId}`,
        body: { warehouseId: 'WH-TEST', quantityChange: 5 },
      }),
    ],
  ] as const)('%s moves stock once when a retry runs again after the answer was lost', async (_what, method, call) => {
    const product = await createProduct(system, 10);
    const { path, body } = call(product.id);
    const request = { token: system.tokens.operator, body, headers: { 'idempotency-key': key() } };
    expect((await api(system, method, path, request)).status).toBeLessThan(300);
    // What a 503 after the commit leaves: the stock moved, no stored answer.
    await system.resources.db.idempotencyKey.deleteMany({ where: { key: request.headers['idempotency-key'] } });
    const retry = await api<{ totalOnHand: number }>(system, method, path, request);
    expect(retry.status).toBeLessThan(300);
    expect(retry.body.totalOnHand).toBe(15);
    expect(await stockOf(system, product.id)).toMatchObject({ onHand: 15 });
  });

  describe('amend and cancel use the key as the Temporal update id', () => {
    async function updateIds(orderId: string): Promise<string[]> {
      const history = await system.resources.temporal.workflow.getHandle(`order-${orderId}`).fetchHistory();
      return (history.events ?? []).flatMap((event) => {
        const id = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId;
        return id ? [id] : [];
      });
    }

    it('applies an amendment once even when the stored response is lost', async () => {
      const scarce = await createProduct(system, 1, 700);
      const plenty = await createProduct(system, 10, 300);
      const who = await customer();
      const placed = await api<Order>(system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [{ productId: scarce.id, quantity: 2 }]),
      });
      await eventually(async () => {
        const { body } = await api<Order>(system, 'GET', `/v1/orders/${placed.body.orderId}`, { token: who.token });
        return body.stage === 'BACKORDERED' ? body : undefined;
      });
      const amendKey = key();
      const request = {
        token: who.token,
        body: { items: [{ productId: plenty.id, quantity: 1 }] },
        headers: { 'idempotency-key': amendKey },
      };
      const path = `/v1/orders/${placed.body.orderId}/amendments`;
      const amended = await api<Order>(system, 'POST', path, request);
      expect(amended).toMatchObject({ status: 200, body: { revision: 2 } });
      expect(await updateIds(placed.body.orderId)).toEqual([`key:customer:${who.id}:${amendKey}`]);

      // Lose the stored response: Temporal still knows the update id and returns its first outcome.
      await system.resources.db.idempotencyKey.deleteMany({ where: { key: amendKey } });
      const again = await api<Order>(system, 'POST', path, request);
      expect(again).toMatchObject({ status: 200, body: { revision: 2 } });
      expect(again.headers.get('idempotent-replayed')).toBeNull();
      expect(await updateIds(placed.body.orderId)).toEqual([`key:customer:${who.id}:${amendKey}`]);

      // A new key is a new amendment.
      const next = await api<Order>(system, 'POST', path, { ...request, headers: { 'idempotency-key': key() } });
      expect(next).toMatchObject({ status: 200, body: { revision: 3 } });

      const cancelKey = key();
      const cancelled = await api<Order>(system, 'POST', `/v1/orders/${placed.body.orderId}/cancel`, {
        token: who.token,
        body: {},
        headers: { 'idempotency-key': cancelKey },
      });
      expect(cancelled).toMatchObject({ status: 200, body: { stage: 'CANCELLED' } });
      expect(await updateIds(placed.body.orderId)).toContain(`key:customer:${who.id}:${cancelKey}`);
    });
  });
});
