import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancellationReason } from '../../src/domain/order.js';
import { cancelOrderUpdate, getOrderQuery, shipmentUpdateSignal } from '../../src/workflows/messages.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, http, orderBody, startSystem, stockOf } from '../support/system.js';
import {
  DELIVERED_STAGES,
  expectReplays,
  handle,
  openAuthorizations,
  orderRow,
  placeOrder,
  untilStage,
} from './support.js';

describe('order saga - outcomes', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('completes an order: dispatch captures the payment and commits the stock, delivery completes it', async () => {
    const product = await createProduct(system, 5, 2500);
    const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
    const fulfilling = await untilStage(system, orderId, 'FULFILLING');
    await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
    await untilStage(system, orderId, 'SHIPPED');
    await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'delivered' });
    await untilStage(system, orderId, 'COMPLETED');

    const row = await orderRow(system, orderId);
    expect(row.payments.map((p) => `${p.kind}:${p.amount}`)).toEqual(['AUTHORIZATION:5000', 'CAPTURE:5000']);
    expect(row.shipments.map((s) => `${s.id}:${s.status}`)).toEqual([`${fulfilling.shipment?.shipmentId}:DELIVERED`]);
    expect(row.history.map((h) => h.toStage)).toEqual(DELIVERED_STAGES);
    expect(await stockOf(system, product.id)).toEqual({ onHand: 3, reserved: 0, available: 3 });
    await expectReplays(system, orderId, 'completed');
  });

  it('upserts each search attribute when it changes and only then: every stage, nothing repeated', async () => {
    const product = await createProduct(system, 5, 2500);
    const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
    await untilStage(system, orderId, 'FULFILLING');
    for (const status of ['shipped', 'delivered'] as const) {
      await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status });
    }
    await untilStage(system, orderId, 'COMPLETED');

    const decode = (fields: Record<string, proto.temporal.api.common.v1.IPayload> | null | undefined) =>
      Object.entries(fields ?? {}).map(([key, payload]): [string, unknown] => [
        key,
        JSON.parse(Buffer.from(payload.data!).toString()) as unknown,
      ]);
    const events = (await handle(system, orderId).fetchHistory()).events ?? [];
    const current = new Map(
      decode(events[0]!.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields)
    );
    expect(Object.fromEntries(current)).toMatchObject({ OrderStage: 'PENDING', NeedsAttention: false });
    const stages: unknown[] = [];
    for (const event of events) {
      const upserted = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
      if (!upserted) continue;
      for (const [key, value] of decode(upserted)) {
        if (key === 'TemporalChangeVersion') continue;
        expect(value, `${key} upserted again unchanged`).not.toEqual(current.get(key));
        current.set(key, value);
        if (key === 'OrderStage') stages.push(value);
      }
    }
    expect(stages).toEqual(DELIVERED_STAGES.slice(1));
    expect(Object.fromEntries(current)).toMatchObject({ OrderStage: 'COMPLETED', OrderTotal: 2500 });
  });

  it('starts the saga and waits for its outcome in one call with Prefer: wait (Update-with-Start), and replays it', async () => {
    const product = await createProduct(system, 5, 2500);
    const customerId = randomUUID();
    const placed = await http(system, 'POST', '/v1/orders', {
      token: await system.tokens.customer(customerId),
      body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
      headers: { prefer: 'wait=20' },
    });
    expect(placed.status).toBe(201);
    const orderId = placed.body.orderId as string;
    expect(['CONFIRMED', 'FULFILLING']).toContain(placed.body.stage);
    await untilStage(system, orderId, 'FULFILLING');
    const history = await handle(system, orderId).fetchHistory();
    const types = (history.events ?? []).map((event) => event.eventType);
    const { EventType } = proto.temporal.api.enums.v1;
    expect(types).toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
    expect(types).toContain(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED);
    await expectReplays(system, orderId, 'confirmed-through-update-with-start');
  });

  it('cancels with OUT_OF_STOCK when a line cannot be reserved, holding nothing and charging nothing', async () => {
    const plenty = await createProduct(system, 10);
    const scarce = await createProduct(system, 1);
    const { orderId } = await placeOrder(system, [
      { productId: plenty.id, quantity: 3 },
      { productId: scarce.id, quantity: 2 },
    ]);
    const view = await untilStage(system, orderId, 'CANCELLED');
    expect(view.cancellationReason).toBe('OUT_OF_STOCK');
    expect(await stockOf(system, plenty.id)).toEqual({ onHand: 10, reserved: 0, available: 10 });
    expect(await stockOf(system, scarce.id)).toEqual({ onHand: 1, reserved: 0, available: 1 });
    expect((await orderRow(system, orderId)).payments).toEqual([]);
    await expectReplays(system, orderId, 'out-of-stock');
  });

  it('cancels with PAYMENT_FAILED on a declined card and releases the reservation', async () => {
    const product = await createProduct(system, 4);
    const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 4 }], {
      paymentToken: 'tok_chargeDeclined',
    });
    const view = await untilStage(system, orderId, 'CANCELLED');
    expect(view.cancellationReason).toBe('PAYMENT_FAILED');
    const row = await orderRow(system, orderId);
    expect(row.payments.map((p) => `${p.kind}:${p.status}:${p.failureCode}`)).toEqual([
      'AUTHORIZATION:FAILED:card_declined',
    ]);
    expect(await stockOf(system, product.id)).toEqual({ onHand: 4, reserved: 0, available: 4 });
    await expectReplays(system, orderId, 'payment-declined');
  });

  it('refuses to cancel after dispatch and tells the caller to start a return', async () => {
    const product = await createProduct(system, 2);
    const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
    await untilStage(system, orderId, 'FULFILLING');
    await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
    await untilStage(system, orderId, 'SHIPPED');

    const refused = await http(system, 'POST', `/v1/orders/${orderId}/cancel`, {
      token,
      body: { reason: 'CUSTOMER_REQUESTED' },
    });
    expect(refused.status).toBe(409);
    expect(refused.body.message).toMatch(/start a return/);
    // A Temporal client (a script, the Web UI) is refused by the validator under a stable failure type.
    const direct = await handle(system, orderId)
      .executeUpdate(cancelOrderUpdate, {
        args: [{ requestId: randomUUID(), reason: CancellationReason.CUSTOMER_REQUESTED }],
      })
      .catch((error: unknown) => error);
    expect(direct).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((direct as WorkflowUpdateFailedError).cause).toMatchObject({
      type: 'CancellationRejected',
      message: expect.stringMatching(/start a return/) as string,
    });
    expect((await handle(system, orderId).query(getOrderQuery)).stage).toBe('SHIPPED');
  });

  it('treats a duplicate cancel update and a duplicate shipment signal as one', async () => {
    const product = await createProduct(system, 3);
    const first = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
    await untilStage(system, first.orderId, 'FULFILLING');
    const request = { requestId: 'cancel-once', reason: 'CUSTOMER_REQUESTED' as const };
    const [a, b] = await Promise.all([
      handle(system, first.orderId).executeUpdate(cancelOrderUpdate, { args: [request], updateId: 'cancel-once' }),
      handle(system, first.orderId).executeUpdate(cancelOrderUpdate, { args: [request], updateId: 'cancel-once' }),
    ]);
    expect(a).toEqual(b);
    const cancelled = await orderRow(system, first.orderId);
    expect(cancelled.payments.filter((p) => p.kind === 'VOID')).toHaveLength(1);
    expect(cancelled.history.filter((h) => h.toStage === 'CANCELLED')).toHaveLength(1);

    const second = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
    await untilStage(system, second.orderId, 'FULFILLING');
    const shipped = { eventId: 'carrier-event-1', status: 'shipped' as const };
    await handle(system, second.orderId).signal(shipmentUpdateSignal, shipped);
    await handle(system, second.orderId).signal(shipmentUpdateSignal, shipped);
    await untilStage(system, second.orderId, 'SHIPPED');
    await eventually(async () => ((await openAuthorizations(system, second.orderId)) === 0 ? true : undefined));
    const row = await orderRow(system, second.orderId);
    expect(row.payments.filter((p) => p.kind === 'CAPTURE')).toHaveLength(1);
    expect(await stockOf(system, product.id)).toEqual({ onHand: 2, reserved: 0, available: 2 });
    await expectReplays(system, second.orderId);
  });

  it('never oversells: 50 concurrent orders for 10 units leave exactly 10 reserved', async () => {
    const product = await createProduct(system, 10);
    const orders = await Promise.all(
      Array.from({ length: 50 }, () => placeOrder(system, [{ productId: product.id, quantity: 1 }]))
    );
    const views = await Promise.all(
      orders.map(({ orderId }) =>
        eventually(
          async () => {
            const view = await handle(system, orderId).query(getOrderQuery);
            return view.stage === 'FULFILLING' || view.stage === 'CANCELLED' ? view : undefined;
          },
          90_000,
          `order ${orderId} to settle`
        )
      )
    );
    const fulfilled = views.filter((v) => v.stage === 'FULFILLING');
    expect(fulfilled).toHaveLength(10);
    expect(views.filter((v) => v.cancellationReason === 'OUT_OF_STOCK')).toHaveLength(40);
    expect(await stockOf(system, product.id)).toEqual({ onHand: 10, reserved: 10, available: 0 });
  }, 120_000);
});
