import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Order } from '../../src/api/schemas.js';
import type { OrderView } from '../../src/workflows/messages.js';
import { getOrderQuery } from '../../src/workflows/messages.js';
import type { Observed } from '../support/invariants.js';
import { checkInvariants } from '../support/invariants.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, http, startSystem, stockOf } from '../support/system.js';
import { DELIVERED_STAGES, expectReplays, handle, orderRow, placeOrder, untilStage } from './support.js';

/** `createProduct` stocks WH-TEST; a second warehouse sorts before it, so its parcel is the first. */
const SECOND_WAREHOUSE = 'WH-EAST';

describe('split fulfilment - a line takes stock from several warehouses, one parcel each', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  /** A product with `main` units in WH-TEST and `east` in WH-EAST, added over the API like any restock. */
  async function stockedInTwoWarehouses(main: number, east: number, unitPrice: number) {
    const product = await createProduct(system, main, unitPrice);
    const added = await http(system, 'POST', '/v1/inventory', {
      token: system.tokens.service,
      body: {
        productId: product.id,
        quantity: east,
        warehouseId: SECOND_WAREHOUSE,
        timestamp: new Date().toISOString(),
      },
    });
    expect(added.status, JSON.stringify(added.body)).toBe(201);
    return product;
  }

  async function carrier(shipmentId: string, status: 'shipped' | 'delivered') {
    const response = await http(system, 'PUT', `/v1/shipments/${shipmentId}/status`, {
      token: system.tokens.service,
      body: { status },
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
  }

  /** Waits until the workflow reports the parcel at `status`. */
  async function untilParcel(orderId: string, shipmentId: string, status: string): Promise<OrderView> {
    return eventually(async () => {
      const view = await handle(system, orderId).query(getOrderQuery);
      const parcel = view.shipments?.find((each) => each.shipmentId === shipmentId);
      return parcel?.status === status ? view : undefined;
    }, 30_000);
  }

  async function captures(orderId: string) {
    const row = await orderRow(system, orderId);
    return row.payments.filter((payment) => payment.kind === 'CAPTURE').map((payment) => Number(payment.amount));
  }

  /** Stock and money invariants once the order's events are out: the check the chaos suite runs. */
  async function expectInvariants(orderId: string, productId: string, stockAdded: number) {
    const observed: Observed = { stockAdded: new Map([[productId, stockAdded]]), responses: [], orderIds: [orderId] };
    const broken = await eventually(async () => {
      const failing = (await checkInvariants(system, observed)).filter((result) => result.violations.length > 0);
      return failing.length === 0 ? failing : undefined;
    }, 30_000);
    expect(broken).toEqual([]);
  }

  it('ships a line held in two warehouses as two parcels: each captures its share, SHIPPED after both left, COMPLETED after both arrived', async () => {
    const product = await stockedInTwoWarehouses(3, 2, 2500);
    const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 4 }]);
    const fulfilling = await untilStage(system, orderId, 'FULFILLING');
    // The warehouse with the most units gives all it has (3), the other the rest (1); parcels in warehouse order.
    expect(fulfilling.shipments?.map((p) => [p.warehouseId, p.items[0]?.quantity, p.amount])).toEqual([
      [SECOND_WAREHOUSE, 1, 2500],
      ['WH-TEST', 3, 7500],
    ]);
    const [east, main] = fulfilling.shipments!;
    const order = await http<Order>(system, 'GET', `/v1/orders/${orderId}`, { token });
    expect(order.body.shipments.map((s) => [s.shipmentId, s.warehouseId, s.status])).toEqual([
      [east!.shipmentId, SECOND_WAREHOUSE, 'REQUESTED'],
      [main!.shipmentId, 'WH-TEST', 'REQUESTED'],
    ]);
    expect(order.body.shipment?.shipmentId).toBe(east!.shipmentId);

    await carrier(east!.shipmentId, 'shipped');
    const halfway = await untilParcel(orderId, east!.shipmentId, 'SHIPPED');
    expect(halfway.stage).toBe('FULFILLING');
    expect(await captures(orderId)).toEqual([2500]);
    // Only the parcel that left took its units off the shelf; the other warehouse still holds its three.
    expect(await stockOf(system, product.id)).toEqual({ onHand: 4, reserved: 3, available: 1 });

    await carrier(main!.shipmentId, 'shipped');
    await untilStage(system, orderId, 'SHIPPED');
    expect(await captures(orderId)).toEqual([2500, 7500]);

    await carrier(main!.shipmentId, 'delivered');
    expect((await untilParcel(orderId, main!.shipmentId, 'DELIVERED')).stage).toBe('SHIPPED');
    await carrier(east!.shipmentId, 'delivered');
    await untilStage(system, orderId, 'COMPLETED');

    const row = await orderRow(system, orderId);
    const captured = row.payments.filter((payment) => payment.kind === 'CAPTURE');
    expect(captured.reduce((sum, payment) => sum + payment.amount, 0n)).toBe(row.totalAmount);
    expect(new Set(captured.map((payment) => payment.idempotencyKey)).size).toBe(2);
    expect(row.shipments.map((s) => `${s.warehouseId}:${s.status}`)).toEqual([
      `${SECOND_WAREHOUSE}:DELIVERED`,
      'WH-TEST:DELIVERED',
    ]);
    expect(row.history.map((h) => h.toStage)).toEqual(DELIVERED_STAGES);
    const events = await system.resources.db.outbox.findMany({
      where: { aggregateId: orderId, type: { in: ['CreateShipment', 'PaymentComplete'] } },
      orderBy: { seq: 'asc' },
    });
    const data = (type: string) =>
      events.filter((e) => e.type === type).map((e) => (e.envelope as { data: Record<string, unknown> }).data);
    expect(data('CreateShipment').map((d) => [d.shipmentId, d.warehouseId])).toEqual([
      [east!.shipmentId, SECOND_WAREHOUSE],
      [main!.shipmentId, 'WH-TEST'],
    ]);
    expect(data('PaymentComplete').map((d) => [d.shipmentId, d.amount])).toEqual([
      [east!.shipmentId, 25],
      [main!.shipmentId, 75],
    ]);
    const paid = await http<Order>(system, 'GET', `/v1/orders/${orderId}`, { token });
    expect(paid.body.payment).toMatchObject({ status: 'captured', capturedAmount: 10_000 });
    expect(await stockOf(system, product.id)).toEqual({ onHand: 1, reserved: 0, available: 1 });
    await expectInvariants(orderId, product.id, 5);
    await expectReplays(system, orderId, 'split-two-parcels-delivered');
  });

  it('amends a split order up while FULFILLING: every parcel cancelled and requested again with new ids, the shares summing to the new total', async () => {
    const product = await stockedInTwoWarehouses(3, 2, 2500);
    const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 4 }]);
    const before = (await untilStage(system, orderId, 'FULFILLING')).shipments!;
    expect(before.map((p) => [p.warehouseId, p.items[0]?.quantity])).toEqual([
      [SECOND_WAREHOUSE, 1],
      ['WH-TEST', 3],
    ]);

    const raised = await http<Order>(system, 'POST', `/v1/orders/${orderId}/amendments`, {
      token,
      body: { items: [{ productId: product.id, quantity: 5 }] },
    });
    expect(raised.status, JSON.stringify(raised.body)).toBe(200);
    expect(raised.body).toMatchObject({ stage: 'FULFILLING', revision: 2, totalAmount: 12_500 });
    // The units already held stay where they are; the extra one comes from the warehouse that still has one.
    const view = await handle(system, orderId).query(getOrderQuery);
    const after = view.shipments!;
    expect(after.map((p) => [p.warehouseId, p.items[0]?.quantity, p.amount, p.status])).toEqual([
      [SECOND_WAREHOUSE, 2, 5000, 'REQUESTED'],
      ['WH-TEST', 3, 7500, 'REQUESTED'],
    ]);
    const oldIds = before.map((p) => p.shipmentId);
    const newIds = after.map((p) => p.shipmentId);
    expect(newIds.filter((id) => oldIds.includes(id))).toEqual([]);
    expect(view.shipment?.shipmentId).toBe(newIds[0]);
    expect((await orderRow(system, orderId)).shipments.map((s) => s.id)).toEqual(newIds);
    const commands = await system.resources.db.outbox.findMany({
      where: { aggregateId: orderId, type: { in: ['CreateShipment', 'CancelShipment'] } },
      orderBy: { seq: 'asc' },
    });
    expect(commands.map((c) => [c.type, (c.envelope as { data: { shipmentId: string } }).data.shipmentId])).toEqual([
      ['CreateShipment', oldIds[0]],
      ['CreateShipment', oldIds[1]],
      ['CancelShipment', oldIds[0]],
      ['CancelShipment', oldIds[1]],
      ['CreateShipment', newIds[0]],
      ['CreateShipment', newIds[1]],
    ]);
    // The carrier can no longer move a replaced parcel.
    const stale = await http(system, 'PUT', `/v1/shipments/${oldIds[0]}/status`, {
      token: system.tokens.service,
      body: { status: 'shipped' },
    });
    expect(stale.status).toBe(404);

    for (const shipmentId of newIds) await carrier(shipmentId, 'shipped');
    await untilStage(system, orderId, 'SHIPPED');
    expect(await captures(orderId)).toEqual([5000, 7500]);
    for (const shipmentId of newIds) await carrier(shipmentId, 'delivered');
    await untilStage(system, orderId, 'COMPLETED');

    const row = await orderRow(system, orderId);
    const sum = (kind: string) =>
      row.payments
        .filter((p) => p.kind === kind && p.status === 'SUCCEEDED')
        .reduce((total, p) => total + p.amount, 0n);
    expect(sum('CAPTURE')).toBe(12_500n);
    expect(sum('CAPTURE') - sum('REFUND')).toBe(row.totalAmount);
    expect(row.shipments.map((s) => `${s.warehouseId}:${s.status}`)).toEqual([
      `${SECOND_WAREHOUSE}:DELIVERED`,
      'WH-TEST:DELIVERED',
    ]);
    expect(await stockOf(system, product.id)).toEqual({ onHand: 0, reserved: 0, available: 0 });
    await expectInvariants(orderId, product.id, 5);
    await expectReplays(system, orderId, 'split-amended-up-while-fulfilling');
  });

  it('refuses to cancel once the first parcel left (409, start a return) and changes nothing', async () => {
    const product = await stockedInTwoWarehouses(2, 2, 1000);
    const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 3 }]);
    const [first, second] = (await untilStage(system, orderId, 'FULFILLING')).shipments!;
    await carrier(first!.shipmentId, 'shipped');
    const before = await untilParcel(orderId, first!.shipmentId, 'SHIPPED');
    const stockBefore = await stockOf(system, product.id);

    const refused = await http(system, 'POST', `/v1/orders/${orderId}/cancel`, {
      token,
      body: { reason: 'CUSTOMER_REQUESTED' },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/start a return/);
    const after = await handle(system, orderId).query(getOrderQuery);
    expect(after.stage).toBe('FULFILLING');
    expect(after.shipments).toEqual(before.shipments);
    expect(await stockOf(system, product.id)).toEqual(stockBefore);
    const row = await orderRow(system, orderId);
    expect(row.payments.map((payment) => payment.kind)).toEqual(['AUTHORIZATION', 'CAPTURE']);
    expect(row.shipments.map((s) => s.status)).toEqual(['SHIPPED', 'REQUESTED']);

    // The rest of the order goes on as if nobody had asked.
    await carrier(second!.shipmentId, 'shipped');
    await carrier(second!.shipmentId, 'delivered');
    await carrier(first!.shipmentId, 'delivered');
    await untilStage(system, orderId, 'COMPLETED');
    expect((await captures(orderId)).reduce((sum, amount) => sum + amount, 0)).toBe(3000);
    await expectInvariants(orderId, product.id, 4);
  });

  it('ships an order one warehouse holds as today: one shipment, one capture of the total', async () => {
    const product = await stockedInTwoWarehouses(5, 1, 1500);
    const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
    const fulfilling = await untilStage(system, orderId, 'FULFILLING');
    expect(fulfilling.shipments?.map((p) => [p.warehouseId, p.amount])).toEqual([['WH-TEST', 3000]]);
    expect(fulfilling.shipment?.shipmentId).toBe(fulfilling.shipments?.[0]?.shipmentId);
    const { shipmentId } = fulfilling.shipment!;
    await carrier(shipmentId, 'shipped');
    await untilStage(system, orderId, 'SHIPPED');
    await carrier(shipmentId, 'delivered');
    await untilStage(system, orderId, 'COMPLETED');

    const row = await orderRow(system, orderId);
    expect(row.payments.map((p) => `${p.kind}:${p.amount}`)).toEqual(['AUTHORIZATION:3000', 'CAPTURE:3000']);
    expect(row.shipments.map((s) => `${s.id}:${s.status}`)).toEqual([`${shipmentId}:DELIVERED`]);
    const order = await http<Order>(system, 'GET', `/v1/orders/${orderId}`, { token });
    expect(order.body.shipments).toHaveLength(1);
    expect(order.body.shipment).toEqual(order.body.shipments[0]);
    expect(await stockOf(system, product.id)).toEqual({ onHand: 4, reserved: 0, available: 4 });
    await expectInvariants(orderId, product.id, 6);
  });
});
