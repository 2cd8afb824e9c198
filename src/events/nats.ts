import type { NatsConnection } from '@nats-io/transport-node';
import { connect } from '@nats-io/transport-node';

export class NatsUnavailableError extends Error {
  readonly code = 'NATS_UNAVAILABLE';
  constructor(url: string, cause: unknown) {
    super(`NATS is not reachable at ${url}: start it with JetStream enabled (nats-server -js) or set NATS_URL`, {
      cause,
    });
    this.name = 'NatsUnavailableError';
  }
}

/** Connects and keeps reconnecting forever: the relay and consumers ride out NATS restarts. */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  try {
    return await connect({ servers: url, name, maxReconnectAttempts: -1, reconnectTimeWait: 500, timeout: 3_000 });
  } catch (error) {
    throw new NatsUnavailableError(url, error);
  }
}
