import type { Db } from '../db/client.js';
import { NotFoundError } from './parked.js';

export interface StuckRow {
  seq: string;
  id: string;
  aggregateId: string;
  type: string;
  subject: string;
  createdAt: Date;
  attempts: number;
  lastError: string | null;
  nextAttemptAt: Date | null;
  deadLetteredAt: Date | null;
}

/**
 * Unpublished rows that failed at least `minAttempts` times (the head of a backed-off aggregate), or with
 * `deadLettered` the rows an operator set aside.
 */
export async function listStuckOutbox(
  db: Db,
  options: { minAttempts?: number; deadLettered?: boolean } = {}
): Promise<StuckRow[]> {
  const rows = await db.outbox.findMany({
    where: {
      publishedAt: null,
      deadLetteredAt: options.deadLettered ? { not: null } : null,
      attempts: { gte: options.minAttempts ?? 1 },
    },
    orderBy: { seq: 'asc' },
  });
  return rows.map((row) => ({
    seq: String(row.seq),
    id: row.id,
    aggregateId: row.aggregateId,
    type: row.type,
    subject: row.subject,
    createdAt: row.createdAt,
    attempts: row.attempts,
    lastError: row.lastError,
    nextAttemptAt: row.nextAttemptAt,
    deadLetteredAt: row.deadLetteredAt,
  }));
}

/** Clears the row's backoff (and dead-letter mark): the next relay cycle publishes it. */
export async function retryOutbox(db: Db, seq: bigint): Promise<void> {
  const { count } = await db.outbox.updateMany({
    where: { seq, publishedAt: null },
    data: { nextAttemptAt: null, deadLetteredAt: null },
  });
  if (count === 0) throw new NotFoundError(`unpublished outbox row ${seq}`);
}

/**
 * Sets a row aside for good: it stays in the table for inspection (and `retry`), and the events of its aggregate
 * behind it are published without it.
 */
export async function deadLetterOutbox(db: Db, seq: bigint): Promise<void> {
  const { count } = await db.outbox.updateMany({
    where: { seq, publishedAt: null },
    data: { deadLetteredAt: new Date() },
  });
  if (count === 0) throw new NotFoundError(`unpublished outbox row ${seq}`);
}
