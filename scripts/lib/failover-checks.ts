import type { JsMsg } from '@nats-io/jetstream';
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { EVENT_CONTEXTS } from '../../src/config/config.js';
import { connectNats } from '../../src/events/nats.js';
import { streamName } from '../../src/events/streams.js';
import type { Cluster } from './cluster.js';
import type { FinalStage, LoadDriver, PlacedOrder } from './failover-load.js';
import { SEED_WAREHOUSE } from './seed.js';

/**
 * The failover test's verdict, read from the system of record and the streams once the load settled: every
 * violation is one line; the summary gives the counts.
 */
export interface Verdict {
  summary: string[];
  violations: string[];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every message id on the environment's streams, duplicates included. */
async function publishedIds(cluster: Cluster): Promise<string[]> {
  const nats = await connectNats(cluster.config.NATS_URL, 'failover-check');
  try {
    const jsm = await jetstreamManager(nats);
    const js = jetstream(nats);
    const ids: string[] = [];
    for (const context of EVENT_CONTEXTS) {
      const stream = streamName(context, cluster.config.EVENTS_ENV);
      const { state } = await jsm.streams.info(stream);
      if (state.messages === 0) continue;
      const consumer = await jsm.consumers.add(stream, {
        deliver_policy: DeliverPolicy.All,
        ack_policy: AckPolicy.None,
        inactive_threshold: 60_000_000_000,
      });
      const messages: JsMsg[] = [];
      const iterator = await (
        await js.consumers.get(stream, consumer.name)
      ).fetch({
        max_messages: state.messages,
        expires: 10_000,
      });
      for await (const message of iterator) {
        messages.push(message);
        if (messages.length >= state.messages) break;
      }
      await jsm.consumers.delete(stream, consumer.name).catch(() => undefined);
      ids.push(...messages.map((message) => message.headers?.get('Nats-Msg-Id') ?? `(no id, seq ${message.seq})`));
    }
    return ids;
  } finally {
    await nats.close();
  }
}

export async function checkInvariants(input: {
  cluster: Cluster;
  driver: LoadDriver;
  placed: PlacedOrder[];
  settled: Map<string, FinalStage>;
  initialStock: Map<string, number>;
}): Promise<Verdict> {
  const { cluster, driver, placed, settled, initialStock } = input;
  const { db } = driver;
  const violations = [...driver.http.violations];

  // Every order was accepted once, and only once.
  const accepted = placed.filter((order) => order.orderId);
  for (const order of placed.filter((o) => !o.orderId))
    violations.push(`order #${order.index} not accepted: ${order.error}`);
  const perCustomer = await db.order.groupBy({ by: ['customerId'], _count: { _all: true } });
  for (const row of perCustomer.filter((r) => r._count._all > 1)) {
    violations.push(`customer ${row.customerId} got ${row._count._all} orders for one request (duplicate order)`);
  }

  // Each order reached the stage its card and the stock imply.
  const outcome = (order: PlacedOrder) => settled.get(order.orderId!) ?? { stage: 'MISSING', reason: null };
  const counts = { completed: 0, declined: 0, outOfStock: 0 };
  let scarceCompleted = 0;
  for (const order of accepted) {
    const { stage, reason } = outcome(order);
    const expected =
      order.kind === 'approved'
        ? stage === 'COMPLETED'
        : order.kind === 'declined'
          ? stage === 'CANCELLED' && reason === 'PAYMENT_FAILED'
          : stage === 'COMPLETED' || (stage === 'CANCELLED' && reason === 'OUT_OF_STOCK');
    if (!expected)
      violations.push(`order ${order.orderId} (${order.kind}) ended ${stage}${reason ? `/${reason}` : ''}`);
    if (stage === 'COMPLETED') counts.completed += 1;
    if (stage === 'COMPLETED' && order.kind === 'scarce') scarceCompleted += 1;
    if (reason === 'PAYMENT_FAILED') counts.declined += 1;
    if (reason === 'OUT_OF_STOCK') counts.outOfStock += 1;
  }
  const scarce = accepted.filter((order) => order.kind === 'scarce');
  const scarceProduct = scarce[0]?.productId;
  const scarceStock = scarceProduct ? (initialStock.get(scarceProduct) ?? 0) : 0;
  if (scarce.length > 0 && scarceCompleted !== Math.min(scarceStock, scarce.length)) {
    violations.push(`${scarceCompleted} of ${scarce.length} buyers got the scarce product, stock was ${scarceStock}`);
  }

  // One successful authorization and one capture per completed order, none for the others.
  const payments = await db.payment.groupBy({
    by: ['orderId', 'kind'],
    where: { status: 'SUCCEEDED' },
    _count: { _all: true },
    _sum: { amount: true },
  });
  const paid = new Map(payments.map((row) => [`${row.orderId}:${row.kind}`, row._count._all]));
  let authorizations = 0;
  let captures = 0;
  for (const order of accepted) {
    const completed = outcome(order).stage === 'COMPLETED';
    const auth = paid.get(`${order.orderId}:AUTHORIZATION`) ?? 0;
    const capture = paid.get(`${order.orderId}:CAPTURE`) ?? 0;
    authorizations += auth;
    captures += capture;
    if (auth !== (completed ? 1 : 0)) violations.push(`order ${order.orderId}: ${auth} successful authorizations`);
    if (capture !== (completed ? 1 : 0)) violations.push(`order ${order.orderId}: ${capture} captures`);
  }

  // Stock is conserved: what left the warehouse is what completed orders took; nothing stays reserved.
  const shipped = new Map<string, number>();
  for (const order of accepted.filter((o) => outcome(o).stage === 'COMPLETED')) {
    shipped.set(order.productId, (shipped.get(order.productId) ?? 0) + order.quantity);
  }
  for (const [productId, initial] of initialStock) {
    const item = await db.inventoryItem.findUnique({
      where: { productId_warehouseId: { productId, warehouseId: SEED_WAREHOUSE } },
    });
    const expectedOnHand = initial - (shipped.get(productId) ?? 0);
    if (item?.onHand !== expectedOnHand || item.reserved !== 0) {
      violations.push(
        `stock of ${productId}: on hand ${item?.onHand}, reserved ${item?.reserved}; expected ${expectedOnHand}, 0`
      );
    }
  }

  // Every outbox row reached JetStream, once per event id.
  let unpublished = Infinity;
  for (let waited = 0; waited < 30_000 && unpublished > 0; waited += 500) {
    unpublished = await db.outbox.count({ where: { publishedAt: null } });
    if (unpublished > 0) await sleep(500);
  }
  if (unpublished > 0) violations.push(`${unpublished} outbox rows never published`);
  const outboxIds = new Set((await db.outbox.findMany({ select: { id: true } })).map((row) => row.id));
  const published = await publishedIds(cluster);
  const distinct = new Set(published);
  const missing = [...outboxIds].filter((id) => !distinct.has(id));
  const unknown = [...distinct].filter((id) => !outboxIds.has(id));
  if (missing.length) violations.push(`${missing.length} outbox rows not on JetStream, e.g. ${missing[0]}`);
  if (unknown.length)
    violations.push(`${unknown.length} messages on JetStream without an outbox row, e.g. ${unknown[0]}`);

  return {
    violations,
    summary: [
      `orders: ${placed.length} placed, ${accepted.length} accepted; ${counts.completed} completed ` +
        `(${scarceCompleted} of ${scarce.length} buyers of the scarce product), ${counts.declined} declined, ` +
        `${counts.outOfStock} out of stock`,
      `payments: ${authorizations} successful authorizations, ${captures} captures`,
      `events: ${outboxIds.size} outbox rows, ${distinct.size} distinct on JetStream ` +
        `(${published.length - distinct.size} duplicate deliveries dropped by id)`,
    ],
  };
}
