import { randomUUID } from 'node:crypto';
import { WorkflowUpdateStage } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adjustStock } from '../../src/inventory/adjust.js';
import type { OrderView } from '../../src/workflows/messages.js';
import {
  amendOrderSignal,
  cancelOrderSignal,
  cancelOrderUpdate,
  getOrderQuery,
  restockNoticeSignal,
  retryCompensationUpdate,
  shipmentUpdateSignal,
} from '../../src/workflows/messages.js';
import type { ActivityMap, TestSystem } from '../support/system.js';
import { createProduct, eventually, http, startSystem, stockOf } from '../support/system.js';
import {
  expectReplays,
  failingUntilFixed,
  gate,
  handle,
  openAuthorizations,
  orderRow,
  placeOrder,
  untilStage,
} from './support.js';

/** Waits until the workflow's view satisfies `check`. */
async function untilView(system: TestSystem, orderId: string, check: (view: OrderView) => boolean, what: string) {
  return eventually(
    async () => {
      const view = await handle(system, orderId).query(getOrderQuery);
      return check(view) ? view : undefined;
    },
    20_000,
    what
  );
}

async function outboxTypes(system: TestSystem, orderId: string) {
  const rows = await system.resources.db.outbox.findMany({ where: { aggregateId: orderId }, orderBy: { seq: 'asc' } });
  return rows.map((row) => row.type);
}

const shipped = () => ({ eventId: randomUUID(), status: 'shipped' as const });

describe('order saga edges - failures and cancellations always compensate', () => {
  it('compensates and cancels an order whose step fails for good, and flags it for operators', async () => {
    const carrierRejects = (real: ActivityMap): ActivityMap => ({
      ...real,
      requestParcels: () =>
        Promise.reject(ApplicationFailure.nonRetryable('the carrier rejected the address', 'ShipmentRejected')),
    });
    const system = await startSystem({ activities: carrierRejects });
    try {
      const product = await createProduct(system, 4, 800);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
      const view = await untilView(
        system,
        orderId,
        (v) => v.stage === 'CANCELLED' && v.needsAttention,
        'the order cancelled and flagged'
      );
      expect(view.attentionReason).toMatch(/carrier rejected the address/);
      const row = await orderRow(system, orderId);
      expect(row.stage).toBe('CANCELLED');
      expect(row.needsAttention).toBe(true);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 4, reserved: 0, available: 4 });
      expect(await openAuthorizations(system, orderId)).toBe(0);
      expect(await outboxTypes(system, orderId)).toContain('OrderCancelled');
      await expectReplays(system, orderId, 'step-failed-compensated');
    } finally {
      await system.stop();
    }
  });

  it("treats an operator's workflow cancellation as a cancellation: compensated, CANCELLED, OrderCancelled", async () => {
    const system = await startSystem();
    try {
      const product = await createProduct(system, 5, 1200);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
      await untilStage(system, orderId, 'FULFILLING');
      await handle(system, orderId).cancel();
      const closed = await eventually(async () => {
        const description = await handle(system, orderId).describe();
        return description.status.name === 'RUNNING' ? undefined : description.status.name;
      });
      expect(closed).toBe('CANCELLED');
      const row = await orderRow(system, orderId);
      expect(row.stage).toBe('CANCELLED');
      expect(row.status).toBe('cancelled');
      expect(row.cancellationReason).toBe('CUSTOMER_REQUESTED');
      expect(row.shipments.map((s) => s.status)).toEqual(['CANCELLED']);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 5, reserved: 0, available: 5 });
      expect(await openAuthorizations(system, orderId)).toBe(0);
      expect(row.payments.filter((p) => p.kind === 'VOID')).toHaveLength(1);
      expect(await outboxTypes(system, orderId)).toContain('OrderCancelled');
      await expectReplays(system, orderId, 'workflow-cancelled');
    } finally {
      await system.stop();
    }
  });

  it('lets the step in flight finish when the workflow is cancelled, then voids what it authorized', async () => {
    const authorizing = gate('authorizePayment');
    const system = await startSystem({ activities: authorizing.wrap });
    try {
      const product = await createProduct(system, 3, 900);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await authorizing.reached;
      await handle(system, orderId).cancel();
      authorizing.open();
      await eventually(async () => ((await orderRow(system, orderId)).stage === 'CANCELLED' ? true : undefined));
      const row = await orderRow(system, orderId);
      expect(row.payments.map((p) => p.kind)).toEqual(['AUTHORIZATION', 'VOID']);
      expect(await openAuthorizations(system, orderId)).toBe(0);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 3, reserved: 0, available: 3 });
    } finally {
      authorizing.open();
      await system.stop();
    }
  });

  it('ignores a workflow cancellation after dispatch, records it as rejected and flags the order', async () => {
    const system = await startSystem();
    try {
      const product = await createProduct(system, 2, 600);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await untilStage(system, orderId, 'FULFILLING');
      await handle(system, orderId).signal(shipmentUpdateSignal, shipped());
      await untilStage(system, orderId, 'SHIPPED');
      await handle(system, orderId).cancel();
      const flagged = await untilView(system, orderId, (v) => v.needsAttention, 'the late cancellation flagged');
      expect(flagged.stage).toBe('SHIPPED');
      expect(flagged.attentionReason).toMatch(/start a return/);
      expect(flagged.rejectedRequests.map((r) => r.kind)).toEqual(['cancelOrder']);
      expect((await orderRow(system, orderId)).payments.map((p) => p.kind)).toEqual(['AUTHORIZATION', 'CAPTURE']);
      await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'delivered' });
      await untilStage(system, orderId, 'COMPLETED');
      await expectReplays(system, orderId, 'workflow-cancel-after-dispatch');
    } finally {
      await system.stop();
    }
  });
});

