import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { AckPolicy, DeliverPolicy } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { EventContext } from '../../config/config.js';
import type { Db } from '../../db/client.js';
import type { CloudEvent } from '../envelope.js';
import { parkMessage } from '../inbox.js';
import { streamName } from '../streams.js';
import { inEventSpan } from '../../tracing/spans.js';
import type { Decoded } from './decode.js';
import { decodeInbound } from './decode.js';

/** Thrown by a handler for a message that can never succeed (unknown order, impossible stock change): it is parked. */
export class PoisonMessageError extends Error {
  readonly code = 'POISON_MESSAGE';
  constructor(message: string) {
    super(message);
    this.name = 'PoisonMessageError';
  }
}

export interface Delivery {
  /** The durable consumer's name, also the inbox key. */
  consumer: string;
  /** True when JetStream delivered this message before: an earlier attempt may have stopped half way. */
  redelivered: boolean;
  logger: Logger;
}

export type Outcome = 'applied' | 'duplicate' | 'skipped';

export interface InboundHandler {
  /** Durable consumer name, e.g. `orders-service-inventory`; also the `inbox.consumer` value. */
  name: string;
  context: EventContext;
  /** The message types this consumer acts on; other valid messages on the subject are acknowledged and skipped. */
  types: readonly string[];
  /**
   * Applies one validated event. Throw PoisonMessageError for a message that can never succeed; any other error
   * is treated as transient and the message is redelivered later.
   */
  handle(event: CloudEvent, delivery: Delivery): Promise<Outcome>;
}

/** The durable consumer of a context's stream. The name is also the inbox key: renaming it re-applies old messages. */
export const consumerName = (context: EventContext) => `orders-service-${context}`;

/**
 * The consumer of `types` on the context's stream. `handle` gets the event's data as `Data`: decodeInbound has
 * validated it against the contract of its type and version before any handler runs.
 */
export function inboundHandler<Data>(
  context: EventContext,
  types: readonly string[],
  handle: (data: Data, event: CloudEvent, delivery: Delivery) => Promise<Outcome>
): InboundHandler {
  return {
    name: consumerName(context),
    context,
    types,
    handle: (event, delivery) => handle(event.data as Data, event, delivery),
  };
}

export interface ConsumerTuning {
  /** How long JetStream waits for an ack before redelivering; longer than the slowest handler run. */
  ackWaitMs: number;
  /** Deliveries before a message that keeps failing is parked. */
  maxDeliver: number;
  /** Delay before the first retry of a transient failure; doubled per delivery. */
  retryDelayMs: number;
  maxRetryDelayMs: number;
  /** Messages pulled per request. */
  batch: number;
}

// 5 deliveries with 5, 10, 20, 40 s between them: a Postgres or Temporal restart of about a minute is ridden out
// before anything is parked, and a parked message can be replayed from parked_messages.
export const DEFAULT_TUNING: ConsumerTuning = {
  ackWaitMs: 30_000,
  maxDeliver: 5,
  retryDelayMs: 5_000,
  maxRetryDelayMs: 60_000,
  batch: 20,
};

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates the durable consumer, or brings the settings an operator may tune up to date. */
export async function ensureConsumer(
  jsm: JetStreamManager,
  stream: string,
  name: string,
  subject: string,
  tuning: ConsumerTuning
): Promise<void> {
  const settings = {
    ack_wait: tuning.ackWaitMs * 1_000_000,
    max_deliver: tuning.maxDeliver,
    max_ack_pending: 1_000,
  };
  try {
    await jsm.consumers.info(stream, name);
  } catch {
    await jsm.consumers.add(stream, {
      durable_name: name,
      description: `orders service: applies ${subject}`,
      filter_subject: subject,
      ack_policy: AckPolicy.Explicit,
      // A consumer created after the producers started still sees what the stream holds.
      deliver_policy: DeliverPolicy.All,
      ...settings,
    });
    return;
  }
  await jsm.consumers.update(stream, name, settings);
}

export interface RunningConsumer {
  name: string;
  stop(): Promise<void>;
}

/**
 * Runs one durable pull consumer: every message is decoded, validated and handed to the handler one at a time
 * (so a carrier's "dispatched" is applied before its "delivered"), then acknowledged, retried later, or parked.
 * Nothing here throws out of the loop: a failure of NATS itself is logged and the pull restarts.
 */
