import { randomBytes, randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Consumers } from '../../src/events/consumers/index.js';
import { SHIPPING_CONSUMER, startConsumers } from '../../src/events/consumers/index.js';
import { createLogger } from '../../src/logger.js';
import { runOps } from '../../src/ops/cli.js';
import { externalEvent, publish } from '../events/support.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, http, orderBody, startSystem } from '../support/system.js';

const logger = createLogger('silent', 'ops-test');

/**
 * `npm run ops -- <args> --json` against this test's servers, run in-process (the CLI is a thin wrapper: a tsx
 * start per command costs up to 20 s on a loaded machine).
 */
async function ops<T>(system: TestSystem, ...args: string[]): Promise<T> {
  let out = '';
  await runOps([...args, '--json'], system.config, (text) => (out += text));
  return JSON.parse(out) as T;
}

describe('operator tooling (npm run ops)', () => {
  let system: TestSystem;
  let consumers: Consumers | undefined;
  const subject = (context: string) => `${context}.${system.config.EVENTS_ENV}.events`;

  beforeAll(async () => {
    // Streams of its own: the durable consumers here must not share messages with other files' consumers.
    system = await startSystem({
      config: { EVENTS_ENV: `ops${randomBytes(3).toString('hex')}`, DISPATCH_DEADLINE: '1s' },
    });
  });
  afterAll(async () => {
    await consumers?.stop();
    await system?.stop();
  });

  async function fulfillingOrder() {
    const product = await createProduct(system, 5);
    const customerId = randomUUID();
    const placed = await http(system, 'POST', '/v1/orders', {
      token: await system.tokens.customer(customerId),
      body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
    });
    expect(placed.status).toBe(201);
    const orderId = placed.body.orderId as string;
    const order = await eventually(async () => {
      const { body } = await http(system, 'GET', `/v1/orders/${orderId}`, { token: system.tokens.operator });
      return body.stage === 'FULFILLING' ? body : undefined;
    });
    return { orderId, shipmentId: (order.shipment as { shipmentId: string }).shipmentId };
  }

  it('lists an order that needs attention with the reason its workflow gives', async () => {
    const { orderId } = await fulfillingOrder();
    // The deadline timer, then the flag's activity: generous for a loaded CI machine.
    const flagged = await eventually(async () => {
      const orders = await ops<{ orderId: string; stage: string; reason: string }[]>(system, 'attention');
      return orders.find((order) => order.orderId === orderId);
    }, 45_000);
    expect(flagged.stage).toBe('FULFILLING');
    expect(flagged.reason).toMatch(/dispatch/i);
  });

  it('replays a parked carrier update into the running order it belongs to', async () => {
    const { orderId, shipmentId } = await fulfillingOrder();
    // A consumer that cannot reach Temporal gives up on the update and parks it (max one delivery here).
    const unreachable = new Client({ connection: Connection.lazy({ address: '127.0.0.1:1' }) });
    consumers = await startConsumers({
      ...system.resources,
      temporal: unreachable,
      config: system.config,
      logger,
      tuning: { maxDeliver: 1, retryDelayMs: 200 },
    });
    const update = externalEvent('shipping', 'ShipmentDispatched', '0.0.1', orderId, {
      shipmentId,
      orderId,
      carrier: 'DHL',
      trackingNumber: 'JD0146000062',
      occurredAt: new Date().toISOString(),
    });
    await publish(system.resources.js, subject('shipping'), update);
    type Parked = { id: string; consumer: string; eventId: string | null; type: string | null; reason: string };
    const parked = await eventually(
      async () => (await ops<Parked[]>(system, 'parked', 'list')).find((p) => p.eventId === update.id),
      30_000,
      'the update to be parked'
    );
    expect(parked).toMatchObject({ consumer: SHIPPING_CONSUMER, type: 'ShipmentDispatched' });
    expect(parked.reason).toMatch(/gave up after 1 deliveries/);
    const shown = await ops<{ payload: string }>(system, 'parked', 'show', parked.id);
    expect(JSON.parse(shown.payload)).toMatchObject({ id: update.id, data: { orderId } });
    await consumers.stop();

    // Temporal is reachable again: the operator replays the update and the running order captures its payment.
    consumers = await startConsumers({ ...system.resources, config: system.config, logger });
    const replayed = await ops<{ id: string; streamSeq: number }>(system, 'parked', 'replay', parked.id);
    expect(replayed.id).toBe(parked.id);
    const shipped = await eventually(async () => {
      const { body } = await http(system, 'GET', `/v1/orders/${orderId}`, { token: system.tokens.operator });
      return (body.payment as { status: string }).status === 'captured' ? body : undefined;
    });
    expect(shipped).toMatchObject({ shipment: { shipmentId } });
    expect(await system.resources.db.parkedMessage.count({ where: { id: parked.id } })).toBe(0);
  });

  it('drops a parked message', async () => {
    const published = await publish(system.resources.js, subject('shipping'), '{"not": "a CloudEvent"');
    consumers ??= await startConsumers({ ...system.resources, config: system.config, logger });
    const parked = await eventually(
      async () =>
        (await system.resources.db.parkedMessage.findFirst({ where: { streamSeq: BigInt(published.seq) } })) ??
        undefined
    );
    expect(await ops(system, 'parked', 'drop', parked.id)).toEqual({ id: parked.id, dropped: true });
    expect(await system.resources.db.parkedMessage.count({ where: { id: parked.id } })).toBe(0);
  });

  it('lists a stuck outbox row, dead-letters it so its aggregate moves on, and retries it', async () => {
    const aggregate = randomUUID();
    const event = (n: number) => ({
      context: 'orders' as const,
      type: 'OrderConfirmed',
      version: '0.0.1',
      subject: aggregate,
      data: { n },
      idempotencyKey: `${aggregate}:${n}`,
      correlationId: aggregate,
      causationId: 'ops-test',
    });
    const db = system.resources.db;
    await db.$transaction(async (tx) => {
      await system.resources.outbox.append(tx, [event(1)]);
      // JetStream refuses a message expecting another stream: the relay can never publish this row as it is.
      await tx.outbox.updateMany({
        where: { aggregateId: aggregate },
        data: { headers: { 'Nats-Expected-Stream': 'NOPE' } },
      });
      await system.resources.outbox.append(tx, [event(2)]);
    });
    type Stuck = { seq: string; aggregateId: string; attempts: number; lastError: string | null };
    const stuck = await eventually(async () =>
      (await ops<Stuck[]>(system, 'outbox', 'stuck')).find((row) => row.aggregateId === aggregate)
    );
    expect(stuck.attempts).toBeGreaterThanOrEqual(1);
    expect(stuck.lastError).toMatch(/expected stream/i);

    await ops(system, 'outbox', 'dead-letter', stuck.seq);
    await eventually(async () => {
      const rows = await db.outbox.findMany({ where: { aggregateId: aggregate }, orderBy: { seq: 'asc' } });
      return rows[1]?.publishedAt ? rows : undefined;
    });
    const dead = await ops<Stuck[]>(system, 'outbox', 'stuck', '--dead-lettered');
    expect(dead.map((row) => row.seq)).toContain(stuck.seq);

    await ops(system, 'outbox', 'retry', stuck.seq);
    const retried = await eventually(async () => {
      const row = await db.outbox.findUniqueOrThrow({ where: { seq: BigInt(stuck.seq) } });
      return row.deadLetteredAt === null && row.attempts > stuck.attempts ? row : undefined;
    });
    expect(retried.publishedAt).toBeNull();
    await db.outbox.updateMany({ where: { seq: BigInt(stuck.seq) }, data: { deadLetteredAt: new Date() } });
  });
});