describe('order saga edges - messages never fail the order', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('records amendment signals it cannot apply (unknown product, malformed id or body) as rejected, and goes on', async () => {
    const confirming = gate('notifyCustomer');
    const parked = await startSystem({ activities: confirming.wrap });
    try {
      const product = await createProduct(parked, 3, 500);
      const { orderId } = await placeOrder(parked, [{ productId: product.id, quantity: 1 }]);
      await confirming.reached;
      const order = handle(parked, orderId);
      await order.signal(amendOrderSignal, {
        requestId: 'unknown-product',
        items: [{ productId: randomUUID(), quantity: 1 }],
      });
      await order.signal(amendOrderSignal, {
        requestId: 'sku-typed-as-id',
        items: [{ productId: 'SKU-TSHIRT', quantity: 1 }],
      });
      await order.signal(amendOrderSignal, {
        requestId: 'items-not-a-list',
        items: 'two shirts' as unknown as { productId: string; quantity: number }[],
      });
      const view = await untilView(parked, orderId, (v) => v.rejectedRequests.length === 3, 'all three rejected');
      // A malformed body is refused at once, the others after pricing: the order of the three may vary.
      expect(view.rejectedRequests.map((r) => [r.kind, r.requestId]).sort()).toEqual([
        ['amendOrder', 'items-not-a-list'],
        ['amendOrder', 'sku-typed-as-id'],
        ['amendOrder', 'unknown-product'],
      ]);
      expect(view.rejectedRequests.find((r) => r.requestId === 'unknown-product')?.reason).toMatch(/does not exist/);
      confirming.open();
      const fulfilling = await untilStage(parked, orderId, 'FULFILLING');
      expect(fulfilling).toMatchObject({ revision: 1, totalAmount: 500 });
      await expectReplays(parked, orderId, 'amend-signals-rejected');
    } finally {
      confirming.open();
      await parked.stop();
    }
  });

  it('records malformed signals as rejected, keeping only the most recent ones', async () => {
    const product = await createProduct(system, 3);
    const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
    await untilStage(system, orderId, 'FULFILLING');
    const order = handle(system, orderId);
    await order.signal(shipmentUpdateSignal, { eventId: 'carrier-typo', status: 'teleported' as 'shipped' });
    for (let i = 0; i < 30; i += 1) await order.signal(amendOrderSignal, { requestId: `bad-${i}`, items: [] });
    const view = await untilView(
      system,
      orderId,
      (v) => v.rejectedRequests.some((r) => r.requestId === 'bad-29'),
      'the last rejection recorded'
    );
    expect(view.rejectedRequests.length).toBeLessThanOrEqual(20);
    expect(view.rejectedRequests.at(-1)?.requestId).toBe('bad-29');
    expect(view.stage).toBe('FULFILLING');
    await order.signal(shipmentUpdateSignal, shipped());
    await untilStage(system, orderId, 'SHIPPED');
  });

  it('keeps the authorization that holds the money when a replaced one cannot be voided', async () => {
    const confirming = gate('notifyCustomer');
    let original: string | undefined;
    const voidRefusedForOriginal = (real: ActivityMap): ActivityMap =>
      confirming.wrap({
        ...real,
        voidPayment: (input) =>
          input.targetPaymentId === original
            ? Promise.reject(
                ApplicationFailure.nonRetryable('void refused: already settling', 'PaymentFollowUpRefused')
              )
            : real.voidPayment(input),
      });
    const parked = await startSystem({
      activities: voidRefusedForOriginal,
      config: { COMPENSATION_MAX_ATTEMPTS: '1' },
    });
    try {
      const product = await createProduct(parked, 10, 1000);
      const order = await placeOrder(parked, [{ productId: product.id, quantity: 2 }]);
      await confirming.reached;
      const before = await handle(parked, order.orderId).query(getOrderQuery);
      original = before.payment?.paymentId;
      const refused = await http(parked, 'POST', `/v1/orders/${order.orderId}/amendments`, {
        token: order.token,
        body: { items: [{ productId: product.id, quantity: 3 }] },
      });
      expect(refused.status).toBe(409);
      const after = await handle(parked, order.orderId).query(getOrderQuery);
      expect(after.payment).toMatchObject({ paymentId: original, amount: 2000 });
      expect(after).toMatchObject({ totalAmount: 2000, revision: 1 });
      expect(await openAuthorizations(parked, order.orderId)).toBe(1);
      expect(await stockOf(parked, product.id)).toMatchObject({ reserved: 2 });

      confirming.open();
      await untilStage(parked, order.orderId, 'FULFILLING');
      await handle(parked, order.orderId).signal(shipmentUpdateSignal, shipped());
      await untilStage(parked, order.orderId, 'SHIPPED');
      const capture = (await orderRow(parked, order.orderId)).payments.find((p) => p.kind === 'CAPTURE');
      expect(capture).toMatchObject({ authorizationId: original, amount: 2000n });
      await expectReplays(parked, order.orderId, 'amendment-void-refused');
    } finally {
      confirming.open();
      await parked.stop();
    }
  });
});

