import type { JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';

export interface RelayOptions {
  batchSize?: number;
  pollIntervalMs: number;
  /** Published rows older than this are deleted; the stream keeps its own copy. */
  retentionMs: number;
  /**
   * A batch stops publishing after this long and commits what went out. Publishing happens inside the claiming
   * transaction (60 s timeout); if that transaction expired mid-batch, its advisory locks would be released while
   * this relay was still publishing, and a second relay could overtake it on the same aggregate.
   */
  publishBudgetMs?: number;
}

interface OutboxRow {
  seq: bigint;
  id: string;
  aggregate_id: string;
  subject: string;
  envelope: unknown;
  headers: Record<string, string>;
}

/**
 * Errors that say NATS itself is unreachable rather than that this message was refused: the rest of the batch
 * would only wait out the same timeout, row after row.
 */
function isTransportFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (['TimeoutError', 'ClosedConnectionError', 'ConnectionError', 'DrainingConnectionError'].includes(error.name)) {
    return true;
  }
  return error.name === 'RequestError' && /disconnect/i.test(error.message);
}

/**
 * Publishes outbox rows to JetStream in order per aggregate (order or product), with `Nats-Msg-Id` = event id.
 *
 * Several relays may run at once: a relay takes a transaction-scoped advisory lock per aggregate, so each
 * aggregate's events go out through one relay at a time, in `seq` order. A row is marked published only after
 * JetStream acknowledged it; if a relay dies in between, the next one re-publishes the row and the stream's
 * duplicate window (or the consumer's inbox) drops the copy. A failed publish stops that aggregate's batch, so a
 * later event never overtakes an earlier one; a NATS outage stops the whole batch.
 *
 * `seq` order is commit order per aggregate because the outbox insert trigger (migration
 * 20261122000000_outbox_commit_order) takes that aggregate's lock and draws `seq` under it: without that, two
 * transactions for one product could commit out of `seq` order and the later event would be published first.
 */
export function createRelay(db: Db, js: JetStreamClient, logger: Logger, options: RelayOptions) {
  const batchSize = options.batchSize ?? 200;
  const publishBudgetMs = options.publishBudgetMs ?? 20_000;
  let running = false;
  let stopped: Promise<void> = Promise.resolve();
  let lastPrune = 0;

  async function publishBatch(): Promise<number> {
    return db.$transaction(
      async (tx) => {
        const locked = await tx.$queryRaw<{ aggregate_id: string }[]>`
          SELECT a.aggregate_id FROM (
            SELECT aggregate_id, min(seq) AS first_seq FROM outbox WHERE published_at IS NULL
            GROUP BY aggregate_id ORDER BY first_seq LIMIT ${batchSize}) a
          WHERE pg_try_advisory_xact_lock(hashtextextended(a.aggregate_id, 0))`;
        if (locked.length === 0) return 0;
        // Read the rows in a second statement, i.e. a snapshot taken after the locks were granted: the first
        // statement's snapshot may predate the commit of the relay that held a lock a moment ago, and would show
        // its rows as unpublished, to be published a second time.
        const rows = await tx.$queryRaw<OutboxRow[]>`
          SELECT seq, id, aggregate_id, subject, envelope, headers FROM outbox
          WHERE published_at IS NULL AND aggregate_id = ANY(${locked.map((row) => row.aggregate_id)})
          ORDER BY seq LIMIT ${batchSize}`;
        const published: bigint[] = [];
        const blocked = new Set<string>();
        const deadline = Date.now() + publishBudgetMs;
        for (const row of rows) {
          if (blocked.has(row.aggregate_id)) continue;
          if (Date.now() > deadline) break;
          try {
            const h = natsHeaders();
            for (const [name, value] of Object.entries(row.headers ?? {})) h.set(name, value);
            // A duplicate ack means an earlier attempt got there (within the window): that is success too.
            await js.publish(row.subject, JSON.stringify(row.envelope), { msgID: row.id, headers: h, timeout: 5_000 });
            published.push(row.seq);
          } catch (error) {
            blocked.add(row.aggregate_id);
            await tx.$executeRaw`
              UPDATE outbox SET attempts = attempts + 1, last_error = ${String(error)} WHERE seq = ${row.seq}`;
            logger.warn({ eventId: row.id, subject: row.subject, err: String(error) }, 'publish failed; will retry');
            if (isTransportFailure(error)) break;
          }
        }
        if (published.length > 0) {
          await tx.$executeRaw`UPDATE outbox SET published_at = now() WHERE seq = ANY(${published})`;
        }
        return blocked.size > 0 ? -published.length - 1 : published.length;
      },
      { timeout: 60_000 }
    );
  }

  async function prune(): Promise<void> {
    if (Date.now() - lastPrune < 60_000) return;
    lastPrune = Date.now();
    const before = new Date(Date.now() - options.retentionMs);
    await db.$executeRaw`DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < ${before}`;
  }

  async function loop(): Promise<void> {
    let backoff = options.pollIntervalMs;
    while (running) {
      let result: number;
      try {
        result = await publishBatch();
        await prune();
      } catch (error) {
        logger.warn({ err: String(error) }, 'outbox relay cycle failed; backing off');
        result = -1;
      }
      if (result > 0) {
        backoff = options.pollIntervalMs;
        continue;
      }
      // Idle: poll again soon. Failing: back off exponentially, up to 5 s, while NATS or Postgres is away.
      backoff = result < 0 ? Math.min(backoff * 2, 5_000) : options.pollIntervalMs;
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      stopped = loop();
    },
    async stop(): Promise<void> {
      running = false;
      await stopped;
    },
    /** One pass, for tests and tools: how many events went out. */
    publishBatch,
  };
}

export type Relay = ReturnType<typeof createRelay>;
