import type { JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import type { NatsLink, Stoppable } from './nats.js';
import type { RelayQuery, RelaySession } from './relay-session.js';
import { openRelaySession } from './relay-session.js';
import { currentTraceparent, inEventSpan, ORDER_ID_ATTRIBUTE } from '../tracing/spans.js';

export interface RelayOptions {
  batchSize?: number;
  /** How long an idle relay waits before looking again; with `listen`, only the fallback for missed wake-ups. */
  pollIntervalMs: number;
  /**
   * LISTEN for outbox inserts (the outbox trigger NOTIFYs at commit): the relay runs a batch as soon as events are
   * committed instead of on its next poll. Off behind a transaction pooler, which does not keep a session's LISTEN.
   */
  listen?: boolean;
  /** A listening relay whose connection was lost connects again after this long (default 1 s). */
  reconnectMs?: number;
  /** Published rows older than this are deleted; the stream keeps its own copy. */
  retentionMs: number;
  /**
   * A batch stops publishing after this long and commits what went out. Publishing happens inside the claiming
   * transaction, whose advisory locks keep a second relay off the batch's aggregates: a batch bounded in time holds
   * them, and its connection, for a bounded time.
   */
  publishBudgetMs?: number;
  /**
   * An aggregate whose head row JetStream refused is skipped until `next_attempt_at`: the first retry comes on
   * the next cycle (a one-off refusal costs nothing), later ones wait initialMs, doubling up to maxMs.
   */
  aggregateBackoff?: { initialMs: number; maxMs: number };
  /** Told about every publish attempt, for metrics. */
  onPublish?: (outcome: 'published' | 'failed', type: string) => void;
}

/** The relay's settings as the processes configure it. */
export function relayOptions(config: Config): Pick<RelayOptions, 'pollIntervalMs' | 'retentionMs' | 'listen'> {
  return {
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL,
    retentionMs: config.OUTBOX_RETENTION,
    listen: config.OUTBOX_LISTEN === 'on',
  };
}

/** Delay before the next attempt of an aggregate whose head row has failed `attempts` times. */
export function aggregateRetryDelayMs(attempts: number, backoff: { initialMs: number; maxMs: number }): number {
  if (attempts <= 1) return 0;
  return Math.min(backoff.initialMs * 2 ** (attempts - 2), backoff.maxMs);
}

interface BatchResult {
  published: number;
  failed: number;
  /** NATS itself was unreachable: every aggregate would fail alike, so the whole relay backs off. */
  transportDown: boolean;
  /** The batch stopped at its size or time limit: more rows may be waiting already. */
  more: boolean;
}

interface Refusal {
  row: OutboxRow;
  error: unknown;
  transport: boolean;
}

interface OutboxRow {
  /** BIGINT, as `pg` returns it: a string, exact. */
  seq: string;
  id: string;
  aggregate_id: string;
  subject: string;
  type: string;
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

/** The rows of a batch per aggregate, each list in `seq` order as read. */
function groupByAggregate(rows: readonly OutboxRow[]): Map<string, OutboxRow[]> {
  const groups = new Map<string, OutboxRow[]>();
  for (const row of rows) {
    const group = groups.get(row.aggregate_id);
    if (group) group.push(row);
    else groups.set(row.aggregate_id, [row]);
  }
  return groups;
}

/**
 * Publishes outbox rows to JetStream in order per aggregate (order or product), with `Nats-Msg-Id` = event id.
 *
 * Several relays may run at once: a relay takes a transaction-scoped advisory lock per aggregate, so each
 * aggregate's events go out through one relay at a time, in `seq` order. A row is marked published only after
 * JetStream acknowledged it; if a relay dies in between, the next one re-publishes the row and the stream's
 * duplicate window (or the consumer's inbox) drops the copy. A refused publish stops that aggregate, so a later
 * event never overtakes an earlier one, and sets the aggregate's `next_attempt_at` (exponential backoff): every
 * other aggregate keeps flowing. Only a NATS outage stops the whole batch and backs the relay off. An operator
 * can retry or dead-letter a stuck row (`npm run ops -- outbox ...`); dead-lettered rows are never published.
 *
 * `seq` order is commit order per aggregate because the outbox insert trigger (migration
 * 20261122000000_outbox_commit_order) takes that aggregate's lock and draws `seq` under it: without that, two
 * transactions for one product could commit out of `seq` order and the later event would be published first.
 */
export function createRelay(databaseUrl: string, js: JetStreamClient, logger: Logger, options: RelayOptions) {
  const batchSize = options.batchSize ?? 200;
  const publishBudgetMs = options.publishBudgetMs ?? 20_000;
  const backoff = options.aggregateBackoff ?? { initialMs: 1_000, maxMs: 300_000 };
  let running = false;
  let stopped: Promise<void> = Promise.resolve();
  let lastPrune = 0;
  // A wake-up that came while a batch ran makes the next wait return at once: that batch may have read before the
  // notifying transaction committed.
  let wakeRequested = false;
  let endWait: (() => void) | undefined;

  function wake(): void {
    wakeRequested = true;
    endWait?.();
  }

  /** Waits `ms`, or less when woken (unless `ignoreWake`: a relay backing off from an outage keeps its pace). */
  async function wait(ms: number, ignoreWake: boolean): Promise<void> {
    if (wakeRequested && !ignoreWake) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, ms);
      function finish() {
        clearTimeout(timer);
        endWait = undefined;
        resolve();
      }
      endWait = () => {
        if (!running || !ignoreWake) finish();
      };
    });
  }

  async function publishRow(row: OutboxRow): Promise<void> {
    await inEventSpan(
      `publish ${row.subject}`,
      'producer',
      row.headers?.['traceparent'],
      {
        'messaging.system': 'nats',
        'messaging.destination.name': row.subject,
        'messaging.message.id': row.id,
        'cloudevents.event_type': row.type,
        [ORDER_ID_ATTRIBUTE]: row.aggregate_id,
      },
      async () => {
        const h = natsHeaders();
        for (const [name, value] of Object.entries(row.headers ?? {})) h.set(name, value);
        // Traced, the consumer continues from this publish; the CloudEvent keeps the order's own context.
        const traceparent = currentTraceparent();
        if (traceparent) h.set('traceparent', traceparent);
        // A duplicate ack means an earlier attempt got there (within the window): that is success too.
        await js.publish(row.subject, JSON.stringify(row.envelope), { msgID: row.id, headers: h, timeout: 5_000 });
      }
    );
  }

  // Opened on first use, not when started (publishBatch also runs on a relay never started); closed when stopped.
  let session: RelaySession | undefined;
  const sessionInUse = () =>
    (session ??= openRelaySession(
      databaseUrl,
      logger,
      options.listen
        ? { onInsert: wake, ...(options.reconnectMs !== undefined ? { reconnectMs: options.reconnectMs } : {}) }
        : {}
    ));

  async function runBatch(): Promise<BatchResult> {
    return sessionInUse().transaction(async (query: RelayQuery) => {
      const locked = await query<{ aggregate_id: string }>(
        `SELECT a.aggregate_id FROM (
             SELECT aggregate_id, min(seq) AS first_seq FROM outbox
             WHERE published_at IS NULL AND dead_lettered_at IS NULL
             GROUP BY aggregate_id HAVING coalesce(max(next_attempt_at), '-infinity') <= now()
             ORDER BY first_seq LIMIT $1) a
           WHERE pg_try_advisory_xact_lock(hashtextextended(a.aggregate_id, 0))`,
        [batchSize]
      );
      if (locked.length === 0) return { published: 0, failed: 0, transportDown: false, more: false };
      // Read the rows in a second statement, i.e. a snapshot taken after the locks were granted: the first
      // statement's snapshot may predate the commit of the relay that held a lock a moment ago, and would show
      // its rows as unpublished, to be published a second time.
      const rows = await query<OutboxRow>(
        `SELECT seq, id, aggregate_id, subject, type, envelope, headers FROM outbox
           WHERE published_at IS NULL AND dead_lettered_at IS NULL AND aggregate_id = ANY($1::text[])
           ORDER BY seq LIMIT $2`,
        [locked.map((row) => row.aggregate_id), batchSize]
      );
      const published: string[] = [];
      const refusals: Refusal[] = [];
      const deadline = Date.now() + publishBudgetMs;
      let transportDown = false;
      let outOfTime = false;
      const publishAggregate = async (aggregateRows: readonly OutboxRow[]) => {
        for (const row of aggregateRows) {
          if (transportDown) return;
          if (Date.now() > deadline) {
            outOfTime = true;
            return;
          }
          try {
            await publishRow(row);
            published.push(row.seq);
            options.onPublish?.('published', row.type);
          } catch (error) {
            options.onPublish?.('failed', row.type);
            // During an outage the relay as a whole backs off; the aggregate itself did nothing wrong.
            const transport = isTransportFailure(error);
            if (transport) transportDown = true;
            refusals.push({ row, error, transport });
            return;
          }
        }
      };
      // The first aggregate alone, so that with NATS away one publish finds out rather than one per aggregate;
      // then the others side by side (JetStream pipelines them on the one connection). Within an aggregate, rows
      // go one after the other, and a refused row stops the rows behind it.
      const [first, ...others] = groupByAggregate(rows).values();
      if (first) await publishAggregate(first);
      await Promise.all(others.map(publishAggregate));
      for (const { row, error, transport } of refusals) {
        const [updated] = await query<{ attempts: number }>(
          `UPDATE outbox SET attempts = attempts + 1, last_error = $1 WHERE seq = $2 RETURNING attempts`,
          [String(error), row.seq]
        );
        const delayMs = transport ? 0 : aggregateRetryDelayMs(updated?.attempts ?? 1, backoff);
        if (delayMs > 0) {
          await query(`UPDATE outbox SET next_attempt_at = now() + make_interval(secs => $1) WHERE seq = $2`, [
            delayMs / 1_000,
            row.seq,
          ]);
        }
        logger.warn(
          { eventId: row.id, aggregateId: row.aggregate_id, subject: row.subject, err: String(error), delayMs },
          'publish failed; will retry'
        );
      }
      if (published.length > 0) {
        await query(`UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])`, [published]);
      }
      const more = locked.length === batchSize || rows.length === batchSize || outOfTime;
      return { published: published.length, failed: refusals.length, transportDown, more };
    });
  }

  /** One pass, for tests and tools: how many events went out, or minus one more than that if any failed. */
  async function publishBatch(): Promise<number> {
    const result = await runBatch();
    return result.failed > 0 ? -result.published - 1 : result.published;
  }

  async function prune(): Promise<void> {
    if (Date.now() - lastPrune < 60_000) return;
    lastPrune = Date.now();
    const before = new Date(Date.now() - options.retentionMs);
    await sessionInUse().transaction((query) =>
      query(`DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < $1`, [before])
    );
  }

  async function loop(): Promise<void> {
    // An outage backoff starts short even when the poll interval is long (a listening relay polls rarely).
    const firstOutageDelay = Math.min(options.pollIntervalMs, 200);
    let outageDelay = firstOutageDelay;
    while (running) {
      let result: BatchResult;
      // Cleared before the batch reads: a notification delivered from here on is for rows it may not see.
      wakeRequested = false;
      try {
        result = await runBatch();
        await prune();
      } catch (error) {
        logger.warn({ err: String(error) }, 'outbox relay cycle failed; backing off');
        result = { published: 0, failed: 0, transportDown: true, more: false };
      }
      if (result.transportDown) {
        // NATS or Postgres is away: back off exponentially, up to 5 s.
        outageDelay = Math.min(outageDelay * 2, 5_000);
        await wait(outageDelay, true);
        continue;
      }
      outageDelay = firstOutageDelay;
      // A full batch may have left rows behind. Otherwise a listening relay has been woken by what was committed since
      // the batch read (the wait returns at once), and an empty pass would only cost a commit; a polling relay looks
      // again at once rather than leave those rows a poll interval.
      if (result.more || (result.published > 0 && !options.listen)) continue;
      await wait(options.pollIntervalMs, false);
    }
  }

  return {
    start(): void {
      if (running) return;
      running = true;
      // A listening relay listens from its start, not from its first batch.
      sessionInUse();
      stopped = loop();
    },
    /** Stops the loop after its batch, then closes the relay's connection (also for a relay never started). */
    async stop(): Promise<void> {
      running = false;
      endWait?.();
      await stopped;
      const closing = session;
      session = undefined;
      await closing?.close();
    },
    /** One pass, for tests and tools: how many events went out. */
    publishBatch,
  };
}

export type Relay = ReturnType<typeof createRelay>;

/**
 * The relay of a process: started once NATS answers (until then the outbox only fills, and nothing is lost); the
 * stop returned stops it, or cancels it if NATS never came.
 */
export function startRelayWhenConnected(
  databaseUrl: string,
  events: NatsLink,
  logger: Logger,
  options: RelayOptions
): Stoppable {
  return events.whenReady('outbox relay', ({ js }) => {
    const relay = createRelay(databaseUrl, js, logger, options);
    relay.start();
    logger.info('outbox relay running');
    return relay;
  });
}
