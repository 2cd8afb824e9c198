import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import { DeliverPolicy } from '@nats-io/jetstream';
import { inject } from 'vitest';
import type { EventContext } from '../../src/config/config.js';
import type { Db } from '../../src/db/client.js';
import { createDb } from '../../src/db/client.js';
import type { CloudEvent } from '../../src/events/envelope.js';
import { streamConfigs } from '../../src/events/streams.js';
import { migrateDatabase } from '../../scripts/lib/database.js';
import { freePort } from '../../scripts/lib/temporal-server.js';

export const NATS_SERVER = '/usr/sbin/nats-server';
/** Any source but ours: what an external inventory, subscription or shipping service would send. */
export const EXTERNAL_SOURCE = '/acme/test-producer';

async function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface OwnNatsServer {
  url: string;
  port: number;
  /** SIGKILL: no goodbye to clients, like a crash. */
  kill(): Promise<void>;
  /** Starts again on the same port and store directory, so streams and consumers survive. */
  start(): Promise<void>;
  /** Kills it and removes its store. */
  dispose(): Promise<void>;
}

/**
 * A private nats-server with JetStream on a free loopback port: the tests may kill and restart it without
 * touching the system's NATS, which other engineers and test files use.
 */
export async function startOwnNats(): Promise<OwnNatsServer> {
  const port = await freePort();
  const storeDir = mkdtempSync(join(tmpdir(), 'events-nats-'));
  let child: ChildProcess | undefined;

  async function start() {
    child = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', storeDir], {
      stdio: 'ignore',
    });
    await waitFor(() => portOpen(port), 10_000, `nats-server on port ${port}`);
  }

  async function kill() {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = once(running, 'exit');
    running.kill('SIGKILL');
    await exited;
  }

  await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    kill,
    start,
    async dispose() {
      await kill();
      rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

export interface ScratchDatabase {
  url: string;
  db: Db;
  drop(): Promise<void>;
}

/**
 * A migrated database of its own. The relay claims every unpublished outbox row of its database, so a relay
 * pointed at a private NATS server must not share the run's database with the other test files' relays.
 */
export async function createScratchDatabase(): Promise<ScratchDatabase> {
  const url = Object.assign(new URL(inject('databaseUrl')), {
    pathname: `${new URL(inject('databaseUrl')).pathname}_ev${randomBytes(3).toString('hex')}`,
  }).toString();
  await migrateDatabase(url);
  const db = createDb(url);
  return {
    url,
    db,
    async drop() {
      await db.$disconnect();
      await migrateDatabase(url, 'drop');
    },
  };
}

/** The service's streams for `eventsEnv`, but with a short duplicate window so a test can outlast it. */
export async function addStreams(jsm: JetStreamManager, eventsEnv: string, duplicateWindowMs: number) {
  for (const config of streamConfigs(eventsEnv)) {
    await jsm.streams.add({ ...config, duplicate_window: duplicateWindowMs * 1_000_000 });
  }
}

export interface StoredEvent {
  streamSeq: number;
  msgId: string | undefined;
  event: CloudEvent;
}

/** Every message of a stream, in stream order, read with an ordered (ephemeral) consumer. */
export async function readStream(js: JetStreamClient, jsm: JetStreamManager, stream: string): Promise<StoredEvent[]> {
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0) return [];
  const consumer = await js.consumers.get(stream, { deliver_policy: DeliverPolicy.All });
  const messages: JsMsg[] = [];
  const iterator = await consumer.fetch({ max_messages: state.messages, expires: 5_000 });
  for await (const message of iterator) {
    messages.push(message);
    if (messages.length >= state.messages) break;
  }
  return messages.map((message) => ({
    streamSeq: message.seq,
    msgId: message.headers?.get('Nats-Msg-Id'),
    event: message.json<CloudEvent>(),
  }));
}

/** An inbound CloudEvent as an external producer would publish it. */
export function externalEvent<T extends object>(
  context: EventContext,
  type: string,
  version: string,
  subject: string,
  data: T,
  overrides: Partial<CloudEvent> = {}
): CloudEvent<T> {
  const id = overrides.id ?? randomUUID();
  return {
    specversion: '1.0',
    id,
    source: EXTERNAL_SOURCE,
    type,
    subject,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    dataschema: `urn:flowmart:${context}:${type}:${version}`,
    correlationid: subject,
    causationid: id,
    idempotencykey: id,
    data,
    ...overrides,
  } as CloudEvent<T>;
}

export function restockEvent(productId: string, quantityChange: number, overrides: Partial<CloudEvent> = {}) {
  return externalEvent(
    'inventory',
    'InventoryAdjusted',
    '1.0.1',
    productId,
    {
      productId,
      warehouseId: 'WH-EXTERNAL',
      quantityChange,
      adjustmentType: quantityChange >= 0 ? 'RESTOCKED' : 'ADJUSTED',
      reason: 'supplier delivery',
      timestamp: new Date().toISOString(),
    },
    overrides
  );
}

/**
 * Publishes raw bytes or an event. Without `msgID` JetStream cannot de-duplicate, which is how a test sends the
 * same event twice as a producer retrying after the window would.
 */
export async function publish(js: JetStreamClient, subject: string, payload: string | object, msgID?: string) {
  const data = typeof payload === 'string' ? payload : JSON.stringify(payload);
  return js.publish(subject, data, msgID ? { msgID } : {});
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value, like the harness's `eventually`, with a shorter tick for timing tests. */
export async function until<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    }
    await sleep(50);
  }
}
