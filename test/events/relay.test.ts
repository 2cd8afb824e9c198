import { randomBytes, randomUUID } from 'node:crypto';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Consumers } from '../../src/events/consumers/index.js';
import { INVENTORY_CONSUMER, startConsumers } from '../../src/events/consumers/index.js';
import type { DomainEvent } from '../../src/events/envelope.js';
import { connectNats } from '../../src/events/nats.js';
import { createOutboxWriter } from '../../src/events/outbox.js';
import { createRelay } from '../../src/events/relay.js';
import { streamName } from '../../src/events/streams.js';
import { createLogger } from '../../src/logger.js';
import { connectClient } from '../../src/temporal/connection.js';
import type { OwnNatsServer, ScratchDatabase, StoredEvent } from './support.js';
import { addStreams, createScratchDatabase, readStream, restockEvent, sleep, startOwnNats, until } from './support.js';

/**
 * The outbox relay under NATS and process faults, against a private nats-server (killed and restarted at will)
 * whose streams keep duplicates for 1 s only, and a private database (a relay claims every row of its database).
 */
const DUPLICATE_WINDOW_MS = 1_000;
const logger = createLogger(process.env.TEST_LOG ?? 'silent', 'relay-test');

describe('outbox relay under faults', () => {
  const eventsEnv = `r${randomBytes(3).toString('hex')}`;
  const ordersStream = streamName('orders', eventsEnv);
  let nats: OwnNatsServer;
  let scratch: ScratchDatabase;
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  const writer = createOutboxWriter(eventsEnv);

  beforeAll(async () => {
    [nats, scratch] = await Promise.all([startOwnNats(), createScratchDatabase()]);
    nc = await connectNats(nats.url, 'relay-test');
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
    await addStreams(jsm, eventsEnv, DUPLICATE_WINDOW_MS);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.dispose();
    await scratch?.drop();
  });

  function orderEvent(aggregate: string, n: number): DomainEvent {
    return {
      context: 'orders',
      type: 'OrderConfirmed',
      version: '0.0.1',
      subject: aggregate,
      data: { n },
      idempotencyKey: `${aggregate}:${n}`,
      correlationId: aggregate,
      causationId: 'relay-test',
    };
  }

  async function write(aggregates: string[], from: number, to: number) {
    for (let n = from; n < to; n++) {
      await scratch.db.$transaction((tx) =>
        writer.append(
          tx,
          aggregates.map((a) => orderEvent(a, n))
        )
      );
    }
  }

  const unpublished = (aggregates: string[]) =>
    scratch.db.outbox.count({ where: { aggregateId: { in: aggregates }, publishedAt: null } });

  /** Event ids per aggregate in `seq` order: the order the relay must keep on the stream. */
  async function seqOrder(aggregates: string[]) {
    const rows = await scratch.db.outbox.findMany({
      where: { aggregateId: { in: aggregates } },
      orderBy: { seq: 'asc' },
      select: { id: true, aggregateId: true },
    });
    const order = new Map<string, string[]>();
    for (const row of rows) order.set(row.aggregateId, [...(order.get(row.aggregateId) ?? []), row.id]);
    return order;
  }

  function streamOrder(stored: StoredEvent[], aggregates: string[]) {
    const order = new Map<string, string[]>();
    for (const { event } of stored.filter((s) => aggregates.includes(s.event.subject))) {
      order.set(event.subject, [...(order.get(event.subject) ?? []), event.id]);
    }
    return order;
  }

  it('rides out a NATS outage longer than the duplicate window: nothing lost, nothing duplicated', async () => {
    const relay = createRelay(scratch.url, js, logger, { pollIntervalMs: 50, retentionMs: 3_600_000 });
    relay.start();
    try {
      const aggregates: string[] = Array.from({ length: 4 }, () => randomUUID());
      await write(aggregates, 0, 5);
      await until(async () => ((await unpublished(aggregates)) === 0 ? true : undefined), 10_000, 'first batch');

      await nats.kill();
      const downAt = Date.now();
      try {
        await write(aggregates, 5, 10);
        // The relay keeps trying (each publish times out) until well past the duplicate window.
        await until(
          async () => {
            const tried = await scratch.db.outbox.aggregate({
              where: { aggregateId: { in: aggregates }, publishedAt: null },
              _sum: { attempts: true },
            });
            return (tried._sum.attempts ?? 0) > 0 && Date.now() - downAt > 3 * DUPLICATE_WINDOW_MS ? true : undefined;
          },
          20_000,
          'failed publish attempts'
        );
        expect(await unpublished(aggregates)).toBe(20);
      } finally {
        await nats.start();
      }
      const restartedAt = Date.now();
      await until(async () => ((await unpublished(aggregates)) === 0 ? true : undefined), 30_000, 'the backlog');
      const drainMs = Date.now() - restartedAt;

      const stored = (await readStream(js, jsm, ordersStream)).filter((s) => aggregates.includes(s.event.subject));
      expect(stored).toHaveLength(40);
      expect(new Set(stored.map((s) => s.event.id)).size).toBe(40);
      expect(stored.every((s) => s.msgId === s.event.id)).toBe(true);
      expect(streamOrder(stored, aggregates)).toEqual(await seqOrder(aggregates));
      console.info(`[measure] backlog of 20 events drained ${drainMs} ms after NATS came back`);
    } finally {
      await relay.stop();
    }
  });

  describe('relay dying between publish and mark', () => {
    let consumers: Consumers;
    let temporal: Client;
    beforeAll(async () => {
      const connection = await connectClient(inject('temporalAddress'));
      temporal = new Client({ connection });
      const config = loadConfig({
        DATABASE_URL: scratch.url,
        NATS_URL: nats.url,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        EVENTS_ENV: eventsEnv,
        AUTH: 'off',
        LOG_LEVEL: 'silent',
      });
      consumers = await startConsumers({
        config,
        db: scratch.db,
        js,
        temporal,
        outbox: writer,
        logger,
        tuning: { retryDelayMs: 200 },
      });
    });
    afterAll(async () => {
      await consumers?.stop();
      await temporal?.connection.close();
    });

    /** A relay whose process "dies" right after JetStream acknowledged: the row is never marked published. */
    function crashingAfterPublish(): JetStreamClient {
      return new Proxy(js, {
        get(target, property, receiver) {
          if (property !== 'publish') return Reflect.get(target, property, receiver) as unknown;
          return async (...args: Parameters<JetStreamClient['publish']>) => {
            await target.publish(...args);
            throw new Error('relay killed after the publish, before marking the row');
          };
        },
      });
    }

    async function externalRestockRow(quantity: number) {
      const productId = randomUUID();
      await scratch.db.product.create({
        data: {
          id: productId,
          sku: `SKU-${productId.slice(0, 8)}`,
          name: 'relay test',
          unitPrice: 100,
          currency: 'USD',
        },
      });
      // An upstream inventory service with the same outbox design: its row carries its own envelope and source.
      const envelope = restockEvent(productId, quantity);
      await scratch.db.outbox.create({
        data: {
          id: envelope.id,
          aggregateId: productId,
          subject: `inventory.${eventsEnv}.events`,
          type: envelope.type,
          envelope: JSON.parse(JSON.stringify(envelope)) as object,
        },
      });
      return { productId, eventId: envelope.id };
    }

    const copiesOf = async (eventId: string) =>
      (await readStream(js, jsm, streamName('inventory', eventsEnv))).filter((s) => s.event.id === eventId);

    it('re-publishes after the duplicate window, and the deduping consumer applies the event once', async () => {
      const { productId, eventId } = await externalRestockRow(5);
      const crashed = createRelay(scratch.url, crashingAfterPublish(), logger, {
        pollIntervalMs: 50,
        retentionMs: 3_600_000,
      });
      expect(await crashed.publishBatch()).toBeLessThan(0);
      await crashed.stop();
      expect(await scratch.db.outbox.findUniqueOrThrow({ where: { id: eventId } })).toMatchObject({
        publishedAt: null,
        attempts: 1,
      });

      await sleep(DUPLICATE_WINDOW_MS + 500);
      const restarted = createRelay(scratch.url, js, logger, { pollIntervalMs: 50, retentionMs: 3_600_000 });
      expect(await restarted.publishBatch()).toBeGreaterThan(0);
      await restarted.stop();
      expect(await copiesOf(eventId)).toHaveLength(2);

      const inventory = await js.consumers.get(streamName('inventory', eventsEnv), INVENTORY_CONSUMER);
      await until(
        async () => {
          const info = await inventory.info();
          return info.num_pending === 0 && info.num_ack_pending === 0 ? info : undefined;
        },
        20_000,
        'the consumer to settle both copies'
      );
      const stock = await scratch.db.inventoryItem.findMany({ where: { productId } });
      expect(stock.map((row) => row.onHand)).toEqual([5]);
      expect(await scratch.db.inbox.count({ where: { consumer: INVENTORY_CONSUMER, eventId } })).toBe(1);
      expect(await scratch.db.parkedMessage.count()).toBe(0);
    });

    it('re-publishes inside the duplicate window: JetStream drops the copy and the relay counts it published', async () => {
      const { eventId } = await externalRestockRow(3);
      const crashed = createRelay(scratch.url, crashingAfterPublish(), logger, {
        pollIntervalMs: 50,
        retentionMs: 3_600_000,
      });
      await crashed.publishBatch();
      await crashed.stop();
      const restarted = createRelay(scratch.url, js, logger, { pollIntervalMs: 50, retentionMs: 3_600_000 });
      expect(await restarted.publishBatch()).toBeGreaterThan(0);
      await restarted.stop();
      expect((await scratch.db.outbox.findUniqueOrThrow({ where: { id: eventId } })).publishedAt).not.toBeNull();
      expect(await copiesOf(eventId)).toHaveLength(1);
    });
  });

  it('keeps per-aggregate order with two relays publishing at once while writers keep writing', async () => {
    const aggregates: string[] = Array.from({ length: 20 }, () => randomUUID());
    const perAggregate = 30;
    const published: string[][] = [[], []];
    const connections = await Promise.all([connectNats(nats.url, 'relay-a'), connectNats(nats.url, 'relay-b')]);
    const relays = connections.map((connection, index) => {
      const client = jetstream(connection);
      const counting = new Proxy(client, {
        get(target, property, receiver) {
          if (property !== 'publish') return Reflect.get(target, property, receiver) as unknown;
          return async (...args: Parameters<JetStreamClient['publish']>) => {
            const ack = await target.publish(...args);
            published[index]!.push(args[2]?.msgID ?? '');
            return ack;
          };
        },
      });
      return createRelay(scratch.url, counting, logger, { pollIntervalMs: 5, retentionMs: 3_600_000, batchSize: 7 });
    });
    const startedAt = Date.now();
    relays.forEach((relay) => relay.start());
    try {
      // 10 concurrent writers; each transaction appends 1 to 3 consecutive events of one aggregate.
      const next = new Map(aggregates.map((a) => [a, 0]));
      await Promise.all(
        Array.from({ length: 10 }, async (_, w) => {
          for (let i = 0; ; i++) {
            const open = aggregates.filter((a) => next.get(a)! < perAggregate);
            if (open.length === 0) return;
            const aggregate = open[(w * 7 + i) % open.length]!;
            const from = next.get(aggregate)!;
            const to = Math.min(perAggregate, from + 1 + ((w + i) % 3));
            next.set(aggregate, to);
            await scratch.db.$transaction((tx) =>
              writer.append(
                tx,
                Array.from({ length: to - from }, (_, k) => orderEvent(aggregate, from + k))
              )
            );
          }
        })
      );
      await until(async () => ((await unpublished(aggregates)) === 0 ? true : undefined), 60_000, 'all events');
      const elapsedMs = Date.now() - startedAt;

      const stored = (await readStream(js, jsm, ordersStream)).filter((s) => aggregates.includes(s.event.subject));
      expect(stored).toHaveLength(aggregates.length * perAggregate);
      expect(new Set(stored.map((s) => s.event.id)).size).toBe(stored.length);
      expect(streamOrder(stored, aggregates)).toEqual(await seqOrder(aggregates));
      // Both relays took part, and no row was published twice (not even as a copy the stream dropped).
      const ours = new Set(stored.map((s) => s.event.id));
      const [byA, byB] = published.map((ids) => ids.filter((id) => ours.has(id)).length);
      expect(byA).toBeGreaterThan(0);
      expect(byB).toBeGreaterThan(0);
      expect(byA! + byB!).toBe(stored.length);
      console.info(
        `[measure] 2 relays published ${stored.length} events of ${aggregates.length} aggregates in ${elapsedMs} ms ` +
          `(relay A ${byA}, relay B ${byB})`
      );
    } finally {
      await Promise.all(relays.map((relay) => relay.stop()));
      await Promise.all(connections.map((connection) => connection.close()));
    }
  });

  it('is woken by the outbox commit (LISTEN/NOTIFY), also after its connection was killed', async () => {
    // Polling once an hour: an event that goes out during this test went out because its commit woke the relay.
    const relay = createRelay(scratch.url, js, logger, {
      pollIntervalMs: 3_600_000,
      retentionMs: 3_600_000,
      listen: true,
      reconnectMs: 100,
    });
    relay.start();
    try {
      // The relay's one connection; that it listens shows in what follows: nothing else would wake it within the hour.
      const listening = () =>
        scratch.db.$queryRaw<{ pid: number }[]>`
          SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'orders-outbox-relay'`;
      await until(async () => ((await listening()).length === 1 ? true : undefined), 10_000, 'the relay to connect');
      const [first, second] = [randomUUID(), randomUUID()];
      await write([first], 0, 3);
      await until(async () => ((await unpublished([first])) === 0 ? true : undefined), 10_000, 'the woken relay');

      // The relay reconnects on its own, and events committed meanwhile are not left for the hourly poll.
      const [{ pid }] = (await listening()) as [{ pid: number }];
      await scratch.db.$queryRaw`SELECT pg_terminate_backend(${pid}::int)`;
      await write([second], 0, 3);
      await until(async () => ((await unpublished([second])) === 0 ? true : undefined), 10_000, 'after a reconnect');
      await until(
        async () => ((await listening()).some((row) => row.pid !== pid) ? true : undefined),
        10_000,
        'a new listening connection'
      );
      const stored = await readStream(js, jsm, ordersStream);
      expect(streamOrder(stored, [first, second])).toEqual(await seqOrder([first, second]));
    } finally {
      await relay.stop();
    }
  });

  it('publishes in commit order when two transactions for one aggregate commit out of insert order', async () => {
    const relay = createRelay(scratch.url, js, logger, { pollIntervalMs: 10, retentionMs: 3_600_000 });
    relay.start();
    try {
      const aggregate = randomUUID();
      let releaseFirst!: () => void;
      const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
      let firstInserted!: () => void;
      const inserted = new Promise<void>((resolve) => (firstInserted = resolve));
      const first = scratch.db.$transaction(async (tx) => {
        await writer.append(tx, [orderEvent(aggregate, 1)]);
        firstInserted();
        await firstHeld;
      });
      await inserted;
      let secondDone = false;
      const second = scratch.db
        .$transaction((tx) => writer.append(tx, [orderEvent(aggregate, 2)]))
        .then(() => (secondDone = true));

      // The second writer waits for the first to commit instead of committing a later event first.
      await sleep(500);
      const secondCommittedFirst = secondDone;
      releaseFirst();
      await Promise.all([first, second]);

      await until(async () => ((await unpublished([aggregate])) === 0 ? true : undefined), 10_000, 'both events');
      const stored = (await readStream(js, jsm, ordersStream)).filter((s) => s.event.subject === aggregate);
      expect(stored.map((s) => (s.event.data as { n: number }).n)).toEqual([1, 2]);
      expect(streamOrder(stored, [aggregate])).toEqual(await seqOrder([aggregate]));
      expect(secondCommittedFirst).toBe(false);
    } finally {
      await relay.stop();
    }
  });
  it('backs off only the aggregate whose event JetStream refuses; the others keep flowing', async () => {
    const relay = createRelay(scratch.url, js, logger, {
      pollIntervalMs: 20,
      retentionMs: 3_600_000,
      aggregateBackoff: { initialMs: 3_600_000, maxMs: 3_600_000 },
    });
    const [stuck, ...others] = Array.from({ length: 4 }, () => randomUUID());
    try {
      await write([stuck!], 0, 2);
      // JetStream refuses a publish whose expected stream is another one: a message it will never take. The relay
      // starts once the row is spoiled: running, it could publish the row first.
      const head = await scratch.db.outbox.findFirstOrThrow({
        where: { aggregateId: stuck! },
        orderBy: { seq: 'asc' },
      });
      await scratch.db.outbox.update({
        where: { seq: head.seq },
        data: { headers: { 'Nats-Expected-Stream': 'NOPE' } },
      });
      relay.start();
      await write(others, 0, 3);
      const backedOff = await until(
        async () => {
          const row = await scratch.db.outbox.findUniqueOrThrow({ where: { seq: head.seq } });
          return row.nextAttemptAt ? row : undefined;
        },
        10_000,
        'the refused row to be backed off'
      );
      expect(backedOff.attempts).toBe(2);
      expect(backedOff.lastError).toMatch(/expected stream/i);

      // Written after the refusal, the other aggregates' events still go out; the stuck one is not retried.
      await write(others, 3, 6);
      await until(async () => ((await unpublished(others)) === 0 ? true : undefined), 10_000, 'the other aggregates');
      expect(await unpublished([stuck!])).toBe(2);
      expect((await scratch.db.outbox.findUniqueOrThrow({ where: { seq: head.seq } })).attempts).toBe(2);

      // Once the message is fixed and its backoff cleared (what `ops outbox retry` does), both go out in order.
      await scratch.db.outbox.update({ where: { seq: head.seq }, data: { headers: {}, nextAttemptAt: null } });
      await until(async () => ((await unpublished([stuck!])) === 0 ? true : undefined), 10_000, 'the stuck aggregate');
      const stored = await readStream(js, jsm, ordersStream);
      expect(streamOrder(stored, [stuck!, ...others])).toEqual(await seqOrder([stuck!, ...others]));
    } finally {
      await relay.stop();
      await scratch.db.outbox.deleteMany({ where: { aggregateId: stuck!, publishedAt: null } });
    }
  });
});
