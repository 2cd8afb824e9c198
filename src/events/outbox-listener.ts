import pg from 'pg';
import type { Logger } from 'pino';

/** The channel the outbox trigger notifies on (migration 20261201030000_outbox_notify). */
export const OUTBOX_CHANNEL = 'outbox_inserted';

export interface OutboxListener {
  close(): Promise<void>;
}

/**
 * Calls `onInsert` each time a transaction that wrote outbox rows commits, over a dedicated connection (a LISTEN
 * needs a session of its own: pooled connections come and go). A dropped connection or an error is logged and the
 * listener reconnects after `reconnectMs`; notifications sent while it was away are lost, so it calls `onInsert`
 * once after every (re)connect, and the relay's polling covers whatever is left.
 */
export function listenForOutboxInserts(
  databaseUrl: string,
  logger: Logger,
  onInsert: () => void,
  reconnectMs = 1_000
): OutboxListener {
  let closed = false;
  let current: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;

  function drop(client: pg.Client, error: unknown): void {
    // 'error' and 'end' both fire for one failure: the first one to come reconnects.
    if (client !== current) return;
    current = undefined;
    client.removeAllListeners('notification');
    client.end().catch(() => undefined);
    if (closed) return;
    logger.warn({ err: String(error), retryMs: reconnectMs }, 'outbox listener lost its connection; reconnecting');
    retry = setTimeout(() => void connect(), reconnectMs);
  }

  async function connect(): Promise<void> {
    retry = undefined;
    if (closed) return;
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'orders-outbox-listener' });
    current = client;
    client.on('error', (error) => drop(client, error));
    client.on('end', () => drop(client, new Error('connection ended')));
    client.on('notification', () => onInsert());
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_CHANNEL}`);
    } catch (error) {
      drop(client, error);
      return;
    }
    if (client === current) onInsert();
  }

  void connect();
  return {
    async close() {
      closed = true;
      if (retry) clearTimeout(retry);
      const client = current;
      current = undefined;
      await client?.end().catch(() => undefined);
    },
  };
}
