import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumers } from '../../src/events/consumers/index.js';
import { INVENTORY_CONSUMER, startConsumers } from '../../src/events/consumers/index.js';
import { createLogger } from '../../src/logger.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, http, orderBody, startSystem, stockOf } from '../support/system.js';
import { externalEvent, publish, restockEvent } from './support.js';

/** The inbound consumers against the run's NATS streams, Postgres and Temporal, with the whole service running. */
describe('inbound event consumers', () => {
  let system: TestSystem;
  let consumers: Consumers;
  const subject = (context: string) => `${context}.${system.config.EVENTS_ENV}.events`;

  beforeAll(async () => {
    system = await startSystem();
    consumers = await startConsumers({
      ...system.resources,
      config: system.config,
      logger: createLogger('silent', 'consumers-test'),
      tuning: { retryDelayMs: 200, ackWaitMs: 10_000 },
    });
  });
  afterAll(async () => {
    await consumers?.stop();
    await system?.stop();
  });

  const parked = (streamSeq: number) =>
    system.resources.db.parkedMessage.findFirst({
      where: { consumer: INVENTORY_CONSUMER, streamSeq: BigInt(streamSeq) },
    });

  it('applies an InventoryAdjusted delivered twice (same id, no JetStream de-duplication) once', async () => {
    const product = await createProduct(system, 0);
    const event = restockEvent(product.id, 7);
    // No Nats-Msg-Id: both copies are stored, as after a producer outage longer than the duplicate window.
    const first = await publish(system.resources.js, subject('inventory'), event);
    const second = await publish(system.resources.js, subject('inventory'), event);
    expect(second.seq).toBeGreaterThan(first.seq);
    expect(second.duplicate).toBe(false);

    // A later event on the same consumer is applied only after both copies were handled (one at a time, in order).
    const marker = await createProduct(system, 0);
    await publish(system.resources.js, subject('inventory'), restockEvent(marker.id, 1));
    await eventually(async () => ((await stockOf(system, marker.id)).onHand === 1 ? true : undefined));

    expect(await stockOf(system, product.id)).toEqual({ onHand: 7, reserved: 0, available: 7 });
    expect(await system.resources.db.inbox.count({ where: { consumer: INVENTORY_CONSUMER, eventId: event.id } })).toBe(
      1
    );
  });

  it('parks malformed messages with their reason and goes on with the next good one', async () => {
    const product = await createProduct(system, 0);
    const js = system.resources.js;
    const garbage = await publish(js, subject('inventory'), '{"specversion": "1.0", oops');
    const good = restockEvent(product.id, 2);
    const invalid = await publish(js, subject('inventory'), {
      ...good,
      id: randomUUID(),
      data: { ...good.data, quantityChange: 'ten' },
    });
    const unknownProduct = await publish(js, subject('inventory'), restockEvent(randomUUID(), 4));
    await publish(js, subject('inventory'), good);

    await eventually(async () => ((await stockOf(system, product.id)).onHand === 2 ? true : undefined));
    const rows = await eventually(async () => {
      const found = await Promise.all([parked(garbage.seq), parked(invalid.seq), parked(unknownProduct.seq)]);
      return found.every(Boolean) ? found : undefined;
    });
    expect(rows[0]).toMatchObject({ subject: subject('inventory'), payload: '{"specversion": "1.0", oops' });
    expect(rows[0]!.reason).toMatch(/^invalid JSON/);
    expect(rows[1]!.reason).toMatch(/^invalid InventoryAdjusted 1\.0\.1 data: \/quantityChange must be integer/);
    expect(rows[2]!.reason).toMatch(/^unknown product/);
  });

  async function placeFulfillingOrder(customerId: string, subscriptionId?: string) {
    const product = await createProduct(system, 10, 1500);
    const placed = await http(system, 'POST', '/v1/orders', {
      token: await system.tokens.customer(customerId),
      body: {
        ...orderBody(customerId, [{ productId: product.id, quantity: 2 }]),
        ...(subscriptionId ? { subscriptionId } : {}),
      },
    });
    expect(placed.status).toBe(201);
    const orderId = placed.body.orderId as string;
    const order = await waitForStage(orderId, 'FULFILLING');
    return { orderId, product, shipmentId: (order.shipment as { shipmentId: string }).shipmentId };
  }

  async function waitForStage(orderId: string, stage: string) {
    return eventually(
      async () => {
        const { body } = await http(system, 'GET', `/v1/orders/${orderId}`, { token: system.tokens.operator });
        return body.stage === stage ? body : undefined;
      },
      30_000,
      `order ${orderId} to reach ${stage}`
    );
  }

  it("cancels the user's open orders of a cancelled subscription, and only those", async () => {
    const customerId = randomUUID();
    const subscriptionId = `sub_${randomUUID().slice(0, 8)}`;
    const [member, other] = await Promise.all([
      placeFulfillingOrder(customerId, subscriptionId),
      placeFulfillingOrder(customerId, 'sub_other'),
    ]);

    await publish(
      system.resources.js,
      subject('subscriptions'),
      externalEvent('subscriptions', 'UserSubscriptionCancelled', '0.0.1', subscriptionId, {
        subscriptionId,
        userId: customerId,
        cancellationReason: 'no_longer_needed',
        timestamp: new Date().toISOString(),
      })
    );

    const cancelled = await waitForStage(member.orderId, 'CANCELLED');
    expect(cancelled).toMatchObject({ status: 'cancelled', cancellationReason: 'CUSTOMER_REQUESTED' });
    expect(await stockOf(system, member.product.id)).toEqual({ onHand: 10, reserved: 0, available: 10 });
    const untouched = await http(system, 'GET', `/v1/orders/${other.orderId}`, { token: system.tokens.operator });
    expect(untouched.body.stage).toBe('FULFILLING');
  });

  it('completes an order from ShipmentDispatched and ShipmentDelivered on NATS', async () => {
    const { orderId, shipmentId, product } = await placeFulfillingOrder(randomUUID());
    const shipped = { shipmentId, orderId, carrier: 'DHL', trackingNumber: 'JD0146000062' };
    for (const type of ['ShipmentDispatched', 'ShipmentDelivered']) {
      await publish(
        system.resources.js,
        subject('shipping'),
        externalEvent('shipping', type, '0.0.1', orderId, { ...shipped, occurredAt: new Date().toISOString() })
      );
    }

    const completed = await waitForStage(orderId, 'COMPLETED');
    expect(completed).toMatchObject({
      status: 'completed',
      payment: { status: 'captured', capturedAmount: 3000 },
      shipment: { shipmentId, status: 'DELIVERED' },
    });
    expect(await stockOf(system, product.id)).toEqual({ onHand: 8, reserved: 0, available: 8 });
  });
});
