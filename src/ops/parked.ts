import type { JetStreamClient } from '@nats-io/jetstream';
import type { Db } from '../db/client.js';

export class NotFoundError extends Error {
  readonly code = 'NOT_FOUND';
  constructor(what: string) {
    super(`${what} not found`);
    this.name = 'NotFoundError';
  }
}

export interface ParkedSummary {
  id: string;
  consumer: string;
  subject: string;
  streamSeq: number | null;
  parkedAt: Date;
  /** Event type and id when the payload is a readable CloudEvent. */
  type: string | null;
  eventId: string | null;
  reason: string;
}

function summarise(row: {
  id: string;
  consumer: string;
  subject: string;
  streamSeq: bigint | null;
  createdAt: Date;
  payload: string;
  reason: string;
}): ParkedSummary {
  let event: { type?: unknown; id?: unknown } = {};
  try {
    event = JSON.parse(row.payload) as typeof event;
  } catch {
    // An unreadable payload is one of the reasons messages get parked; the summary says so by its nulls.
  }
  return {
    id: row.id,
    consumer: row.consumer,
    subject: row.subject,
    streamSeq: row.streamSeq === null ? null : Number(row.streamSeq),
    parkedAt: row.createdAt,
    type: typeof event?.type === 'string' ? event.type : null,
    eventId: typeof event?.id === 'string' ? event.id : null,
    reason: row.reason,
  };
}

/** Parked inbound messages, oldest first. */
export async function listParked(db: Db, filter: { consumer?: string } = {}): Promise<ParkedSummary[]> {
  const rows = await db.parkedMessage.findMany({
    where: filter.consumer ? { consumer: filter.consumer } : {},
    orderBy: { createdAt: 'asc' },
  });
  return rows.map(summarise);
}

export async function showParked(db: Db, id: string): Promise<ParkedSummary & { payload: string }> {
  const row = await db.parkedMessage.findUnique({ where: { id } });
  if (!row) throw new NotFoundError(`parked message ${id}`);
  return { ...summarise(row), payload: row.payload };
}

/**
 * Publishes a parked message again on its subject, where the running consumer picks it up like any delivery,
 * then deletes the parked row. No Nats-Msg-Id: the original id may still be in the stream's duplicate window,
 * and the consumer's inbox already makes a second replay harmless. If it fails again it is parked again (under
 * its new stream sequence); if this process dies between publish and delete, replaying once more is safe.
 */
export async function replayParked(db: Db, js: JetStreamClient, id: string): Promise<{ streamSeq: number }> {
  const row = await db.parkedMessage.findUnique({ where: { id } });
  if (!row) throw new NotFoundError(`parked message ${id}`);
  const ack = await js.publish(row.subject, row.payload);
  await db.parkedMessage.delete({ where: { id } });
  return { streamSeq: ack.seq };
}

export async function dropParked(db: Db, id: string): Promise<void> {
  const { count } = await db.parkedMessage.deleteMany({ where: { id } });
  if (count === 0) throw new NotFoundError(`parked message ${id}`);
}
