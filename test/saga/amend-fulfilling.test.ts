import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityErrorType } from '../../src/domain/failures.js';
import { getOrderQuery, shipmentUpdateSignal } from '../../src/workflows/messages.js';
import { checkInvariants } from '../support/invariants.js';
import type { ActivityMap, TestSystem } from '../support/system.js';
import { createProduct, eventually, http, startSystem, stockOf } from '../support/system.js';
import { expectReplays, gate, handle, openAuthorizations, orderRow, placeOrder, untilStage } from './support.js';

type Items = { productId: string; quantity: number }[];
type Placed = Awaited<ReturnType<typeof placeOrder>>;

const NEW_ADDRESS = { street: '9 Elm Rd', city: 'Shelbyville', postalCode: '54321', country: 'US' };

function amend(system: TestSystem, order: Placed, body: { items?: Items; shippingAddress?: typeof NEW_ADDRESS }) {
  return http(system, 'POST', `/v1/orders/${order.orderId}/amendments`, { token: order.token, body });
}

/** The CreateShipment and CancelShipment commands the order sent the warehouse, in order. */
async function shipmentCommands(system: TestSystem, orderId: string) {
  const rows = await system.resources.db.outbox.findMany({
    where: { aggregateId: orderId, type: { in: ['CreateShipment', 'CancelShipment'] } },
    orderBy: { seq: 'asc' },
  });
  return rows.map((row) => ({ type: row.type, ...(row.envelope as { data: Record<string, unknown> }).data }));
}

/**
 * The order's shipment: its products are stocked in one warehouse, so it ships as one parcel, and the row of a
 * parcel an amendment replaced is gone (its id is unknown from then on).
 */
async function shipmentId(system: TestSystem, orderId: string): Promise<string> {
  const { shipments } = await orderRow(system, orderId);
  expect(shipments).toHaveLength(1);
  return shipments[0]!.id;
}

/** The workflow's view once it recorded a rejected request. */
function untilRejected(system: TestSystem, orderId: string) {
  return eventually(async () => {
    const view = await handle(system, orderId).query(getOrderQuery);
    return view.rejectedRequests.length > 0 ? view : undefined;
  });
}

/** Successful authorizations of the order, and which of them were voided. */
async function authorizations(system: TestSystem, orderId: string) {
  const payments = (await orderRow(system, orderId)).payments.filter((p) => p.status === 'SUCCEEDED');
  const voided = new Set(payments.filter((p) => p.kind === 'VOID').map((p) => p.authorizationId));
  return payments
    .filter((p) => p.kind === 'AUTHORIZATION')
    .map((p) => ({ amount: Number(p.amount), voided: voided.has(p.id) }));
}

/**
 * The carrier ships and delivers the order's current shipment; then every invariant holds (stock conserved with the
 * amended quantities dispatched, money captured only for the parcel, every event published once) and the capture
 * less refunds is exactly the value the customer keeps.
 */
async function shipAndCheck(system: TestSystem, orderId: string, stockAdded: Map<string, number>) {
  for (const status of ['shipped', 'delivered']) {
    const path = `/v1/shipments/${await shipmentId(system, orderId)}/status`;
    const answer = await http(system, 'PUT', path, { token: system.tokens.service, body: { status } });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  }
  await untilStage(system, orderId, 'COMPLETED');
  const observed = { stockAdded, responses: [], orderIds: [orderId] };
  await eventually(
    async () => ((await checkInvariants(system, observed)).every((r) => r.violations.length === 0) ? true : undefined),
    20_000,
    'every invariant to hold'
  ).catch(async () => {
    // Show which invariant broke rather than only that one did.
    expect((await checkInvariants(system, observed)).filter((r) => r.violations.length > 0)).toEqual([]);
  });
  const row = await orderRow(system, orderId);
  const sum = (kind: string) =>
    row.payments.filter((p) => p.kind === kind && p.status === 'SUCCEEDED').reduce((total, p) => total + p.amount, 0n);
  expect(sum('CAPTURE') - sum('REFUND')).toBe(row.totalAmount);
  expect(row.shipments.map((shipment) => shipment.status)).toEqual(['DELIVERED']);
}

