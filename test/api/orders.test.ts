import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, orderBody, startSystem, stockOf } from '../support/system.js';
import { gate } from '../saga/support.js';
import { api, expectProblem, newCustomer, startExtraApi } from './support.js';

type Order = Record<string, unknown> & { orderId: string; stage: string; revision: number };

describe('orders over HTTP', () => {
  let system: TestSystem;
  beforeAll(async () => {
    // Backordering on, so an order for more than the stock waits in BACKORDERED, where it can still be amended.
    system = await startSystem({ config: { BACKORDER_WINDOW: '1h' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  const customer = () => newCustomer(system);

  /** Places an order and waits until it reaches `stage`. */
  async function placedOrder(
    who: { id: string; token: string },
    items: { productId: string; quantity: number }[],
    stage = 'FULFILLING'
  ): Promise<Order> {
    const placed = await api<Order>(system, 'POST', '/v1/orders', { token: who.token, body: orderBody(who.id, items) });
    expect(placed.status).toBe(201);
    return eventually(
      async () => {
        const { body } = await api<Order>(system, 'GET', `/v1/orders/${placed.body.orderId}`, { token: who.token });
        return body.stage === stage ? body : undefined;
      },
      20_000,
      `order in ${stage}`
    );
  }

  describe('POST /v1/orders', () => {
    it('answers 201 with the persisted order, priced from the catalog, and its Location', async () => {
      const product = await createProduct(system, 10, 1250);
      const who = await customer();
      const placed = await api<Order>(system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [{ productId: product.id, quantity: 3 }]),
      });
      expect(placed.status).toBe(201);
      expect(placed.headers.get('location')).toBe(`/v1/orders/${placed.body.orderId}`);
      expect(placed.body).toMatchObject({
        id: placed.body.orderId,
        customerId: who.id,
        status: 'pending',
        currency: 'USD',
        totalAmount: 3750,
        total: { amount: 3750, currency: 'USD' },
        items: [{ productId: product.id, sku: product.sku, quantity: 3, price: 1250, lineTotal: 3750 }],
      });
    });

    it('answers Prefer: wait with the confirmed order in one call, and a retry with the key with the same order', async () => {
      const product = await createProduct(system, 10);
      const who = await customer();
      const request = {
        token: who.token,
        body: orderBody(who.id, [{ productId: product.id, quantity: 2 }]),
        headers: { prefer: 'wait=20', 'idempotency-key': `wait-${randomUUID()}` },
      };
      const placed = await api<Order>(system, 'POST', '/v1/orders', request);
      expect(placed.status).toBe(201);
      expect(placed.body).toMatchObject({ id: placed.body.orderId, customerId: who.id });
      // Confirmed: the shipment request that follows may already have moved it on when its row is read.
      expect(['CONFIRMED', 'FULFILLING']).toContain(placed.body.stage);
      expect(placed.headers.get('location')).toBe(`/v1/orders/${placed.body.orderId}`);

      const retried = await api<Order>(system, 'POST', '/v1/orders', request);
      expect(retried.status).toBe(201);
      expect(retried.body.orderId).toBe(placed.body.orderId);
      expect(await system.resources.db.order.count({ where: { customerId: who.id } })).toBe(1);
    });

    it('answers Prefer: wait with the refusal in one call: a declined card cancelled, a shortage backordered', async () => {
      const product = await createProduct(system, 1);
      const who = await customer();
      const wait = { prefer: 'wait=20' };
      const declined = await api<Order>(system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [{ productId: product.id, quantity: 1 }], 'tok_chargeDeclined'),
        headers: wait,
      });
      expect(declined.status).toBe(201);
      expect(declined.body).toMatchObject({ stage: 'CANCELLED', cancellationReason: 'PAYMENT_FAILED' });

      const short = await api<Order>(system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [{ productId: product.id, quantity: 2 }]),
        headers: wait,
      });
      expect(short.status).toBe(201);
      expect(short.body).toMatchObject({ stage: 'BACKORDERED' });
    });

    it('accepts a client price equal to the catalog price', async () => {
      const product = await createProduct(system, 5, 999);
      const who = await customer();
      const placed = await api(system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [{ productId: product.id, quantity: 1, price: 999 } as never]),
      });
      expect(placed.status).toBe(201);
    });

    it('is 422 with field-level details for unknown products, wrong prices and another currency', async () => {
      const usd = await createProduct(system, 5, 1000);
      const other = await createProduct(system, 5, 500);
      const who = await customer();
      const unknown = randomUUID();
      const result = await api(system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [
          { productId: unknown, quantity: 1 },
          { productId: usd.id, quantity: 1, price: 1001 } as never,
          { productId: other.id, quantity: 1, price: 500 } as never,
        ]),
      });
      const problem = expectProblem(result, 422, 'VALIDATION_FAILED');
      expect(problem.errors).toEqual([
        { field: 'items.0.productId', message: `unknown product ${unknown}` },
        { field: 'items.1.price', message: 'the price is 1000, not 1001' },
      ]);
      expect(problem.details).toEqual([
        `items.0.productId: unknown product ${unknown}`,
        'items.1.price: the price is 1000, not 1001',
      ]);

      const euro = await api(system, 'POST', '/v1/orders', {
        token: who.token,
        body: { ...orderBody(who.id, [{ productId: usd.id, quantity: 1 }]), currency: 'EUR' },
      });
      expect(expectProblem(euro, 422, 'VALIDATION_FAILED').errors).toEqual([
        { field: 'items.0.productId', message: 'priced in USD, not EUR' },
      ]);
    });

    it.each([
      ['no items', [], 'body.items'],
      [
        'more than 50 lines',
        Array.from({ length: 51 }, () => ({ productId: randomUUID(), quantity: 1 })),
        'body.items',
      ],
      ['quantity 0', [{ productId: randomUUID(), quantity: 0 }], 'body.items.0.quantity'],
      ['quantity over 1000', [{ productId: randomUUID(), quantity: 1001 }], 'body.items.0.quantity'],
      ['a fractional quantity', [{ productId: randomUUID(), quantity: 1.5 }], 'body.items.0.quantity'],
      ['a product id that is no UUID', [{ productId: 'sku-1', quantity: 1 }], 'body.items.0.productId'],
    ])('is 422 for %s, naming the field', async (_what, items, field) => {
      const who = await customer();
      const result = await api(system, 'POST', '/v1/orders', { token: who.token, body: orderBody(who.id, items) });
      const problem = expectProblem(result, 422, 'VALIDATION_FAILED');
      expect(problem.errors.map((e) => e.field)).toContain(field);
    });

    it('is 422 for the same product on two lines', async () => {
      const who = await customer();
      const productId = randomUUID();
      const result = await api(system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [
          { productId, quantity: 1 },
          { productId, quantity: 2 },
        ]),
      });
      expect(expectProblem(result, 422).errors).toEqual([
        { field: 'body.items', message: 'each product may appear once' },
      ]);
    });

    it('is 422 for a total above the cap (1,000 x 1,000,000.00 would overflow a 32-bit total), placing nothing', async () => {
      const who = await customer();
      const expensive = await createProduct(system, 2_000, 100_000_000);
      const result = await api(system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [{ productId: expensive.id, quantity: 1_000 }]),
      });
      const problem = expectProblem(result, 422, 'VALIDATION_FAILED');
      expect(problem.errors.map((e) => e.field)).toEqual(['items']);
      expect(await system.resources.db.order.count({ where: { customerId: who.id } })).toBe(0);
    });

    it('reports every invalid field at once, including unknown ones', async () => {
      const who = await customer();
      const result = await api(system, 'POST', '/v1/orders', {
        token: who.token,
        body: { ...orderBody(who.id, []), currency: 'usd', status: 'completed', shippingAddress: { city: 'X' } },
      });
      const fields = expectProblem(result, 422).errors.map((e) => e.field);
      expect(fields).toEqual(
        expect.arrayContaining([
          'body',
          'body.items',
          'body.currency',
          'body.shippingAddress.street',
          'body.shippingAddress.postalCode',
          'body.shippingAddress.country',
        ])
      );
      expect((result.body as { details: string[] }).details.some((d) => d.includes('status'))).toBe(true);
    });
  });

  describe('202 while the worker is behind', () => {
    it('answers 202 + Location when the workflow has not persisted the order within ORDER_CREATE_WAIT', async () => {
      const product = await createProduct(system, 5);
      const who = await customer();
      const other = await customer();
      const extra = await startExtraApi(system, { config: { ORDER_CREATE_WAIT: 200 } });
      await system.stopWorkers();
      let restarted = false;
      try {
        const placed = await api<{ orderId: string; status: string; location: string }>(
          extra.system,
          'POST',
          '/v1/orders',
          { token: who.token, body: orderBody(who.id, [{ productId: product.id, quantity: 1 }]) }
        );
        expect(placed.status).toBe(202);
        const location = `/v1/orders/${placed.body.orderId}`;
        expect(placed.body).toEqual({ orderId: placed.body.orderId, status: 'accepted', location });
        expect(placed.headers.get('location')).toBe(location);

        // The location answers 202 until the order is persisted; it stays hidden from other customers.
        const pending = await api(extra.system, 'GET', location, { token: who.token });
        expect(pending).toMatchObject({ status: 202, body: { orderId: placed.body.orderId, status: 'accepted' } });
        expectProblem(await api(extra.system, 'GET', location, { token: other.token }), 404, 'NOT_FOUND');

        await system.startWorker();
        restarted = true;
        const persisted = await eventually(async () => {
          const got = await api<Order>(extra.system, 'GET', location, { token: who.token });
          return got.status === 200 ? got.body : undefined;
        });
        expect(persisted).toMatchObject({ orderId: placed.body.orderId, customerId: who.id });
      } finally {
        if (!restarted) await system.startWorker();
        await extra.close();
      }
    });

    it('answers Prefer: wait with 202 + Location when checkout outlasts the wait; the key, retried, joins that saga', async () => {
      const product = await createProduct(system, 5);
      const who = await customer();
      const slowPayment = gate('authorizePayment');
      await system.stopWorkers();
      await system.startWorker({ activities: slowPayment.wrap });
      try {
        const key = `slow-${randomUUID()}`;
        const request = (wait: number) => ({
          token: who.token,
          body: orderBody(who.id, [{ productId: product.id, quantity: 1 }]),
          headers: { prefer: `wait=${wait}`, 'idempotency-key': key },
        });
        const placed = await api<{ orderId: string }>(system, 'POST', '/v1/orders', request(1));
        expect(placed.status).toBe(202);
        const location = `/v1/orders/${placed.body.orderId}`;
        expect(placed.body).toEqual({ orderId: placed.body.orderId, status: 'accepted', location });
        expect(placed.headers.get('location')).toBe(location);
        await slowPayment.reached;

        // Once the stored answer expired the request runs again: its Update-with-Start joins the saga under way.
        await system.resources.db.idempotencyKey.updateMany({ where: { key }, data: { expiresAt: new Date(0) } });
        const retrying = api<Order>(system, 'POST', '/v1/orders', request(20));
        slowPayment.open();
        const retried = await retrying;
        expect(retried.status).toBe(201);
        expect(retried.body.orderId).toBe(placed.body.orderId);
        expect(['CONFIRMED', 'FULFILLING']).toContain(retried.body.stage);
        expect(await system.resources.db.order.count({ where: { customerId: who.id } })).toBe(1);
        const runs = system.resources.temporal.workflow.list({ query: `WorkflowId = 'order-${placed.body.orderId}'` });
        let count = 0;
        for await (const run of runs) if (run.workflowId) count += 1;
        expect(count).toBe(1);
      } finally {
        slowPayment.open();
        await system.stopWorkers();
        await system.startWorker();
      }
    });
  });

  describe('reading and listing', () => {
    it('shows customers their own orders and hides other customers\u2019 orders as 404', async () => {
      const product = await createProduct(system, 10);
      const owner = await customer();
      const stranger = await customer();
      const order = await placedOrder(owner, [{ productId: product.id, quantity: 1 }]);
      const path = `/v1/orders/${order.orderId}`;
      expect((await api(system, 'GET', path, { token: owner.token })).status).toBe(200);
      expect((await api(system, 'GET', path, { token: system.tokens.operator })).status).toBe(200);
      expect((await api(system, 'GET', path, { token: system.tokens.service })).status).toBe(200);
      for (const sub of ['', '/events', '/payment']) {
        expectProblem(await api(system, 'GET', `${path}${sub}`, { token: stranger.token }), 404, 'NOT_FOUND');
      }
      expectProblem(await api(system, 'GET', `/v1/orders/${randomUUID()}`, { token: owner.token }), 404, 'NOT_FOUND');
      const bad = expectProblem(await api(system, 'GET', '/v1/orders/not-a-uuid', { token: owner.token }), 422);
      expect(bad.errors.map((e) => e.field)).toEqual(['path.orderId']);
    });

    it('lists with pagination, newest first, each customer only their own', async () => {
      const product = await createProduct(system, 10);
      const owner = await customer();
      const stranger = await customer();
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const placed = await api<Order>(system, 'POST', '/v1/orders', {
          token: owner.token,
          body: orderBody(owner.id, [{ productId: product.id, quantity: 1 }]),
        });
        ids.push(placed.body.orderId);
      }
      type List = { items: Order[]; pagination: Record<string, number> };
      const first = await api<List>(system, 'GET', '/v1/orders?limit=2&page=1', { token: owner.token });
      expect(first.status).toBe(200);
      expect(first.body.pagination).toEqual({ totalItems: 3, totalPages: 2, currentPage: 1, itemsPerPage: 2 });
      const second = await api<List>(system, 'GET', '/v1/orders?limit=2&page=2', { token: owner.token });
      expect(second.body.pagination).toEqual({ totalItems: 3, totalPages: 2, currentPage: 2, itemsPerPage: 2 });
      expect([...first.body.items, ...second.body.items].map((o) => o.orderId).sort()).toEqual([...ids].sort());
      expect(first.body.items.every((o) => o.customerId === owner.id)).toBe(true);

      const theirs = await api<List>(system, 'GET', '/v1/orders', { token: stranger.token });
      expect(theirs.body.items).toEqual([]);
      expectProblem(
        await api(system, 'GET', `/v1/orders?customerId=${owner.id}`, { token: stranger.token }),
        403,
        'FORBIDDEN'
      );
      const byOperator = await api<List>(system, 'GET', `/v1/orders?customerId=${owner.id}&status=pending&limit=100`, {
        token: system.tokens.operator,
      });
      expect(byOperator.body.items.every((o) => o.customerId === owner.id && o.status === 'pending')).toBe(true);

      for (const query of ['limit=0', 'limit=101', 'page=0', 'page=x', 'status=shipped', 'customerId=x', 'sort=asc']) {
        expectProblem(
          await api(system, 'GET', `/v1/orders?${query}`, { token: owner.token }),
          422,
          'VALIDATION_FAILED'
        );
      }
    });
  });

  describe('changing an order', () => {
    it('amends a backordered order (200, new revision), a fulfilling one too, and refuses once shipped (409)', async () => {
      const scarce = await createProduct(system, 1, 700);
      const plenty = await createProduct(system, 10, 300);
      const owner = await customer();
      const stranger = await customer();
      const backordered = await placedOrder(owner, [{ productId: scarce.id, quantity: 2 }], 'BACKORDERED');
      const amendments = `/v1/orders/${backordered.orderId}/amendments`;

      const amended = await api<Order>(system, 'POST', amendments, {
        token: owner.token,
        body: { items: [{ productId: plenty.id, quantity: 2 }] },
      });
      expect(amended.status).toBe(200);
      expect(amended.body).toMatchObject({
        revision: 2,
        totalAmount: 600,
        items: [{ productId: plenty.id, quantity: 2 }],
      });

      expectProblem(
        await api(system, 'POST', amendments, {
          token: stranger.token,
          body: { items: [{ productId: plenty.id, quantity: 1 }] },
        }),
        404,
        'NOT_FOUND'
      );
      const unknown = randomUUID();
      const refused = await api(system, 'POST', amendments, {
        token: owner.token,
        body: { items: [{ productId: unknown, quantity: 1 }] },
      });
      expect(expectProblem(refused, 422, 'VALIDATION_FAILED').errors[0]?.field).toBe('items.0.productId');
      expectProblem(await api(system, 'POST', amendments, { token: owner.token, body: {} }), 422, 'VALIDATION_FAILED');
      expectProblem(
        await api(system, 'POST', amendments, { token: owner.token, body: { note: 'x', items: [] } }),
        422,
        'VALIDATION_FAILED'
      );

      // Accepted until dispatch (SPEC section 2): a fulfilling order is amended, a shipped one is not.
      const fulfilling = await placedOrder(owner, [{ productId: plenty.id, quantity: 1 }]);
      const fulfillingAmendments = `/v1/orders/${fulfilling.orderId}/amendments`;
      const whileFulfilling = await api<Order>(system, 'POST', fulfillingAmendments, {
        token: owner.token,
        body: { items: [{ productId: plenty.id, quantity: 2 }] },
      });
      expect(whileFulfilling).toMatchObject({
        status: 200,
        body: { stage: 'FULFILLING', revision: 2, totalAmount: 600 },
      });
      const shipmentId = (whileFulfilling.body.shipment as { shipmentId: string }).shipmentId;
      await api(system, 'PUT', `/v1/shipments/${shipmentId}/status`, {
        token: system.tokens.service,
        body: { status: 'shipped' },
      });
      await eventually(async () => {
        const { body } = await api<Order>(system, 'GET', `/v1/orders/${fulfilling.orderId}`, { token: owner.token });
        return body.stage === 'SHIPPED' ? body : undefined;
      });
      const late = await api(system, 'POST', fulfillingAmendments, {
        token: owner.token,
        body: { items: [{ productId: plenty.id, quantity: 3 }] },
      });
      expectProblem(late, 409, 'ORDER_NOT_AMENDABLE');
    });

    it('cancels before dispatch (200), again idempotently, and refuses after dispatch (409)', async () => {
      const product = await createProduct(system, 10, 400);
      const owner = await customer();
      const stranger = await customer();
      const order = await placedOrder(owner, [{ productId: product.id, quantity: 2 }]);
      const cancel = `/v1/orders/${order.orderId}/cancel`;

      expectProblem(await api(system, 'POST', cancel, { token: stranger.token, body: {} }), 404, 'NOT_FOUND');
      expectProblem(
        await api(system, 'POST', cancel, { token: owner.token, body: { reason: 'FRAUD' } }),
        403,
        'FORBIDDEN'
      );
      expectProblem(await api(system, 'POST', cancel, { token: owner.token, body: { reason: 'BORED' } }), 422);

      const cancelled = await api<Order>(system, 'POST', cancel, { token: owner.token, body: {} });
      expect(cancelled.status).toBe(200);
      expect(cancelled.body).toMatchObject({
        stage: 'CANCELLED',
        status: 'cancelled',
        cancellationReason: 'CUSTOMER_REQUESTED',
        payment: { status: 'voided' },
      });
      expect(await stockOf(system, product.id)).toEqual({ onHand: 10, reserved: 0, available: 10 });
      const again = await api<Order>(system, 'POST', cancel, { token: owner.token, body: {} });
      expect(again).toMatchObject({ status: 200, body: { stage: 'CANCELLED' } });

      const shipped = await placedOrder(owner, [{ productId: product.id, quantity: 1 }]);
      const shipmentId = (shipped.shipment as { shipmentId: string }).shipmentId;
      expect(
        (
          await api(system, 'PUT', `/v1/shipments/${shipmentId}/status`, {
            token: system.tokens.service,
            body: { status: 'shipped' },
          })
        ).status
      ).toBe(200);
      await eventually(async () => {
        const { body } = await api<Order>(system, 'GET', `/v1/orders/${shipped.orderId}`, { token: owner.token });
        return body.stage === 'SHIPPED' ? body : undefined;
      });
      const tooLate = await api(system, 'POST', `/v1/orders/${shipped.orderId}/cancel`, {
        token: owner.token,
        body: {},
      });
      expect(expectProblem(tooLate, 409, 'ORDER_NOT_CANCELLABLE').detail).toContain('start a return');

      // Delivered: once the workflow is closed, a change is a clean 409.
      await api(system, 'PUT', `/v1/shipments/${shipmentId}/status`, {
        token: system.tokens.service,
        body: { status: 'delivered' },
      });
      const handle = system.resources.temporal.workflow.getHandle(`order-${shipped.orderId}`);
      await eventually(async () => ((await handle.describe()).status.name === 'COMPLETED' ? true : undefined));
      expectProblem(
        await api(system, 'POST', `/v1/orders/${shipped.orderId}/cancel`, { token: owner.token, body: {} }),
        409,
        'ORDER_NOT_CANCELLABLE'
      );
      expectProblem(
        await api(system, 'PUT', `/v1/shipments/${shipmentId}/status`, {
          token: system.tokens.service,
          body: { status: 'shipped' },
        }),
        409,
        'CONFLICT'
      );
    });

    it('PATCH {status: cancelled} cancels; other statuses are 409; foreign or missing orders 404', async () => {
      const product = await createProduct(system, 10);
      const owner = await customer();
      const stranger = await customer();
      const order = await placedOrder(owner, [{ productId: product.id, quantity: 1 }]);
      const path = `/v1/orders/${order.orderId}`;
      const driven = await api(system, 'PATCH', path, { token: owner.token, body: { status: 'completed' } });
      expect(expectProblem(driven, 409, 'CONFLICT').detail).toContain('only set cancelled');
      expectProblem(await api(system, 'PATCH', path, { token: stranger.token, body: { status: 'completed' } }), 404);
      expectProblem(
        await api(system, 'PATCH', `/v1/orders/${randomUUID()}`, { token: owner.token, body: { status: 'cancelled' } }),
        404
      );
      expectProblem(await api(system, 'PATCH', path, { token: owner.token, body: { status: 'lost' } }), 422);
      const cancelled = await api(system, 'PATCH', path, { token: owner.token, body: { status: 'cancelled' } });
      expect(cancelled).toMatchObject({ status: 200, body: { stage: 'CANCELLED', status: 'cancelled' } });
    });
  });

  describe('events, payment and notifications of an order', () => {
    it('lists the order events in order, the payment status and the customer notifications', async () => {
      const product = await createProduct(system, 10, 2500);
      const owner = await customer();
      const stranger = await customer();
      const order = await placedOrder(owner, [{ productId: product.id, quantity: 2 }]);

      const events = await api<{ events: { type: string }[] }>(system, 'GET', `/v1/orders/${order.orderId}/events`, {
        token: owner.token,
      });
      expect(events.status).toBe(200);
      const types = events.body.events.map((e) => e.type);
      expect(types[0]).toBe('OrderCreated');
      expect(types.indexOf('PaymentProcessed')).toBeGreaterThan(types.indexOf('PaymentInitiated'));
      expect(types).toContain('OrderConfirmed');

      const payment = await api(system, 'GET', `/v1/orders/${order.orderId}/payment`, { token: owner.token });
      expect(payment).toMatchObject({
        status: 200,
        body: { orderId: order.orderId, paymentStatus: 'pending', amount: 50, currency: 'USD', paymentMethod: 'card' },
      });

      type Inbox = { notifications: { notificationId: string; metadata: { orderId: string } }[] };
      const inbox = await eventually(async () => {
        const got = await api<Inbox>(system, 'GET', `/v1/users/${owner.id}/notifications`, { token: owner.token });
        return got.body.notifications.length > 0 ? got.body : undefined;
      });
      expect(inbox.notifications[0]?.metadata.orderId).toBe(order.orderId);
      const id = inbox.notifications[0]!.notificationId;
      expect((await api(system, 'GET', `/v1/notifications/${id}`, { token: owner.token })).status).toBe(200);
      expectProblem(await api(system, 'GET', `/v1/notifications/${id}`, { token: stranger.token }), 404);
      expectProblem(await api(system, 'GET', `/v1/users/${owner.id}/notifications`, { token: stranger.token }), 404);
      const unread = await api(system, 'GET', `/v1/users/${owner.id}/notifications?status=unread`, {
        token: system.tokens.operator,
      });
      expect(unread.status).toBe(200);
    });
  });

  describe('catalog, stock and shipments', () => {
    it('creates products (operator), reads them at their Location, and refuses duplicate SKUs (409)', async () => {
      const sku = `API-${randomUUID().slice(0, 8)}`;
      const body = { sku, name: 'Widget', unitPrice: 1500, currency: 'USD' };
      const created = await api<{ id: string }>(system, 'POST', '/v1/products', {
        token: system.tokens.operator,
        body,
      });
      expect(created).toMatchObject({ status: 201, body: { sku, available: 0, unitPrice: 1500 } });
      const location = created.headers.get('location')!;
      expect(location).toBe(`/v1/products/${created.body.id}`);
      expect(await api(system, 'GET', location, { token: (await customer()).token })).toMatchObject({
        status: 200,
        body: { id: created.body.id, sku },
      });
      expectProblem(
        await api(system, 'POST', '/v1/products', { token: system.tokens.operator, body }),
        409,
        'CONFLICT'
      );
      expectProblem(await api(system, 'GET', `/v1/products/${randomUUID()}`, { token: system.tokens.operator }), 404);
      const list = await api<{ items: { sku: string }[] }>(system, 'GET', '/v1/products?limit=100', {
        token: system.tokens.service,
      });
      expect(list.status).toBe(200);
    });

    it('adds, changes, lists and removes stock; refuses to remove reserved units (409)', async () => {
      const product = await createProduct(system, 0, 100);
      const service = system.tokens.service;
      const added = await api(system, 'POST', '/v1/inventory', {
        token: service,
        body: { productId: product.id, quantity: 5, warehouseId: 'WH-1', timestamp: new Date().toISOString() },
      });
      expect(added).toMatchObject({ status: 201, body: { productId: product.id, totalOnHand: 5, totalAvailable: 5 } });
      const changed = await api(system, 'PUT', `/v1/inventory/${product.id}`, {
        token: service,
        body: { quantityChange: -2, warehouseId: 'WH-1' },
      });
      expect(changed).toMatchObject({ status: 200, body: { totalOnHand: 3 } });
      expectProblem(
        await api(system, 'PUT', `/v1/inventory/${product.id}`, {
          token: service,
          body: { quantityChange: -4, warehouseId: 'WH-1' },
        }),
        409,
        'CONFLICT'
      );
      expectProblem(
        await api(system, 'PUT', `/v1/inventory/${randomUUID()}`, {
          token: service,
          body: { quantityChange: 1, warehouseId: 'WH-1' },
        }),
        404
      );
      expectProblem(
        await api(system, 'PUT', `/v1/inventory/${product.id}`, {
          token: service,
          body: { quantityChange: 0, warehouseId: 'WH-1' },
        }),
        422
      );
      const status = await api(system, 'GET', `/v1/inventory/${product.id}/status`, {
        token: (await customer()).token,
      });
      expect(status).toMatchObject({ status: 200, body: { locations: [{ warehouseId: 'WH-1', onHand: 3 }] } });
      expect((await api(system, 'GET', '/v1/inventory?limit=5', { token: service })).status).toBe(200);

      const owner = await customer();
      await placedOrder(owner, [{ productId: product.id, quantity: 1 }]);
      const removed = await api(system, 'DELETE', `/v1/inventory/${product.id}`, { token: system.tokens.operator });
      expect(removed).toMatchObject({ status: 200, body: { totalOnHand: 1, totalReserved: 1, totalAvailable: 0 } });
      expectProblem(
        await api(system, 'DELETE', `/v1/inventory/${randomUUID()}`, { token: system.tokens.operator }),
        404
      );
    });

    it('accepts shipment updates from services (200) and answers 404 for unknown shipments', async () => {
      expectProblem(
        await api(system, 'PUT', `/v1/shipments/${randomUUID()}/status`, {
          token: system.tokens.service,
          body: { status: 'shipped' },
        }),
        404,
        'NOT_FOUND'
      );
      expectProblem(
        await api(system, 'PUT', `/v1/shipments/${randomUUID()}/status`, {
          token: system.tokens.service,
          body: { status: 'lost' },
        }),
        422
      );
    });
  });
});
