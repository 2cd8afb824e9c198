import { randomBytes, randomUUID } from 'node:crypto';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { createDb } from '../../src/db/client.js';
import type { ConsumerTuning, InboundHandler } from '../../src/events/consumers/runner.js';
import { runConsumer } from '../../src/events/consumers/runner.js';
import { EVENT_SOURCE } from '../../src/events/envelope.js';
import { connectNats } from '../../src/events/nats.js';
import { deleteStreams, ensureStreams, streamName } from '../../src/events/streams.js';
import { createLogger } from '../../src/logger.js';
import { publish, restockEvent, until } from './support.js';

/**
 * The consumer loop's delivery policy (retry, give up, park) with a scripted handler, on streams of a private
 * events environment so nothing else consumes or publishes there.
 */
describe('inbound consumer delivery policy', () => {
  const eventsEnv = `u${randomBytes(3).toString('hex')}`;
  const subject = `inventory.${eventsEnv}.events`;
  const logger = createLogger('silent', 'runner-test');
  let nc: NatsConnection;
  let js: JetStreamClient;
  let jsm: JetStreamManager;
  let db: Db;

  beforeAll(async () => {
    nc = await connectNats(inject('natsUrl'), 'runner-test');
    js = jetstream(nc);
    jsm = await jetstreamManager(nc);
    await ensureStreams(jsm, eventsEnv);
    db = createDb(inject('databaseUrl'));
  });
  afterAll(async () => {
    await deleteStreams(jsm, eventsEnv);
    await nc?.close();
    await db?.$disconnect();
  });

  /** A handler whose behaviour per event is scripted through the event's `reason`, counting its calls. */
  function scripted(name: string, hang?: Promise<void>) {
    const calls = new Map<string, number>();
    const handler: InboundHandler = {
      name,
      context: 'inventory',
      types: ['InventoryAdjusted'],
      async handle(event) {
        const count = (calls.get(event.id) ?? 0) + 1;
        calls.set(event.id, count);
        const script = (event.data as { reason?: string }).reason;
        if (script === 'always-fails') throw new Error('temporarily unavailable');
        if (script === 'fails-once' && count === 1) throw new Error('temporarily unavailable');
        if (script === 'hangs') await hang;
        return 'applied';
      },
    };
    return { handler, calls };
  }

  function scriptedEvent(script: 'always-fails' | 'fails-once' | 'hangs') {
    const event = restockEvent(randomUUID(), 1);
    event.data.reason = script;
    return event;
  }

  const tuning = (overrides: Partial<ConsumerTuning> = {}): ConsumerTuning => ({
    ackWaitMs: 5_000,
    maxDeliver: 3,
    retryDelayMs: 100,
    maxRetryDelayMs: 1_000,
    batch: 10,
    ...overrides,
  });

  const parkedRow = (consumer: string, streamSeq: number) =>
    db.parkedMessage.findFirst({ where: { consumer, streamSeq: BigInt(streamSeq) } });

  it('retries a transient failure with backoff and parks the message when the last delivery fails too', async () => {
    const name = `runner-test-${randomUUID().slice(0, 8)}`;
    const { handler, calls } = scripted(name);
    const consumer = await runConsumer({ handler, db, js, jsm, eventsEnv, logger, tuning: tuning() });
    try {
      const doomed = scriptedEvent('always-fails');
      const flaky = scriptedEvent('fails-once');
      const own = restockEvent(randomUUID(), 1, { source: EVENT_SOURCE });
      const doomedAck = await publish(js, subject, doomed);
      const flakyAck = await publish(js, subject, flaky);
      await publish(js, subject, own);

      const parked = await until(() => parkedRow(name, doomedAck.seq).then((row) => row ?? undefined), 15_000, 'park');
      expect(parked.reason).toBe('gave up after 3 deliveries: Error: temporarily unavailable');
      const durable = await js.consumers.get(streamName('inventory', eventsEnv), name);
      await until(
        async () => ((await durable.info()).num_ack_pending === 0 ? true : undefined),
        15_000,
        'every message to be settled'
      );
      expect(Object.fromEntries(calls)).toEqual({ [doomed.id]: 3, [flaky.id]: 2 });
      expect(await parkedRow(name, flakyAck.seq)).toBeNull();
    } finally {
      await consumer.stop();
    }
  });

  it('parks a message whose last delivery got no answer at all (a consumer that died or hung)', async () => {
    const name = `runner-test-${randomUUID().slice(0, 8)}`;
    let release!: () => void;
    const { handler } = scripted(name, new Promise<void>((resolve) => (release = resolve)));
    const consumer = await runConsumer({
      handler,
      db,
      js,
      jsm,
      nats: nc,
      eventsEnv,
      logger,
      tuning: tuning({ ackWaitMs: 1_000, maxDeliver: 1 }),
    });
    try {
      const stuck = scriptedEvent('hangs');
      const ack = await publish(js, subject, stuck);
      const parked = await until(() => parkedRow(name, ack.seq).then((row) => row ?? undefined), 15_000, 'park');
      expect(parked.reason).toBe('no answer after 1 deliveries (the consumer died or hung while handling it)');
      expect(JSON.parse(parked.payload)).toMatchObject({ id: stuck.id });
    } finally {
      release();
      await consumer.stop();
    }
  });
});
