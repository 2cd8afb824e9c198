import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_ORDER_TOTAL } from '../../src/domain/money.js';
import type { Stage } from '../../src/domain/order.js';
import {
  amendOrderSignal,
  amendOrderUpdate,
  getOrderQuery,
  shipmentUpdateSignal,
} from '../../src/workflows/messages.js';
import type { ActivityMap, TestSystem } from '../support/system.js';
import { createProduct, eventually, http, startSystem, stockOf } from '../support/system.js';
import { expectReplays, gate, handle, openAuthorizations, orderRow, placeOrder, untilStage } from './support.js';

/** For each stage, the activity that runs right after the order reaches it: holding it keeps the order there. */
const HOLD_AT: [Stage, keyof ActivityMap | undefined][] = [
  ['PENDING', 'holdStock'],
  ['INVENTORY_RESERVED', 'authorizePayment'],
  ['PAYMENT_AUTHORIZED', 'notifyCustomer'],
  ['CONFIRMED', 'requestParcels'],
  ['FULFILLING', undefined],
];

describe('order saga - cancellation at every stage before dispatch', () => {
  for (const [stage, activity] of HOLD_AT) {
    it(`cancelled at ${stage}: stock and money restored exactly`, async () => {
      const held = activity ? gate(activity) : undefined;
      const system = await startSystem({ ...(held ? { activities: held.wrap } : {}) });
      try {
        const product = await createProduct(system, 6, 1500);
        const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
        if (held) await held.reached;
        else await untilStage(system, orderId, stage);
        expect((await handle(system, orderId).query(getOrderQuery)).stage).toBe(stage);

        const cancelling = http(system, 'POST', `/v1/orders/${orderId}/cancel`, {
          token,
          body: { reason: 'CUSTOMER_REQUESTED' },
        });
        // The step in flight finishes first: cancellation takes effect at the next step boundary.
        held?.open();
        const cancelled = await cancelling;
        expect(cancelled.status).toBe(200);
        expect(cancelled.body).toMatchObject({
          stage: 'CANCELLED',
          status: 'cancelled',
          cancellationReason: 'CUSTOMER_REQUESTED',
          reservation: { status: 'released', items: [] },
        });
        // Voided if the cancellation landed after the authorization, never authorized if before it.
        expect(['voided', 'none']).toContain((cancelled.body.payment as { status: string }).status);

        expect(await stockOf(system, product.id)).toEqual({ onHand: 6, reserved: 0, available: 6 });
        expect(await openAuthorizations(system, orderId)).toBe(0);
        const row = await orderRow(system, orderId);
        expect(row.payments.filter((p) => p.kind === 'CAPTURE')).toEqual([]);
        for (const shipment of row.shipments) expect(shipment.status).toBe('CANCELLED');
        expect(row.history.at(-1)?.toStage).toBe('CANCELLED');
        await expectReplays(system, orderId, `cancelled-at-${stage.toLowerCase()}`);
      } finally {
        held?.open();
        await system.stop();
      }
    });
  }
});

describe('order saga - cancellation racing dispatch', () => {
  it('refuses a cancellation that arrives while the parcel is being dispatched, and ships', async () => {
    const capturing = gate('capturePayment');
    const system = await startSystem({ activities: capturing.wrap });
    try {
      const product = await createProduct(system, 2);
      const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await untilStage(system, orderId, 'FULFILLING');
      await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
      await capturing.reached;
      const refused = await http(system, 'POST', `/v1/orders/${orderId}/cancel`, {
        token,
        body: { reason: 'CUSTOMER_REQUESTED' },
      });
      expect(refused.status).toBe(409);
      expect(refused.body.message).toMatch(/start a return/);
      capturing.open();
      await untilStage(system, orderId, 'SHIPPED');
      expect(await stockOf(system, product.id)).toEqual({ onHand: 1, reserved: 0, available: 1 });
    } finally {
      capturing.open();
      await system.stop();
    }
  });
});