export async function runConsumer(deps: {
  handler: InboundHandler;
  db: Db;
  js: JetStreamClient;
  jsm: JetStreamManager;
  nats?: NatsConnection;
  eventsEnv: string;
  logger: Logger;
  tuning: ConsumerTuning;
  /** Told how each message was settled, for metrics. */
  onSettled?: (consumer: string, outcome: Outcome | 'parked' | 'retried') => void;
}): Promise<RunningConsumer> {
  const { handler, db, js, jsm, tuning } = deps;
  const logger = deps.logger.child({ consumer: handler.name });
  const stream = streamName(handler.context, deps.eventsEnv);
  const subject = `${handler.context}.${deps.eventsEnv}.events`;
  const types = new Set(handler.types);
  await ensureConsumer(jsm, stream, handler.name, subject, tuning);

  const retryDelay = (attempt: number) =>
    Math.min(tuning.retryDelayMs * 2 ** Math.max(0, attempt - 1), tuning.maxRetryDelayMs);

  async function park(
    message: { subject: string; seq: number; payload: string },
    reason: string,
    ids: { eventId?: string; type?: string }
  ): Promise<boolean> {
    try {
      await parkMessage(db, {
        consumer: handler.name,
        subject: message.subject,
        streamSeq: message.seq,
        payload: message.payload,
        reason,
      });
    } catch (error) {
      logger.error(
        { subject: message.subject, streamSeq: message.seq, ...ids, reason, err: describe(error) },
        'could not park inbound message; it stays on the stream'
      );
      return false;
    }
    logger.warn({ subject: message.subject, streamSeq: message.seq, ...ids, reason }, 'inbound message parked');
    deps.onSettled?.(handler.name, 'parked');
    return true;
  }

  async function process(message: JsMsg): Promise<void> {
    const raw = message.string();
    const at = { subject: message.subject, seq: message.seq, payload: raw };
    const attempt = message.info.deliveryCount;
    let decoded: Decoded;
    try {
      decoded = decodeInbound(raw);
    } catch (error) {
      decoded = { kind: 'invalid', reason: `could not be validated: ${describe(error)}` };
    }
    if (decoded.kind === 'own') return message.ack();
    if (decoded.kind === 'invalid') {
      const { reason, kind: _kind, ...ids } = decoded;
      if (await park(at, reason, ids)) return message.term();
      return message.nak(retryDelay(attempt));
    }
    const { event } = decoded;
    const ids = { eventId: event.id, type: event.type };
    if (!types.has(event.type)) {
      logger.debug({ ...ids, source: event.source }, 'not consumed here; skipped');
      return message.ack();
    }
    try {
      // The publisher's span (NATS header) when traced, else the context the CloudEvent itself carries.
      const parent = message.headers?.get('traceparent') || event.traceparent;
      const outcome = await inEventSpan(
        `process ${message.subject}`,
        'consumer',
        parent,
        { 'messaging.system': 'nats', 'messaging.consumer.group.name': handler.name, 'messaging.message.id': event.id },
        () => handler.handle(event, { consumer: handler.name, redelivered: message.redelivered, logger })
      );
      message.ack();
      deps.onSettled?.(handler.name, outcome);
      logger.debug({ ...ids, outcome, attempt }, 'inbound event handled');
    } catch (error) {
      if (error instanceof PoisonMessageError) {
        if (await park(at, error.message, ids)) return message.term();
        return message.nak(retryDelay(attempt));
      }
      if (attempt >= tuning.maxDeliver) {
        if (await park(at, `gave up after ${attempt} deliveries: ${describe(error)}`, ids)) return message.term();
        return message.nak(retryDelay(attempt));
      }
      const retryInMs = retryDelay(attempt);
      logger.warn({ ...ids, attempt, retryInMs, err: describe(error) }, 'inbound event failed; will retry');
      deps.onSettled?.(handler.name, 'retried');
      message.nak(retryInMs);
    }
  }

  let running = true;
  let messages: ConsumerMessages | undefined;
  const loop = (async () => {
    let backoff = 500;
    while (running) {
      try {
        const consumer = await js.consumers.get(stream, handler.name);
        messages = await consumer.consume({ max_messages: tuning.batch });
        if (!running) break;
        for await (const message of messages) {
          backoff = 500;
          await process(message);
          if (!running) break;
        }
      } catch (error) {
        if (!running) break;
        logger.warn({ err: describe(error), retryInMs: backoff }, 'consumer stopped pulling; restarting');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 10_000);
        continue;
      }
      // The iterator ended without being asked to (the consumer was deleted, the connection closed): pull again.
      if (running) await sleep(backoff);
    }
  })();

  // The last delivery of a message can end without an answer (the process died mid-way): JetStream then stops
  // redelivering and announces it. One instance of the queue group parks it, so nothing is dropped silently.
  let advisories: Subscription | undefined;
  if (deps.nats) {
    advisories = deps.nats.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${handler.name}`, {
      queue: `${handler.name}-max-deliveries`,
      callback: (error, advisory) => {
        if (error) return;
        void (async () => {
          const { stream_seq: seq, deliveries } = advisory.json<{ stream_seq: number; deliveries: number }>();
          const stored = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
          await park(
            { subject: stored?.subject ?? subject, seq, payload: stored?.string() ?? '' },
            `no answer after ${deliveries} deliveries (the consumer died or hung while handling it)`,
            {}
          );
        })().catch((failure: unknown) => logger.error({ err: describe(failure) }, 'max-deliveries advisory failed'));
      },
    });
  }

  logger.info({ stream, subject }, 'inbound consumer running');
  return {
    name: handler.name,
    async stop() {
      running = false;
      advisories?.unsubscribe();
      await messages?.close().catch(() => undefined);
      await loop;
    },
  };
}
