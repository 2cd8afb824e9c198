import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateEnvelope, validateEventData } from '../../src/events/contracts.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, http, orderBody, startSystem, stockOf, streamMessages } from '../support/system.js';

describe('checkout through HTTP against real Temporal, Postgres and NATS', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('places an order, confirms it, ships and delivers it, and publishes every event exactly once', async () => {
    const product = await createProduct(system, 10, 1999);
    const customerId = randomUUID();
    const token = await system.tokens.customer(customerId);

    const placed = await http(system, 'POST', '/v1/orders', {
      token,
      body: orderBody(customerId, [{ productId: product.id, quantity: 2 }]),
    });
    expect(placed.status).toBe(201);
    const orderId = placed.body.orderId as string;
    expect(placed.headers.get('location')).toBe(`/v1/orders/${orderId}`);

    const fulfilling = await eventually(
      async () => {
        const { body } = await http(system, 'GET', `/v1/orders/${orderId}`, { token });
        return body.stage === 'FULFILLING' ? body : undefined;
      },
      20_000,
      'the order to be confirmed and sent to fulfilment'
    );
    expect(fulfilling).toMatchObject({
      status: 'processing',
      totalAmount: 3998,
      payment: { status: 'authorized', authorizedAmount: 3998 },
    });
    expect(await stockOf(system, product.id)).toEqual({ onHand: 10, reserved: 2, available: 8 });

    const shipmentId = (fulfilling.shipment as { shipmentId: string }).shipmentId;
    for (const status of ['shipped', 'delivered']) {
      const update = await http(system, 'PUT', `/v1/shipments/${shipmentId}/status`, {
        token: system.tokens.service,
        body: { status },
      });
      expect(update.status).toBe(200);
    }
    const completed = await eventually(
      async () => {
        const { body } = await http(system, 'GET', `/v1/orders/${orderId}`, { token });
        return body.stage === 'COMPLETED' ? body : undefined;
      },
      20_000,
      'the order to complete'
    );
    expect(completed).toMatchObject({ status: 'completed', payment: { status: 'captured', capturedAmount: 3998 } });
    expect(await stockOf(system, product.id)).toEqual({ onHand: 8, reserved: 0, available: 8 });

    // Every lifecycle event reaches its subject once per id and matches its contract.
    const orderEvents = await eventually(
      async () => {
        const messages = (await streamMessages(system, 'orders')).filter((m) => m.event.subject === orderId);
        return messages.some((m) => m.event.type === 'OrderCompleted') ? messages : undefined;
      },
      20_000,
      'OrderCompleted on the orders stream'
    );
    expect(orderEvents.map((m) => m.event.type)).toEqual(['OrderCreated', 'OrderConfirmed', 'OrderCompleted']);
    const all = [
      ...orderEvents,
      ...(await streamMessages(system, 'payments')).filter((m) => m.event.correlationid === orderId),
      ...(await streamMessages(system, 'inventory')).filter((m) => m.event.correlationid === orderId),
    ];
    expect(new Set(all.map((m) => m.event.id)).size).toBe(all.length);
    for (const { msgId, event } of all) {
      expect(msgId).toBe(event.id);
      expect(validateEnvelope(event)).toEqual({ ok: true });
      const [, , , type, version] = event.dataschema.split(':');
      expect({ type, result: validateEventData(type!, version!, event.data) }).toEqual({ type, result: { ok: true } });
    }
    expect(all.map((m) => m.event.type)).toEqual(
      expect.arrayContaining(['PaymentInitiated', 'PaymentProcessed', 'PaymentComplete', 'InventoryAdjusted'])
    );

    const events = await http<{ events: { type: string }[] }>(system, 'GET', `/v1/orders/${orderId}/events`, { token });
    expect(events.body.events[0]?.type).toBe('OrderCreated');
    expect(events.body.events.at(-1)?.type).toBe('NotificationSent');
  });

  it('makes the order findable in Temporal by its search attributes', async () => {
    const product = await createProduct(system, 5);
    const customerId = randomUUID();
    const placed = await http(system, 'POST', '/v1/orders', {
      token: system.tokens.operator,
      body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
      headers: { prefer: 'wait=20' },
    });
    expect(['CONFIRMED', 'FULFILLING']).toContain(placed.body.stage);
    const found = await eventually(
      async () => {
        const ids: string[] = [];
        for await (const wf of system.resources.temporal.workflow.list({
          query: `CustomerId = '${customerId}' AND OrderStage = 'FULFILLING'`,
        })) {
          ids.push(wf.workflowId);
        }
        return ids.length ? ids : undefined;
      },
      20_000,
      'the visibility store to index the order'
    );
    expect(found).toEqual([`order-${placed.body.orderId as string}`]);
  });
});