/**
 * The confirmation notice is sent outside the saga's lock: holding it parks the order at PAYMENT_AUTHORIZED while
 * amendments and cancellations can still run (a step holding the lock would make them wait, by design).
 */
const parkedAtPaymentAuthorized = () => gate('notifyCustomer');

describe('order saga - amendments', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  async function amend(orderId: string, token: string, items: { productId: string; quantity: number }[]) {
    return http(system, 'POST', `/v1/orders/${orderId}/amendments`, { token, body: { items } });
  }

  it('amends up, down and removes a line: stock and the authorization follow, revision and OrderAmended recorded', async () => {
    const shirt = await createProduct(system, 10, 1000);
    const mug = await createProduct(system, 10, 500);
    const held = parkedAtPaymentAuthorized();
    const amendable = await startSystem({ activities: held.wrap });
    try {
      const order = await placeOrder(amendable, [
        { productId: shirt.id, quantity: 2 },
        { productId: mug.id, quantity: 1 },
      ]);
      await held.reached;
      const call = (items: { productId: string; quantity: number }[]) =>
        http(amendable, 'POST', `/v1/orders/${order.orderId}/amendments`, { token: order.token, body: { items } });

      const raised = await call([
        { productId: shirt.id, quantity: 5 },
        { productId: mug.id, quantity: 1 },
      ]);
      expect(raised.status, JSON.stringify(raised.body)).toBe(200);
      expect(raised.body).toMatchObject({
        revision: 2,
        totalAmount: 5500,
        payment: { status: 'authorized', authorizedAmount: 5500 },
      });
      expect(await stockOf(amendable, shirt.id)).toMatchObject({ reserved: 5 });

      const lowered = await call([
        { productId: shirt.id, quantity: 1 },
        { productId: mug.id, quantity: 1 },
      ]);
      expect(lowered.body).toMatchObject({ revision: 3, totalAmount: 1500, payment: { authorizedAmount: 1500 } });
      expect(await stockOf(amendable, shirt.id)).toMatchObject({ reserved: 1 });

      const removed = await call([{ productId: shirt.id, quantity: 1 }]);
      expect(removed.body).toMatchObject({
        revision: 4,
        totalAmount: 1000,
        items: [{ productId: shirt.id, quantity: 1 }],
      });
      expect(await stockOf(amendable, mug.id)).toMatchObject({ reserved: 0 });
      // Every replaced authorization was voided: only the current one holds money.
      expect(await openAuthorizations(amendable, order.orderId)).toBe(1);

      held.open();
      await untilStage(amendable, order.orderId, 'FULFILLING');
      const amended = await eventually(async () => {
        const events = await amendable.resources.db.outbox.findMany({
          where: { aggregateId: order.orderId, type: 'OrderAmended' },
          orderBy: { seq: 'asc' },
        });
        return events.length === 3 ? events : undefined;
      });
      expect(amended.map((e) => (e.envelope as { data: { totalAmount: number } }).data.totalAmount)).toEqual([
        55, 15, 10,
      ]);
      await expectReplays(amendable, order.orderId, 'amended');
    } finally {
      held.open();
      await amendable.stop();
    }
  });

  it('applies an amendment delivered twice (update retried, then the same request as a signal) once', async () => {
    const held = parkedAtPaymentAuthorized();
    const amendable = await startSystem({ activities: held.wrap });
    try {
      const product = await createProduct(amendable, 10, 1000);
      const order = await placeOrder(amendable, [{ productId: product.id, quantity: 1 }]);
      await held.reached;
      const request = { requestId: 'amend-once', items: [{ productId: product.id, quantity: 3 }] };
      const first = await handle(amendable, order.orderId).executeUpdate(amendOrderUpdate, {
        args: [request],
        updateId: 'amend-once',
      });
      const again = await handle(amendable, order.orderId).executeUpdate(amendOrderUpdate, {
        args: [request],
        updateId: 'amend-once',
      });
      await handle(amendable, order.orderId).signal(amendOrderSignal, request);
      expect(again).toEqual(first);
      const view = await handle(amendable, order.orderId).query(getOrderQuery);
      expect(view).toMatchObject({ revision: 2, totalAmount: 3000, rejectedRequests: [] });
      expect(await stockOf(amendable, product.id)).toMatchObject({ reserved: 3 });
    } finally {
      held.open();
      await amendable.stop();
    }
  });

  it('applies an amendment that arrives while the order is being created once the order exists', async () => {
    const creating = gate('createOrder');
    const amendable = await startSystem({ activities: creating.wrap });
    try {
      const product = await createProduct(amendable, 10, 1000);
      // 202: the order is not persisted while createOrder is held.
      const { orderId } = await placeOrder(amendable, [{ productId: product.id, quantity: 1 }], { status: 202 });
      await creating.reached;
      const workflow = handle(amendable, orderId);
      await workflow.signal(amendOrderSignal, {
        requestId: 'while-creating',
        items: [{ productId: product.id, quantity: 2 }],
      });
      // Held until the worker has taken the signal in a workflow task of its own (a heartbeat of the one running
      // createOrder): the amendment's handler has run while the order was still being created.
      await eventually(async () => {
        const events = (await workflow.fetchHistory()).events ?? [];
        const signalled = events.findIndex((event) => event.workflowExecutionSignaledEventAttributes);
        const taken = events.findIndex((event, i) => i > signalled && event.workflowTaskCompletedEventAttributes);
        return signalled >= 0 && taken >= 0 ? true : undefined;
      }, 60_000);
      creating.open();

      await untilStage(amendable, orderId, 'FULFILLING');
      const row = await orderRow(amendable, orderId);
      expect(row).toMatchObject({ revision: 2, totalAmount: 2000n });
      expect(await stockOf(amendable, product.id)).toEqual({ onHand: 10, reserved: 2, available: 8 });
      const authorizations = row.payments.filter((p) => p.kind === 'AUTHORIZATION' && p.status === 'SUCCEEDED');
      expect(authorizations.map((p) => p.amount)).toEqual([2000n]);
      expect((await workflow.query(getOrderQuery)).rejectedRequests).toEqual([]);
      await expectReplays(amendable, orderId, 'amended-while-being-created');
    } finally {
      creating.open();
      await amendable.stop();
    }
  });

  it('refuses an amendment after dispatch', async () => {
    const product = await createProduct(system, 3);
    const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
    await untilStage(system, orderId, 'FULFILLING');
    await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
    await untilStage(system, orderId, 'SHIPPED');
    const refused = await amend(orderId, token, [{ productId: product.id, quantity: 2 }]);
    expect(refused.status).toBe(409);
    // A Temporal client (a script, the Web UI) is refused by the validator under a stable failure type.
    const direct = await handle(system, orderId)
      .executeUpdate(amendOrderUpdate, {
        args: [{ requestId: randomUUID(), items: [{ productId: product.id, quantity: 2 }] }],
      })
      .catch((error: unknown) => error);
    expect(direct).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((direct as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'AmendmentRejected' });
    expect((await orderRow(system, orderId)).revision).toBe(1);
  });

  it('refuses an amendment the stock cannot cover and leaves the order as it was', async () => {
    const held = parkedAtPaymentAuthorized();
    const amendable = await startSystem({ activities: held.wrap });
    try {
      const product = await createProduct(amendable, 3);
      const order = await placeOrder(amendable, [{ productId: product.id, quantity: 2 }]);
      await held.reached;
      const refused = await http(amendable, 'POST', `/v1/orders/${order.orderId}/amendments`, {
        token: order.token,
        body: { items: [{ productId: product.id, quantity: 4 }] },
      });
      expect(refused.status).toBe(409);
      expect(refused.body.message).toMatch(/not enough stock/);
      expect(await stockOf(amendable, product.id)).toEqual({ onHand: 3, reserved: 2, available: 1 });
      expect((await orderRow(amendable, order.orderId)).revision).toBe(1);
    } finally {
      held.open();
      await amendable.stop();
    }
  });

  it('refuses an amendment above MAX_ORDER_TOTAL, as an update (422) and as a signal (rejected)', async () => {
    const held = parkedAtPaymentAuthorized();
    const amendable = await startSystem({ activities: held.wrap });
    try {
      // Half the cap: one unit is a valid order, three are not.
      const product = await createProduct(amendable, 5, MAX_ORDER_TOTAL / 2);
      const order = await placeOrder(amendable, [{ productId: product.id, quantity: 1 }]);
      await held.reached;
      const tooMuch = [{ productId: product.id, quantity: 3 }];
      const refused = await http(amendable, 'POST', `/v1/orders/${order.orderId}/amendments`, {
        token: order.token,
        body: { items: tooMuch },
      });
      expect(refused.status).toBe(422);
      await handle(amendable, order.orderId).signal(amendOrderSignal, { requestId: 'too-much', items: tooMuch });
      const view = await eventually(async () => {
        const v = await handle(amendable, order.orderId).query(getOrderQuery);
        return v.rejectedRequests.length ? v : undefined;
      });
      expect(view.rejectedRequests).toEqual([
        { kind: 'amendOrder', requestId: 'too-much', reason: expect.stringMatching(/exceeds the maximum/) as string },
      ]);
      expect(view).toMatchObject({ revision: 1, totalAmount: MAX_ORDER_TOTAL / 2 });
      expect(await stockOf(amendable, product.id)).toMatchObject({ reserved: 1 });
      const row = await orderRow(amendable, order.orderId);
      expect({ revision: row.revision, total: Number(row.totalAmount) }).toEqual({
        revision: 1,
        total: MAX_ORDER_TOTAL / 2,
      });
    } finally {
      held.open();
      await amendable.stop();
    }
  });

  it('records an invalid amendment signal as rejected without failing the order', async () => {
    const product = await createProduct(system, 3);
    const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
    await untilStage(system, orderId, 'FULFILLING');
    await handle(system, orderId).signal(amendOrderSignal, { requestId: 'from-the-web-ui', items: [] });
    const view = await eventually(async () => {
      const v = await handle(system, orderId).query(getOrderQuery);
      return v.rejectedRequests.length ? v : undefined;
    });
    expect(view.rejectedRequests).toEqual([
      {
        kind: 'amendOrder',
        requestId: 'from-the-web-ui',
        reason: expect.stringMatching(/no longer be amended|at least one item/) as string,
      },
    ]);
    expect(view.stage).toBe('FULFILLING');
  });

  it('serialises an amendment racing a cancellation: the order ends cancelled with nothing held', async () => {
    const held = parkedAtPaymentAuthorized();
    const racing = await startSystem({ activities: held.wrap });
    try {
      const product = await createProduct(racing, 10, 1000);
      const order = await placeOrder(racing, [{ productId: product.id, quantity: 2 }]);
      await held.reached;
      held.open();
      const [amended, cancelled] = await Promise.all([
        http(racing, 'POST', `/v1/orders/${order.orderId}/amendments`, {
          token: order.token,
          body: { items: [{ productId: product.id, quantity: 3 }] },
        }),
        http(racing, 'POST', `/v1/orders/${order.orderId}/cancel`, {
          token: order.token,
          body: { reason: 'CUSTOMER_REQUESTED' },
        }),
      ]);
      expect([200, 409]).toContain(amended.status);
      expect(cancelled.status).toBe(200);
      await untilStage(racing, order.orderId, 'CANCELLED');
      expect(await stockOf(racing, product.id)).toEqual({ onHand: 10, reserved: 0, available: 10 });
      expect(await openAuthorizations(racing, order.orderId)).toBe(0);
      await expectReplays(racing, order.orderId);
    } finally {
      held.open();
      await racing.stop();
    }
  });
});