describe('amendments while FULFILLING (until the carrier reports dispatch)', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  async function fulfilling(items: Items) {
    const order = await placeOrder(system, items);
    await untilStage(system, order.orderId, 'FULFILLING');
    return { ...order, firstShipment: await shipmentId(system, order.orderId) };
  }

  it('amends up: the extra stock held, the new total authorized before the old one is voided, the shipment replaced', async () => {
    const shirt = await createProduct(system, 10, 1000);
    const order = await fulfilling([{ productId: shirt.id, quantity: 2 }]);

    const raised = await amend(system, order, { items: [{ productId: shirt.id, quantity: 5 }] });
    expect(raised.status, JSON.stringify(raised.body)).toBe(200);
    expect(raised.body).toMatchObject({
      stage: 'FULFILLING',
      revision: 2,
      totalAmount: 5000,
      payment: { status: 'authorized', authorizedAmount: 5000 },
    });
    expect(await stockOf(system, shirt.id)).toEqual({ onHand: 10, reserved: 5, available: 5 });
    expect(await authorizations(system, order.orderId)).toEqual([
      { amount: 2000, voided: true },
      { amount: 5000, voided: false },
    ]);
    const replacement = await shipmentId(system, order.orderId);
    expect(replacement).not.toBe(order.firstShipment);
    expect(raised.body.shipment).toMatchObject({ shipmentId: replacement, status: 'REQUESTED' });
    expect((await handle(system, order.orderId).query(getOrderQuery)).shipment?.shipmentId).toBe(replacement);
    expect(await shipmentCommands(system, order.orderId)).toEqual([
      expect.objectContaining({ type: 'CreateShipment', shipmentId: order.firstShipment }),
      expect.objectContaining({ type: 'CancelShipment', shipmentId: order.firstShipment }),
      expect.objectContaining({
        type: 'CreateShipment',
        shipmentId: replacement,
        items: [{ itemId: shirt.id, quantity: 5 }],
      }),
    ]);
    await shipAndCheck(system, order.orderId, new Map([[shirt.id, 10]]));
    await expectReplays(system, order.orderId, 'amended-up-while-fulfilling-parcels');
  });

  it('amends down: the units no longer wanted are released and the smaller total authorized', async () => {
    const shirt = await createProduct(system, 10, 1000);
    const order = await fulfilling([{ productId: shirt.id, quantity: 5 }]);

    const lowered = await amend(system, order, { items: [{ productId: shirt.id, quantity: 2 }] });
    expect(lowered.status, JSON.stringify(lowered.body)).toBe(200);
    expect(lowered.body).toMatchObject({ revision: 2, totalAmount: 2000, payment: { authorizedAmount: 2000 } });
    expect(await stockOf(system, shirt.id)).toEqual({ onHand: 10, reserved: 2, available: 8 });
    expect(await authorizations(system, order.orderId)).toEqual([
      { amount: 5000, voided: true },
      { amount: 2000, voided: false },
    ]);
    expect((await shipmentCommands(system, order.orderId)).slice(1)).toEqual([
      expect.objectContaining({ type: 'CancelShipment', shipmentId: order.firstShipment }),
      expect.objectContaining({ type: 'CreateShipment', items: [{ itemId: shirt.id, quantity: 2 }] }),
    ]);
    await shipAndCheck(system, order.orderId, new Map([[shirt.id, 10]]));
  });

  it('removes a line: its stock is released and the new shipment leaves it out', async () => {
    const shirt = await createProduct(system, 10, 1000);
    const mug = await createProduct(system, 10, 500);
    const order = await fulfilling([
      { productId: shirt.id, quantity: 2 },
      { productId: mug.id, quantity: 3 },
    ]);

    const removed = await amend(system, order, { items: [{ productId: shirt.id, quantity: 2 }] });
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    expect(removed.body).toMatchObject({
      revision: 2,
      totalAmount: 2000,
      items: [{ productId: shirt.id, quantity: 2 }],
    });
    expect(await stockOf(system, mug.id)).toEqual({ onHand: 10, reserved: 0, available: 10 });
    expect(await stockOf(system, shirt.id)).toEqual({ onHand: 10, reserved: 2, available: 8 });
    expect(await openAuthorizations(system, order.orderId)).toBe(1);
    expect((await shipmentCommands(system, order.orderId)).at(-1)).toMatchObject({
      type: 'CreateShipment',
      items: [{ itemId: shirt.id, quantity: 2 }],
    });
    await shipAndCheck(
      system,
      order.orderId,
      new Map([
        [shirt.id, 10],
        [mug.id, 10],
      ])
    );
  });

  it('changes the address: the shipment is requested again for the new address, stock and payment untouched', async () => {
    const shirt = await createProduct(system, 10, 1000);
    const order = await fulfilling([{ productId: shirt.id, quantity: 2 }]);

    const moved = await amend(system, order, { shippingAddress: NEW_ADDRESS });
    expect(moved.status, JSON.stringify(moved.body)).toBe(200);
    expect(moved.body).toMatchObject({ revision: 2, totalAmount: 2000, shippingAddress: NEW_ADDRESS });
    expect(await stockOf(system, shirt.id)).toEqual({ onHand: 10, reserved: 2, available: 8 });
    expect(await authorizations(system, order.orderId)).toEqual([{ amount: 2000, voided: false }]);
    const replacement = await shipmentId(system, order.orderId);
    expect(replacement).not.toBe(order.firstShipment);
    expect(await shipmentCommands(system, order.orderId)).toEqual([
      expect.objectContaining({ type: 'CreateShipment', shipmentId: order.firstShipment }),
      expect.objectContaining({ type: 'CancelShipment', shipmentId: order.firstShipment }),
      expect.objectContaining({ type: 'CreateShipment', shipmentId: replacement, address: NEW_ADDRESS }),
    ]);
    expect((await orderRow(system, order.orderId)).shipments.map((shipment) => shipment.address)).toEqual([
      NEW_ADDRESS,
    ]);
    await shipAndCheck(system, order.orderId, new Map([[shirt.id, 10]]));
    await expectReplays(system, order.orderId, 'address-amended-while-fulfilling-parcels');
  });

  it('ignores carrier updates of the shipment an amendment replaced', async () => {
    const shirt = await createProduct(system, 10, 1000);
    const order = await fulfilling([{ productId: shirt.id, quantity: 1 }]);
    expect((await amend(system, order, { items: [{ productId: shirt.id, quantity: 2 }] })).status).toBe(200);

    const byApi = await http(system, 'PUT', `/v1/shipments/${order.firstShipment}/status`, {
      token: system.tokens.service,
      body: { status: 'shipped' },
    });
    expect(byApi.status).toBe(404);
    // A carrier message naming the old shipment (it reaches the order through its orderId) is recorded, not applied.
    await handle(system, order.orderId).signal(shipmentUpdateSignal, {
      eventId: randomUUID(),
      status: 'shipped',
      shipmentId: order.firstShipment,
    });
    const view = await untilRejected(system, order.orderId);
    expect(view.rejectedRequests).toEqual([
      {
        kind: 'shipmentUpdate',
        requestId: expect.any(String) as string,
        reason: expect.stringMatching(/replaced by an amendment/) as string,
      },
    ]);
    expect(view.stage).toBe('FULFILLING');
    expect((await orderRow(system, order.orderId)).payments.filter((p) => p.kind === 'CAPTURE')).toEqual([]);
    await shipAndCheck(system, order.orderId, new Map([[shirt.id, 10]]));
  });

  it('refuses an amendment once the carrier reported the parcel shipped (409, as now)', async () => {
    const shirt = await createProduct(system, 10, 1000);
    const order = await fulfilling([{ productId: shirt.id, quantity: 1 }]);
    await handle(system, order.orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
    await untilStage(system, order.orderId, 'SHIPPED');

    const refused = await amend(system, order, { items: [{ productId: shirt.id, quantity: 2 }] });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('ORDER_NOT_AMENDABLE');
    const row = await orderRow(system, order.orderId);
    expect(row.revision).toBe(1);
    expect(row.shipments.map((shipment) => shipment.id)).toEqual([order.firstShipment]);
    expect((await shipmentCommands(system, order.orderId)).map((c) => c.type)).toEqual(['CreateShipment']);
    await handle(system, order.orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'delivered' });
    await untilStage(system, order.orderId, 'COMPLETED');
    expect(await stockOf(system, shirt.id)).toEqual({ onHand: 9, reserved: 0, available: 9 });
  });

  it('rejects an amendment the stock cannot cover and leaves stock, authorization and shipment as they were', async () => {
    const shirt = await createProduct(system, 3, 1000);
    const order = await fulfilling([{ productId: shirt.id, quantity: 2 }]);

    const refused = await amend(system, order, { items: [{ productId: shirt.id, quantity: 4 }] });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/not enough stock/);
    expect(await stockOf(system, shirt.id)).toEqual({ onHand: 3, reserved: 2, available: 1 });
    expect(await authorizations(system, order.orderId)).toEqual([{ amount: 2000, voided: false }]);
    const row = await orderRow(system, order.orderId);
    expect(row).toMatchObject({ revision: 1, totalAmount: 2000n, stage: 'FULFILLING' });
    expect(row.shipments).toEqual([expect.objectContaining({ id: order.firstShipment, status: 'REQUESTED' })]);
    expect((await shipmentCommands(system, order.orderId)).map((c) => c.type)).toEqual(['CreateShipment']);
    await shipAndCheck(system, order.orderId, new Map([[shirt.id, 3]]));
  });
});