describe('order saga edges - dispatch wins over a later cancellation', () => {
  it('refuses a cancel (update or signal) once the carrier reported the parcel shipped, and ships it', async () => {
    // The dispatch-deadline flag is a step that holds the saga's lock: while it is held, the carrier's update waits
    // in the workflow's queue, exactly as when the worker is behind.
    const flagging = gate('setNeedsAttention');
    const system = await startSystem({ activities: flagging.wrap, config: { DISPATCH_DEADLINE: '1s' } });
    try {
      const product = await createProduct(system, 2, 700);
      const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await untilStage(system, orderId, 'FULFILLING');
      await flagging.reached;
      await handle(system, orderId).signal(shipmentUpdateSignal, shipped());
      await handle(system, orderId).signal(cancelOrderSignal, {
        requestId: 'operator-cancel',
        reason: 'CUSTOMER_REQUESTED',
      });
      const cancelling = http(system, 'POST', `/v1/orders/${orderId}/cancel`, {
        token,
        body: { reason: 'CUSTOMER_REQUESTED' },
      });
      await untilView(system, orderId, (v) => v.rejectedRequests.length > 0, 'the cancel signal rejected');
      flagging.open();
      const refused = await cancelling;
      expect(refused.status).toBe(409);
      expect(refused.body.message).toMatch(/start a return/);
      const view = await untilStage(system, orderId, 'SHIPPED');
      expect(view.rejectedRequests).toEqual([
        {
          kind: 'cancelOrder',
          requestId: 'operator-cancel',
          reason: expect.stringMatching(/start a return/) as string,
        },
      ]);
      const row = await orderRow(system, orderId);
      expect(row.payments.map((p) => p.kind)).toEqual(['AUTHORIZATION', 'CAPTURE']);
      expect(row.shipments.map((s) => s.status)).toEqual(['SHIPPED']);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 1, reserved: 0, available: 1 });
      await expectReplays(system, orderId, 'shipped-queued-before-cancel');
    } finally {
      flagging.open();
      await system.stop();
    }
  });
});

