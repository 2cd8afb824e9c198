import type { JetStreamClient } from '@nats-io/jetstream';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { ensureStreams } from './streams.js';

export class NatsUnavailableError extends Error {
  readonly code = 'NATS_UNAVAILABLE';
  constructor(url: string, cause: unknown) {
    super(`NATS is not reachable at ${url}: start it with JetStream enabled (nats-server -js) or set NATS_URL`, {
      cause,
    });
    this.name = 'NatsUnavailableError';
  }
}

const CONNECT_OPTIONS = { maxReconnectAttempts: -1, reconnectTimeWait: 500, timeout: 3_000 } as const;

/** Connects and keeps reconnecting forever: the relay and consumers ride out NATS restarts. */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: url, name, ...CONNECT_OPTIONS });
  } catch (error) {
    throw new NatsUnavailableError(url, error);
  }
}

export interface NatsClients {
  nats: NatsConnection;
  js: JetStreamClient;
}

/** Something started once NATS is there (the relay, the consumers). */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * NATS as the API and the worker hold it: optional for the order path. The saga writes its events to the
 * outbox, so a process starts without NATS; only what publishes or consumes (the relay, the consumers) waits.
 */
export interface NatsLink {
  /** Resolves once connected with the streams in place; never rejects (it keeps trying until closed). */
  readonly ready: Promise<NatsClients>;
  /** Connected now: false before the first connection and while nats.js reconnects after losing the server. */
  connected(): boolean;
  /** Starts `start` once connected; the stop returned stops what it started, or cancels it if it never ran. */
  whenReady(what: string, start: (clients: NatsClients) => Promise<Stoppable> | Stoppable): Stoppable;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Opens the link. The first connection is retried here, every `retryMs`, with a warning the first time (nats.js
 * gives up on a first connection it cannot make, or with `waitOnFirstConnect` never returns a handle to close);
 * once connected, nats.js itself reconnects forever.
 */
export function openNatsLink(url: string, name: string, eventsEnv: string, logger: Logger, retryMs = 2_000): NatsLink {
  let closed = false;
  let connection: NatsConnection | undefined;
  let disconnected = false;
  let wake: (() => void) | undefined;

  async function establish(): Promise<NatsClients | undefined> {
    let warned = false;
    while (!closed) {
      let nats: NatsConnection | undefined;
      try {
        nats = await connect({ servers: url, name, ...CONNECT_OPTIONS });
        await ensureStreams(await jetstreamManager(nats), eventsEnv);
        if (closed) {
          await nats.close();
          return undefined;
        }
        connection = nats;
        watchStatus(nats);
        if (warned) logger.info({ url }, 'NATS connected; events flow again');
        return { nats, js: jetstream(nats) };
      } catch (error) {
        await nats?.close().catch(() => undefined);
        if (!warned) {
          warned = true;
          logger.warn(
            { url, err: String(error), retryMs },
            'NATS is not reachable; orders are taken, events wait in the outbox; retrying'
          );
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
          void sleep(retryMs).then(() => resolve());
        });
      }
    }
    return undefined;
  }

  function watchStatus(nats: NatsConnection) {
    void (async () => {
      for await (const status of nats.status()) {
        if (status.type === 'disconnect') {
          disconnected = true;
          logger.warn({ url }, 'NATS connection lost; reconnecting');
        } else if (status.type === 'reconnect') {
          disconnected = false;
          logger.info({ url }, 'NATS reconnected');
        }
      }
    })();
  }

  const established = establish();
  // Never rejects and never resolves once closed before connecting: whoever waits is cancelled by `closed`.
  const ready = established.then((clients) => clients ?? new Promise<NatsClients>(() => undefined));

  return {
    ready,
    connected: () => connection !== undefined && !connection.isClosed() && !disconnected,
    whenReady(what, start) {
      let stopped = false;
      const started = established.then(async (clients) => {
        if (!clients || stopped) return undefined;
        try {
          return await start(clients);
        } catch (error) {
          logger.error({ err: String(error) }, `${what} failed to start`);
          return undefined;
        }
      });
      return {
        async stop() {
          stopped = true;
          // Not connected yet: nothing started, and waiting for the connection would hang the shutdown.
          if (!connection) return;
          await (await started)?.stop();
        },
      };
    },
    async close() {
      closed = true;
      wake?.();
      await established;
      await connection?.drain().catch(() => undefined);
    },
  };
}
