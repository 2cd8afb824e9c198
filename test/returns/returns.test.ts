import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateEventData } from '../../src/events/contracts.js';
import { getReturnQuery, retryReturnUpdate, returnWorkflowId } from '../../src/workflows/return-messages.js';
import { checkStockAndMoney } from '../support/invariants.js';
import type { Observed } from '../support/invariants.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, http, startSystem, stockOf } from '../support/system.js';
import { expectReplays, placeOrder, untilStage } from '../saga/support.js';

type Body = Record<string, unknown>;
interface ReturnBody {
  returnId: string;
  status: string;
  refundAmount: number;
  refundedAmount: number;
  items: { productId: string; quantity: number }[];
}

describe('returns after dispatch', () => {
  let system: TestSystem;
  const observed: Observed = { stockAdded: new Map(), responses: [], orderIds: [] };

  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  async function product(stock: number, unitPrice: number) {
    const created = await createProduct(system, stock, unitPrice);
    observed.stockAdded.set(created.id, stock);
    return created;
  }

  /** Places an order and lets the carrier take it as far as `until`. */
  async function dispatchedOrder(items: { productId: string; quantity: number }[], until: 'shipped' | 'delivered') {
    const placed = await placeOrder(system, items);
    observed.orderIds.push(placed.orderId);
    const view = await untilStage(system, placed.orderId, 'FULFILLING');
    const carrier = async (status: string) => {
      const answer = await http(system, 'PUT', `/v1/shipments/${view.shipment!.shipmentId}/status`, {
        token: system.tokens.service,
        body: { status },
      });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    };
    await carrier('shipped');
    await eventually(async () => ((await orderOf(placed.orderId)).stage === 'SHIPPED' ? true : undefined));
    if (until === 'delivered') {
      await carrier('delivered');
      await eventually(async () => ((await orderOf(placed.orderId)).stage === 'COMPLETED' ? true : undefined));
    }
    return placed;
  }

  async function orderOf(orderId: string) {
    return (await http(system, 'GET', `/v1/orders/${orderId}`, { token: system.tokens.operator })).body as Body & {
      stage: string;
      returns: ReturnBody[];
      payment: { capturedAmount: number | null; refundedAmount: number };
    };
  }

  function requestReturn(orderId: string, token: string, items: { productId: string; quantity: number }[]) {
    return http<ReturnBody & Body>(system, 'POST', `/v1/orders/${orderId}/returns`, {
      token,
      headers: { 'Idempotency-Key': `return-${randomUUID()}` },
      body: { items, reason: 'does not fit' },
    });
  }

  function settle(returnId: string, body: Body) {
    return http<ReturnBody & Body>(system, 'PUT', `/v1/returns/${returnId}/status`, {
      token: system.tokens.service,
      headers: { 'Idempotency-Key': `settle-${randomUUID()}` },
      body,
    });
  }

  async function refunds(orderId: string) {
    const payments = await system.resources.db.payment.findMany({ where: { orderId, kind: 'REFUND' } });
    return payments.map((payment) => Number(payment.amount));
  }

  it('refunds exactly the returned part of a delivered order and restocks it', async () => {
    const shirt = await product(10, 2500);
    const socks = await product(10, 1000);
    const { orderId, token } = await dispatchedOrder(
      [
        { productId: shirt.id, quantity: 3 },
        { productId: socks.id, quantity: 1 },
      ],
      'delivered'
    );
    expect(await stockOf(system, shirt.id)).toMatchObject({ onHand: 7 });

    const requested = await requestReturn(orderId, token, [{ productId: shirt.id, quantity: 1 }]);
    expect(requested.status, JSON.stringify(requested.body)).toBe(201);
    expect(requested.body).toMatchObject({ status: 'requested', refundAmount: 2500, refundedAmount: 0 });
    expect(requested.body.items).toMatchObject([{ productId: shirt.id, quantity: 1 }]);

    const received = await settle(requested.body.returnId, { status: 'received', condition: 'resellable' });
    expect(received.status, JSON.stringify(received.body)).toBe(200);
    expect(received.body).toMatchObject({ status: 'received', refundAmount: 2500, refundedAmount: 2500 });
    const returned = returnWorkflowId(requested.body.returnId);
    await system.resources.temporal.workflow.getHandle(returned).result();
    await expectReplays(system, orderId, 'return-received', returned);

    expect(await refunds(orderId)).toEqual([2500]);
    expect(await stockOf(system, shirt.id)).toMatchObject({ onHand: 8, reserved: 0 });
    expect(await stockOf(system, socks.id)).toMatchObject({ onHand: 9 });
    const order = await orderOf(orderId);
    expect(order.payment).toMatchObject({ capturedAmount: 8500, refundedAmount: 2500 });
    expect(order.returns).toMatchObject([{ returnId: requested.body.returnId, status: 'received' }]);
    const listed = await http(system, 'GET', `/v1/orders/${orderId}/returns`, { token });
    expect(listed.body).toMatchObject({ orderId, returns: [{ returnId: requested.body.returnId }] });

    // Every event of the return is published as its contract says.
    const events = await eventually(async () => {
      const rows = await system.resources.db.outbox.findMany({
        where: { envelope: { path: ['correlationid'], equals: orderId } },
        orderBy: { seq: 'asc' },
      });
      return rows.some((row) => row.type === 'PaymentRefunded') ? rows : undefined;
    });
    const types = events.map((row) => row.type);
    expect(types).toEqual(expect.arrayContaining(['ReturnRequested', 'ReturnReceived', 'PaymentRefunded']));
    const restock = events.find(
      (row) =>
        row.type === 'InventoryAdjusted' &&
        (row.envelope as { data: { adjustmentType: string } }).data.adjustmentType === 'RESTOCKED'
    );
    expect((restock?.envelope as { data: Body } | undefined)?.data).toMatchObject({
      productId: shirt.id,
      quantityChange: 1,
      orderId,
    });
    for (const row of events.filter((r) => ['ReturnRequested', 'ReturnReceived', 'PaymentRefunded'].includes(r.type))) {
      const envelope = row.envelope as { data: unknown; dataschema: string };
      const version = envelope.dataschema.split(':').at(-1)!;
      expect(validateEventData(row.type, version, envelope.data), row.type).toEqual({ ok: true });
    }

    // Cancelling now is refused with the way to a return.
    const cancel = await http(system, 'POST', `/v1/orders/${orderId}/cancel`, { token, body: {} });
    expect(cancel.status).toBe(409);
    expect(cancel.body).toMatchObject({ code: 'ORDER_NOT_CANCELLABLE' });
    expect(String(cancel.body.message)).toContain(`/v1/orders/${orderId}/returns`);
  });

  it('refuses a third partial return that would exceed the shipped quantity (422), counting open returns', async () => {
    const mug = await product(10, 1200);
    // Shipped, not delivered yet: returns are allowed already.
    const { orderId, token } = await dispatchedOrder([{ productId: mug.id, quantity: 3 }], 'shipped');
    const first = await requestReturn(orderId, token, [{ productId: mug.id, quantity: 1 }]);
    const second = await requestReturn(orderId, token, [{ productId: mug.id, quantity: 1 }]);
    expect([first.status, second.status]).toEqual([201, 201]);
    const third = await requestReturn(orderId, token, [{ productId: mug.id, quantity: 2 }]);
    expect(third.status, JSON.stringify(third.body)).toBe(422);
    expect(JSON.stringify(third.body)).toContain('only 1 unit(s) can still be returned');
    const last = await requestReturn(orderId, token, [{ productId: mug.id, quantity: 1 }]);
    expect(last.status).toBe(201);
    const none = await requestReturn(orderId, token, [{ productId: mug.id, quantity: 1 }]);
    expect(none.status).toBe(409);
    expect(none.body).toMatchObject({ code: 'RETURN_NOT_ALLOWED' });
    for (const open of [first, second, last]) {
      expect((await settle(open.body.returnId, { status: 'received' })).body).toMatchObject({
        refundedAmount: 1200,
      });
    }
    expect(await refunds(orderId)).toEqual([1200, 1200, 1200]);
    expect((await orderOf(orderId)).payment).toMatchObject({ capturedAmount: 3600, refundedAmount: 3600 });
  });

  it('refunds a damaged return without restocking it', async () => {
    const lamp = await product(5, 4000);
    const { orderId, token } = await dispatchedOrder([{ productId: lamp.id, quantity: 2 }], 'delivered');
    const requested = await requestReturn(orderId, token, [{ productId: lamp.id, quantity: 2 }]);
    const received = await settle(requested.body.returnId, { status: 'received', condition: 'damaged' });
    expect(received.body).toMatchObject({ status: 'received', condition: 'damaged', refundedAmount: 8000 });
    expect(await refunds(orderId)).toEqual([8000]);
    expect(await stockOf(system, lamp.id)).toMatchObject({ onHand: 3 });
  });

  it('refunds nothing for a rejected return, whose units may be returned again', async () => {
    const chair = await product(5, 7000);
    const { orderId, token } = await dispatchedOrder([{ productId: chair.id, quantity: 1 }], 'delivered');
    const requested = await requestReturn(orderId, token, [{ productId: chair.id, quantity: 1 }]);
    const rejected = await settle(requested.body.returnId, { status: 'rejected' });
    expect(rejected.body).toMatchObject({ status: 'rejected', refundedAmount: 0 });
    const returned = returnWorkflowId(requested.body.returnId);
    await system.resources.temporal.workflow.getHandle(returned).result();
    await expectReplays(system, orderId, 'return-rejected', returned);
    const otherDecision = await settle(requested.body.returnId, { status: 'received' });
    expect(otherDecision.status).toBe(409);
    expect(await refunds(orderId)).toEqual([]);
    expect(await stockOf(system, chair.id)).toMatchObject({ onHand: 4 });
    expect((await orderOf(orderId)).payment).toMatchObject({ capturedAmount: 7000, refundedAmount: 0 });
    const again = await requestReturn(orderId, token, [{ productId: chair.id, quantity: 1 }]);
    expect(again.status).toBe(201);
  });

  it('lets only one of two concurrent returns of the same units win', async () => {
    const bike = await product(5, 30000);
    const { orderId, token } = await dispatchedOrder([{ productId: bike.id, quantity: 2 }], 'delivered');
    const answers = await Promise.all([
      requestReturn(orderId, token, [{ productId: bike.id, quantity: 2 }]),
      requestReturn(orderId, token, [{ productId: bike.id, quantity: 2 }]),
    ]);
    const statuses = answers.map((answer) => answer.status).sort();
    expect(statuses[0]).toBe(201);
    expect([409, 422]).toContain(statuses[1]);
    const winner = answers.find((answer) => answer.status === 201)!;
    await settle(winner.body.returnId, { status: 'received' });
    expect(await refunds(orderId)).toEqual([60000]);
    expect((await orderOf(orderId)).returns).toHaveLength(1);
  });

  it('refuses a return once the window after delivery is over, and before dispatch', async () => {
    const kettle = await product(5, 1500);
    const { orderId, token } = await dispatchedOrder([{ productId: kettle.id, quantity: 1 }], 'delivered');
    // Delivered RETURN_WINDOW (30 days) and a day ago.
    await system.resources.db.shipment.updateMany({
      where: { orderId },
      data: { updatedAt: new Date(Date.now() - 31 * 86_400_000) },
    });
    const late = await requestReturn(orderId, token, [{ productId: kettle.id, quantity: 1 }]);
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'RETURN_NOT_ALLOWED' });
    expect(String(late.body.message)).toContain('return window');

    const placed = await placeOrder(system, [{ productId: kettle.id, quantity: 1 }]);
    observed.orderIds.push(placed.orderId);
    await untilStage(system, placed.orderId, 'FULFILLING');
    const early = await requestReturn(placed.orderId, placed.token, [{ productId: kettle.id, quantity: 1 }]);
    expect(early.status).toBe(409);
    expect(String(early.body.message)).toContain('not dispatched');
  });

  it("does not let a customer return another customer's order", async () => {
    const pen = await product(5, 300);
    const { orderId } = await dispatchedOrder([{ productId: pen.id, quantity: 1 }], 'delivered');
    const stranger = await system.tokens.customer(randomUUID());
    const refused = await requestReturn(orderId, stranger, [{ productId: pen.id, quantity: 1 }]);
    expect(refused.status).toBe(404);
    expect((await orderOf(orderId)).returns).toEqual([]);
  });

  it('keeps stock and money consistent: captured - refunded = value kept', async () => {
    const results = await checkStockAndMoney(system, observed);
    expect(results.filter((result) => result.violations.length > 0)).toEqual([]);
  });
});