describe('order saga edges - backorders', () => {
  it('does not lose a restock notice that arrives while the order is trying to reserve', async () => {
    let reached!: () => void;
    const attempted = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    // The first attempt reads the stock before the restock lands, and answers only after the notice arrived.
    const slowAnswer = (real: ActivityMap): ActivityMap => ({
      ...real,
      holdStock: async (input) => {
        calls += 1;
        if (calls > 1) return real.holdStock(input);
        const outcome = real.holdStock(input).then(
          (value) => ({ value }),
          (error: unknown) => ({ error })
        );
        const settled = await outcome;
        reached();
        await released;
        if ('error' in settled) throw settled.error;
        return settled.value;
      },
    });
    const system = await startSystem({ activities: slowAnswer, config: { BACKORDER_WINDOW: '40s' } });
    try {
      const product = await createProduct(system, 1);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 3 }]);
      await attempted;
      await adjustStock(system.resources.db, system.resources.outbox, {
        productId: product.id,
        warehouseId: 'WH-TEST',
        quantityChange: 5,
        adjustmentId: randomUUID(),
        causationId: 'test-restock',
      });
      await handle(system, orderId).signal(restockNoticeSignal, { productId: product.id });
      release();
      await untilStage(system, orderId, 'FULFILLING', 25_000);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 6, reserved: 3, available: 3 });
      await expectReplays(system, orderId, 'restock-during-attempt');
    } finally {
      release();
      await system.stop();
    }
  });
});

describe('order saga edges - nothing retries in silence', () => {
  it('flags an order whose capture keeps being refused after dispatch, and clears it once it goes through', async () => {
    const capture = failingUntilFixed('capturePayment', 'CAPTURE refused: processor error', 'PaymentFollowUpRefused');
    const system = await startSystem({ activities: capture.wrap, config: { COMPENSATION_MAX_ATTEMPTS: '2' } });
    try {
      const product = await createProduct(system, 2, 400);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await untilStage(system, orderId, 'FULFILLING');
      await handle(system, orderId).signal(shipmentUpdateSignal, shipped());
      const flagged = await untilView(system, orderId, (v) => v.needsAttention, 'the refused capture flagged');
      expect(flagged.attentionReason).toMatch(/capturePayment/);
      expect((await orderRow(system, orderId)).needsAttention).toBe(true);
      capture.fix();
      const view = await untilStage(system, orderId, 'SHIPPED', 60_000);
      expect(view.needsAttention).toBe(false);
      const row = await orderRow(system, orderId);
      expect(row.needsAttention).toBe(false);
      // The capture that finally went through is on the books, and the unit left with it.
      expect(row.payments.filter((p) => p.kind === 'CAPTURE' && p.status === 'SUCCEEDED')).toHaveLength(1);
      expect(await openAuthorizations(system, orderId)).toBe(0);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 1, reserved: 0, available: 1 });
      await expectReplays(system, orderId, 'capture-refused-then-captured-on-the-books');
    } finally {
      await system.stop();
    }
  });

  it('flags an order whose confirmation keeps failing (a local step), and confirms it once it goes through', async () => {
    const confirm = failingUntilFixed('confirmOrder', 'orders database is read-only', 'OrdersUnavailable');
    const system = await startSystem({ activities: confirm.wrap, config: { COMPENSATION_MAX_ATTEMPTS: '2' } });
    try {
      const product = await createProduct(system, 2, 400);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      const flagged = await untilView(system, orderId, (v) => v.needsAttention, 'the failing confirmation flagged');
      expect(flagged.stage).toBe('PAYMENT_AUTHORIZED');
      expect(flagged.attentionReason).toMatch(/confirmOrder keeps failing/);
      confirm.fix();
      const view = await untilStage(system, orderId, 'FULFILLING', 60_000);
      expect(view.needsAttention).toBe(false);
      expect((await orderRow(system, orderId)).needsAttention).toBe(false);
      expect(await openAuthorizations(system, orderId)).toBe(1);
      await expectReplays(system, orderId, 'confirm-refused-then-confirmed');
    } finally {
      await system.stop();
    }
  });

  it('waits for an operator when cancelling the shipment keeps failing, then finishes the cancellation', async () => {
    const carrier = failingUntilFixed('cancelShipment', 'carrier API unavailable', 'CarrierUnavailable');
    const system = await startSystem({ activities: carrier.wrap, config: { COMPENSATION_MAX_ATTEMPTS: '2' } });
    try {
      const product = await createProduct(system, 2, 400);
      const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await untilStage(system, orderId, 'FULFILLING');
      const cancelling = http(system, 'POST', `/v1/orders/${orderId}/cancel`, {
        token,
        body: { reason: 'CUSTOMER_REQUESTED' },
      });
      const flagged = await untilView(system, orderId, (v) => v.needsAttention, 'the stuck compensation flagged');
      expect(flagged.stage).toBe('CANCELLING');
      expect(flagged.attentionReason).toMatch(/cancel-shipment/);
      carrier.fix();
      await handle(system, orderId).executeUpdate(retryCompensationUpdate, { args: [{ requestId: 'operator-1' }] });
      expect((await cancelling).status).toBe(200);
      const row = await orderRow(system, orderId);
      expect(row.stage).toBe('CANCELLED');
      expect(row.shipments.map((s) => s.status)).toEqual(['CANCELLED']);
      expect(await openAuthorizations(system, orderId)).toBe(0);
      await expectReplays(system, orderId, 'cancel-shipment-needs-operator');
    } finally {
      await system.stop();
    }
  });
});

