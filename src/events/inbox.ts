import type { Db, Tx } from '../db/client.js';
import type { DomainEvent } from './envelope.js';
import { uuidFromKey } from './envelope.js';
import type { OutboxWriter } from './outbox.js';

/**
 * The inbox: which inbound events a consumer has already applied. A consumer claims the event id in the same
 * transaction as its effect, so either both commit or neither does, and a redelivery after a crash (or a second
 * copy published after the JetStream duplicate window) finds the row and changes nothing.
 *
 * Two deliveries of one event racing each other are serialised by the primary key: the second INSERT waits for
 * the first transaction and then finds the row (or takes over if the first rolled back).
 */
export async function claimInbox(tx: Tx, consumer: string, eventId: string): Promise<boolean> {
  const inserted = await tx.$executeRaw`
    INSERT INTO inbox (consumer, event_id) VALUES (${consumer}, ${eventId}) ON CONFLICT DO NOTHING`;
  return inserted === 1;
}

export async function isProcessed(db: Db | Tx, consumer: string, eventId: string): Promise<boolean> {
  const rows = await db.$queryRaw<unknown[]>`
    SELECT 1 FROM inbox WHERE consumer = ${consumer} AND event_id = ${eventId}`;
  return rows.length > 0;
}

/**
 * Runs `effect` at most once per (consumer, event id): returns false without running it when the event was
 * already applied. The effect may call out (e.g. signal a workflow) before the commit; it must then be idempotent
 * itself, because a crash between the call and the commit means it runs again on redelivery.
 */
export async function processOnce(
  db: Db,
  consumer: string,
  eventId: string,
  effect: (tx: Tx) => Promise<void>,
  options: { timeoutMs?: number } = {}
): Promise<boolean> {
  return db.$transaction(
    async (tx) => {
      if (!(await claimInbox(tx, consumer, eventId))) return false;
      await effect(tx);
      return true;
    },
    { timeout: options.timeoutMs ?? 30_000 }
  );
}

export class AlreadyProcessedError extends Error {
  readonly code = 'ALREADY_PROCESSED';
  constructor(
    readonly consumer: string,
    readonly eventId: string
  ) {
    super(`${consumer} already processed event ${eventId}`);
    this.name = 'AlreadyProcessedError';
  }
}

/**
 * An outbox writer that claims the inbox row in the transaction of the first `append`. It lets a function that
 * opens its own transaction and reports its change through the outbox (such as `adjustStock`) be applied at most
 * once per inbound event without changing that function: on a duplicate the append throws
 * AlreadyProcessedError, which rolls the whole transaction back.
 */
export function inboxClaimingOutbox(outbox: OutboxWriter, consumer: string, eventId: string) {
  let claimed = false;
  const writer: OutboxWriter = {
    async append(tx: Tx, events: readonly DomainEvent[]) {
      if (!claimed) {
        if (!(await claimInbox(tx, consumer, eventId))) throw new AlreadyProcessedError(consumer, eventId);
        claimed = true;
      }
      await outbox.append(tx, events);
    },
  };
  return { writer, claimed: () => claimed };
}

export interface ParkedMessageInput {
  consumer: string;
  subject: string;
  streamSeq?: number;
  payload: string;
  reason: string;
}

/**
 * Records a message the consumer will not process, for an operator to inspect or replay. The id is derived from
 * the consumer and stream sequence, so parking the same delivery twice (two instances, a retry) keeps one row.
 */
export async function parkMessage(db: Db, message: ParkedMessageInput): Promise<string> {
  const id = uuidFromKey(`parked:${message.consumer}:${message.subject}:${message.streamSeq ?? message.payload}`);
  // Postgres text cannot hold NUL; a hostile or binary payload must still be parkable.
  const payload = message.payload.replaceAll('\u0000', '\\u0000');
  const reason = message.reason.slice(0, 4_000);
  await db.$executeRaw`
    INSERT INTO parked_messages (id, consumer, subject, stream_seq, payload, reason)
    VALUES (${id}::uuid, ${message.consumer}, ${message.subject},
            ${message.streamSeq === undefined ? null : BigInt(message.streamSeq)}, ${payload}, ${reason})
    ON CONFLICT (id) DO NOTHING`;
  return id;
}

/** Inbox rows outlive the stream's retention by far; older ones can no longer be redelivered. */
export async function pruneInbox(db: Db, olderThan: Date): Promise<number> {
  return db.$executeRaw`DELETE FROM inbox WHERE processed_at < ${olderThan}`;
}
