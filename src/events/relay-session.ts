import pg from 'pg';
import type { Logger } from 'pino';

/** The channel the outbox trigger notifies on (migration 20261201030000_outbox_notify). */
export const OUTBOX_CHANNEL = 'outbox_inserted';

/** A statement of the relay's, with `$n` parameters. */
export type RelayQuery = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => Promise<R[]>;

export interface RelaySession {
  /** Runs `work` in one transaction of the session, one at a time; fails if the session cannot connect. */
  transaction<T>(work: (query: RelayQuery) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface RelaySessionOptions {
  /**
   * LISTEN for outbox inserts on this session and call `onInsert` for each notification, and once after every
   * (re)connect: notifications sent while no session listened are lost, and the relay's polling covers the rest.
   */
  onInsert?: () => void;
  /** Delay before a listening session that was lost connects again on its own. */
  reconnectMs?: number;
}

/**
 * The relay's own connection. Its batches run here, and it LISTENs here: PostgreSQL delivers a notification to an
 * idle session in a transaction of its own (one commit each), but holds the ones that arrive during a transaction
 * and reads them all at its end, so the wake-ups that come while a batch runs cost one read instead of one each.
 * A lost connection fails the batch in flight (the relay backs off and its next batch connects again); a listening
 * session also reconnects on its own after `reconnectMs`, so that it hears the next commit.
 */
export function openRelaySession(databaseUrl: string, logger: Logger, options: RelaySessionOptions = {}): RelaySession {
  const reconnectMs = options.reconnectMs ?? 1_000;
  let closed = false;
  let current: Promise<pg.Client> | undefined;
  let retry: NodeJS.Timeout | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  function drop(client: pg.Client, connecting: Promise<pg.Client>, error: unknown): void {
    // 'error' and 'end' both fire for one failure: the first one to come reconnects.
    if (current !== connecting) return;
    current = undefined;
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (closed || !options.onInsert) return;
    logger.warn({ err: String(error), retryMs: reconnectMs }, 'outbox relay lost its connection; reconnecting');
    retry = setTimeout(() => void connected().catch(() => undefined), reconnectMs);
  }

  function connected(): Promise<pg.Client> {
    if (retry) clearTimeout(retry);
    retry = undefined;
    if (closed) return Promise.reject(new Error('the outbox relay session is closed'));
    if (current) return current;
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'orders-outbox-relay' });
    const connecting = (async () => {
      await client.connect();
      if (options.onInsert) {
        const onInsert = options.onInsert;
        client.on('notification', () => onInsert());
        await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
        onInsert();
      }
      return client;
    })();
    current = connecting;
    client.on('error', (error) => drop(client, connecting, error));
    client.on('end', () => drop(client, connecting, new Error('connection ended')));
    connecting.catch((error: unknown) => drop(client, connecting, error));
    return connecting;
  }

  async function run<T>(work: (query: RelayQuery) => Promise<T>): Promise<T> {
    const client = await connected();
    const query: RelayQuery = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) =>
      (await client.query<R>(text, values)).rows;
    await client.query('BEGIN');
    try {
      const result = await work(query);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // On a lost connection the transaction is gone with it; the rollback only has to be tried.
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  if (options.onInsert) void connected().catch(() => undefined);
  return {
    transaction(work) {
      const next = queue.then(() => run(work));
      queue = next.catch(() => undefined);
      return next;
    },
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const client = current;
      current = undefined;
      await queue;
      await (await client?.catch(() => undefined))?.end().catch(() => undefined);
    },
  };
}