describe('order saga edges - honest flags and answers', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem({ config: { DISPATCH_DEADLINE: '1s' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('clears the dispatch-deadline flag once the parcel is dispatched', async () => {
    const product = await createProduct(system, 2);
    const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
    await untilView(system, orderId, (v) => v.needsAttention, 'the missed deadline flagged');
    await handle(system, orderId).signal(shipmentUpdateSignal, shipped());
    const view = await untilStage(system, orderId, 'SHIPPED');
    expect(view.needsAttention).toBe(false);
    expect((await orderRow(system, orderId)).needsAttention).toBe(false);
    await expectReplays(system, orderId, 'deadline-flag-cleared-at-dispatch');
  });

  it('completes with no flag when the carrier reports returned before delivered', async () => {
    const product = await createProduct(system, 2);
    const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
    await untilStage(system, orderId, 'FULFILLING');
    await handle(system, orderId).signal(shipmentUpdateSignal, shipped());
    await untilStage(system, orderId, 'SHIPPED');
    await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'returned' });
    await untilView(system, orderId, (v) => v.needsAttention, 'the return flagged');
    await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'delivered' });
    const view = await untilStage(system, orderId, 'COMPLETED');
    expect(view.needsAttention).toBe(false);
    expect((await orderRow(system, orderId)).needsAttention).toBe(false);
    await expectReplays(system, orderId, 'returned-before-delivered');
  });

  it('schedules every activity with a start-to-close timeout of at most 15 s, so a dead worker is noticed soon', async () => {
    const product = await createProduct(system, 2);
    const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
    await untilStage(system, orderId, 'FULFILLING');
    const history = await handle(system, orderId).fetchHistory();
    const scheduled = (history.events ?? []).flatMap((event) =>
      event.activityTaskScheduledEventAttributes ? [event.activityTaskScheduledEventAttributes] : []
    );
    // The regular activities up to FULFILLING (createOrder and confirmOrder run as local activities).
    expect(scheduled.map((activity) => activity.activityType?.name)).toEqual(
      expect.arrayContaining(['holdStock', 'authorizePayment', 'notifyCustomer', 'requestParcels'])
    );
    for (const activity of scheduled) {
      const seconds = Number(activity.startToCloseTimeout?.seconds ?? 0);
      const heartbeat = Number(activity.heartbeatTimeout?.seconds ?? 0);
      expect(heartbeat > 0 || seconds <= 15, `${activity.activityType?.name} waits ${seconds}s`).toBe(true);
    }
  });
});

describe('order saga edges - a cancellation already under way', () => {
  it('answers a cancel of a CANCELLING order with the cancellation, not "start a return"', async () => {
    let releaseFails = true;
    const stuckRelease = (real: ActivityMap): ActivityMap => ({
      ...real,
      releaseStock: (input) =>
        releaseFails
          ? Promise.reject(ApplicationFailure.retryable('inventory database is read-only', 'InventoryUnavailable'))
          : real.releaseStock(input),
    });
    const system = await startSystem({ activities: stuckRelease, config: { COMPENSATION_MAX_ATTEMPTS: '1' } });
    try {
      const product = await createProduct(system, 2);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }], {
        paymentToken: 'tok_chargeDeclined',
      });
      await untilView(system, orderId, (v) => v.needsAttention && v.stage === 'CANCELLING', 'the stuck cancellation');
      // Accepted (not refused) while the cancellation is still under way; answered once it is done.
      const accepted = await handle(system, orderId).startUpdate(cancelOrderUpdate, {
        args: [{ requestId: 'customer-cancel', reason: 'CUSTOMER_REQUESTED' }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      releaseFails = false;
      await handle(system, orderId).executeUpdate(retryCompensationUpdate, { args: [{ requestId: 'operator-1' }] });
      expect(await accepted.result()).toMatchObject({ stage: 'CANCELLED', cancellationReason: 'PAYMENT_FAILED' });
      expect((await orderRow(system, orderId)).needsAttention).toBe(false);
    } finally {
      await system.stop();
    }
  });
});