describe('inventory - catalog warehouse ids', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem({ relay: false });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('accepts a UUID warehouse id as in the catalog, and short codes still', async () => {
    const { id } = await createProduct(system, 0);
    const warehouseId = randomUUID();
    const added = await http(system, 'POST', '/v1/inventory', {
      token: system.tokens.operator,
      body: { productId: id, quantity: 4, warehouseId, timestamp: new Date().toISOString() },
    });
    expect(added.status, JSON.stringify(added.body)).toBeLessThan(300);
    const updated = await http(system, 'PUT', `/v1/inventory/${id}`, {
      token: system.tokens.operator,
      body: { quantityChange: 2, warehouseId: 'WH-MAIN' },
    });
    expect(updated.status, JSON.stringify(updated.body)).toBeLessThan(300);
    const status = await http(system, 'GET', `/v1/inventory/${id}/status`, { token: system.tokens.operator });
    expect(status.body).toMatchObject({ totalOnHand: 6 });
    const tooLong = await http(system, 'PUT', `/v1/inventory/${id}`, {
      token: system.tokens.operator,
      body: { quantityChange: 1, warehouseId: 'W'.repeat(33) },
    });
    expect(tooLong.status).toBe(422);
  });
});

describe('returns - a refund the gateway keeps refusing', () => {
  let system: TestSystem;
  let refusing = true;
  beforeAll(async () => {
    system = await startSystem({
      relay: false,
      config: { COMPENSATION_MAX_ATTEMPTS: '2', CANCEL_WAIT: '1s' },
      activities: (real) => ({
        ...real,
        refundReturn: async (input) => {
          if (refusing) throw ApplicationFailure.retryable('REFUND refused: processor down', 'PaymentFollowUpRefused');
          return real.refundReturn(input);
        },
      }),
    });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('flags the return NeedsAttention and refunds once an operator retries', async () => {
    const { id } = await createProduct(system, 3, 5000);
    const { orderId, token } = await placeOrder(system, [{ productId: id, quantity: 1 }]);
    const view = await untilStage(system, orderId, 'FULFILLING');
    for (const status of ['shipped', 'delivered']) {
      await http(system, 'PUT', `/v1/shipments/${view.shipment!.shipmentId}/status`, {
        token: system.tokens.service,
        body: { status },
      });
    }
    await eventually(async () => {
      const row = await system.resources.db.order.findUnique({ where: { id: orderId } });
      return row?.stage === 'COMPLETED' ? true : undefined;
    });
    const requested = await http<{ returnId: string }>(system, 'POST', `/v1/orders/${orderId}/returns`, {
      token,
      body: { items: [{ productId: id, quantity: 1 }], reason: 'broken on arrival' },
    });
    expect(requested.status).toBe(201);
    const { returnId } = requested.body;
    const received = await http(system, 'PUT', `/v1/returns/${returnId}/status`, {
      token: system.tokens.operator,
      body: { status: 'received', condition: 'damaged' },
    });
    expect(received.body).toMatchObject({ status: 'received', refundedAmount: 0 });

    const returns = system.resources.db.return;
    await eventually(async () =>
      (await returns.findUnique({ where: { id: returnId } }))?.needsAttention ? true : undefined
    );
    const workflow = system.resources.temporal.workflow.getHandle(returnWorkflowId(returnId));
    expect((await workflow.query(getReturnQuery)).attentionReason).toContain('refund failed');
    expect(await system.resources.db.payment.count({ where: { orderId, kind: 'REFUND' } })).toBe(0);

    refusing = false;
    await workflow.executeUpdate(retryReturnUpdate, { args: [{ requestId: 'ops-retry' }] });
    const refunded = await eventually(async () => {
      const row = await returns.findUnique({ where: { id: returnId } });
      return row && row.refundedAmount === 5000n && !row.needsAttention ? row : undefined;
    });
    expect(refunded.status).toBe('RECEIVED');
    const refunds = await system.resources.db.payment.findMany({ where: { orderId, kind: 'REFUND' } });
    expect(refunds.map((refund) => Number(refund.amount))).toEqual([5000]);
    await workflow.result();
    await expectReplays(system, orderId, 'return-refund-retried-by-operator', returnWorkflowId(returnId));
  });
});
