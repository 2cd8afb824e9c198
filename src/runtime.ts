import { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import type { Config } from './config/config.js';
import type { Db } from './db/client.js';
import { createDb } from './db/client.js';
import { checkDatabase } from './db/health.js';
import type { NatsLink } from './events/nats.js';
import { openNatsLink } from './events/nats.js';
import type { OutboxWriter } from './events/outbox.js';
import { createOutboxWriter } from './events/outbox.js';
import { connectClient } from './temporal/connection.js';
import { dataConverter, payloadCodec } from './temporal/payload-codec.js';
import type { Tracing } from './tracing/tracing.js';
import type { Logger } from 'pino';

/**
 * The connections every process needs, opened with one clear error per unreachable service. NATS is the
 * exception: it is not needed to take and run orders (events wait in the outbox), so a process starts without it
 * and connects in the background (`events.ready`).
 */
export interface Resources {
  db: Db;
  events: NatsLink;
  temporal: Client;
  /** Encrypts what the client sends to Temporal; the worker and the codec server use the same one. */
  codec: PayloadCodec | undefined;
  outbox: OutboxWriter;
  close(): Promise<void>;
}

/** With `tracing`, the Temporal client propagates the caller's trace into the workflows it starts and signals. */
export async function openResources(
  config: Config,
  name: string,
  logger: Logger,
  tracing?: Tracing
): Promise<Resources> {
  const codec = payloadCodec(config);
  const db = createDb(config.DATABASE_URL);
  const opened: (() => Promise<unknown>)[] = [() => db.$disconnect()];
  const close = async () => {
    for (const closeOne of opened.reverse()) await closeOne().catch(() => undefined);
  };
  try {
    await checkDatabase(db, config.DATABASE_URL);
    const events = openNatsLink(config.NATS_URL, name, config.EVENTS_ENV, logger);
    opened.push(() => events.close());
    const connection = await connectClient(config.TEMPORAL_ADDRESS);
    opened.push(() => connection.close());
    const temporal = new Client({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      dataConverter: dataConverter(codec),
      ...(tracing ? { plugins: [tracing.temporal] } : {}),
    });
    return { db, events, temporal, codec, outbox: createOutboxWriter(config.EVENTS_ENV), close };
  } catch (error) {
    await close();
    throw error;
  }
}