describe('amendments while FULFILLING - the dispatch boundary and refusals', () => {
  it('refuses an amendment while a shipped update is queued, as a cancellation is', async () => {
    // The dispatch-deadline flag is a step that holds the saga's lock: while it is held, the carrier's update waits
    // in the workflow's queue, exactly as when the worker is behind.
    const flagging = gate('setNeedsAttention');
    const system = await startSystem({ activities: flagging.wrap, config: { DISPATCH_DEADLINE: '1s' } });
    try {
      const shirt = await createProduct(system, 10, 1000);
      const order = await placeOrder(system, [{ productId: shirt.id, quantity: 1 }]);
      await untilStage(system, order.orderId, 'FULFILLING');
      await flagging.reached;
      await handle(system, order.orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
      const refused = await amend(system, order, { items: [{ productId: shirt.id, quantity: 2 }] });
      expect(refused.status).toBe(409);
      expect(refused.body.message).toMatch(/carrier reported the parcel dispatched/);
      flagging.open();
      await untilStage(system, order.orderId, 'SHIPPED');
      const row = await orderRow(system, order.orderId);
      expect(row.revision).toBe(1);
      expect(row.payments.find((p) => p.kind === 'CAPTURE')?.amount).toBe(1000n);
      expect(await stockOf(system, shirt.id)).toEqual({ onHand: 9, reserved: 0, available: 9 });
    } finally {
      flagging.open();
      await system.stop();
    }
  });

  /**
   * Holds the amendment of a fulfilling order at `pause` (an activity it runs) while `report` has the carrier report
   * the first shipment shipped, then lets it finish: the update is recorded as rejected, nothing is captured, and the
   * shipment that replaced it ships as usual.
   */
  async function replacedWhileReported(
    pause: keyof ActivityMap,
    report: (system: TestSystem, orderId: string, first: string) => Promise<void>
  ) {
    const paused = gate(pause);
    const system = await startSystem({ activities: paused.wrap });
    try {
      const shirt = await createProduct(system, 10, 1000);
      const order = await placeOrder(system, [{ productId: shirt.id, quantity: 1 }]);
      await untilStage(system, order.orderId, 'FULFILLING');
      const first = await shipmentId(system, order.orderId);
      const amending = amend(system, order, { items: [{ productId: shirt.id, quantity: 3 }] });
      await paused.reached;
      await report(system, order.orderId, first);
      await eventually(async () => {
        const history = await handle(system, order.orderId).fetchHistory();
        return history.events?.some((e) => e.workflowExecutionSignaledEventAttributes) ? true : undefined;
      });
      paused.open();
      expect((await amending).status).toBe(200);
      const view = await untilRejected(system, order.orderId);
      expect(view.rejectedRequests[0]?.reason).toMatch(new RegExp(`shipment ${first} was replaced`));
      expect(view.stage).toBe('FULFILLING');
      expect((await orderRow(system, order.orderId)).payments.filter((p) => p.kind === 'CAPTURE')).toEqual([]);
      await shipAndCheck(system, order.orderId, new Map([[shirt.id, 10]]));
    } finally {
      paused.open();
      await system.stop();
    }
  }

  it('holds carrier updates while the shipment is replaced: one about the old shipment never dispatches the order', async () => {
    await replacedWhileReported('replaceParcels', async (system, _orderId, first) => {
      // The old shipment is still the order's: the API finds it and signals the order, naming it.
      const late = await http(system, 'PUT', `/v1/shipments/${first}/status`, {
        token: system.tokens.service,
        body: { status: 'shipped' },
      });
      expect(late.status).toBe(200);
    });
  });

  it('rejects an update the saga took before the amendment began once the amendment replaced its parcel', async () => {
    // Pricing runs under the amendment's lock, before carrier updates are held: the saga takes the update meanwhile
    // and waits for the lock, and by the time it has it the parcel the update names is gone.
    await replacedWhileReported('priceLines', (system, orderId, first) =>
      handle(system, orderId).signal(shipmentUpdateSignal, {
        eventId: randomUUID(),
        status: 'shipped',
        shipmentId: first,
      })
    );
  });

  it('rejects an amendment whose new total the card refuses: stock, authorization and shipment unchanged', async () => {
    const declineAbove = (real: ActivityMap): ActivityMap => ({
      ...real,
      authorizePayment: (input) =>
        input.amount > 2000
          ? Promise.reject(ApplicationFailure.nonRetryable('declined', ActivityErrorType.PaymentDeclined))
          : real.authorizePayment(input),
    });
    const system = await startSystem({ activities: declineAbove });
    try {
      const shirt = await createProduct(system, 10, 1000);
      const order = await placeOrder(system, [{ productId: shirt.id, quantity: 2 }]);
      const view = await untilStage(system, order.orderId, 'FULFILLING');

      const refused = await amend(system, order, { items: [{ productId: shirt.id, quantity: 4 }] });
      expect(refused.status).toBe(409);
      expect(refused.body.message).toMatch(/declined/);
      expect(await stockOf(system, shirt.id)).toEqual({ onHand: 10, reserved: 2, available: 8 });
      expect(await authorizations(system, order.orderId)).toEqual([{ amount: 2000, voided: false }]);
      const row = await orderRow(system, order.orderId);
      expect(row).toMatchObject({ revision: 1, totalAmount: 2000n });
      expect(row.shipments).toEqual([expect.objectContaining({ id: view.shipment?.shipmentId, status: 'REQUESTED' })]);
      expect((await shipmentCommands(system, order.orderId)).map((c) => c.type)).toEqual(['CreateShipment']);
      await shipAndCheck(system, order.orderId, new Map([[shirt.id, 10]]));
    } finally {
      await system.stop();
    }
  });
});
