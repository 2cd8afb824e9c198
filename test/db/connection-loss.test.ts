import type { AddressInfo, Server, Socket } from 'node:net';
import { connect, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/client.js';
import { createDb } from '../../src/db/client.js';
import type { ScratchDatabase } from '../events/support.js';
import { createScratchDatabase } from '../events/support.js';

const HOLD_MS = 400;

/**
 * A TCP proxy to PostgreSQL that holds what the server sends on a new connection for HOLD_MS, then delivers it in one
 * chunk: a backend terminated meanwhile reaches the client as ReadyForQuery and its termination in the same packet.
 */
async function coalescingProxy(): Promise<{ server: Server; port: number }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(5432, '127.0.0.1');
    sockets.add(client).add(upstream);
    const held: Buffer[] = [];
    let holding = true;
    let upstreamClosed = false;
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    setTimeout(() => {
      holding = false;
      if (held.length > 0) client.write(Buffer.concat(held));
      if (upstreamClosed) client.end();
    }, HOLD_MS);
    upstream.on('data', (chunk: Buffer) => (holding ? held.push(chunk) : client.write(chunk)));
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    client.on('close', close).on('error', close);
    // What the server said before it closed is delivered first, as a real connection would.
    upstream.on('close', () => (holding ? (upstreamClosed = true) : client.end())).on('error', () => undefined);
  });
  server.on('close', () => sockets.forEach((socket) => socket.destroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

describe('the database client when PostgreSQL terminates a backend', () => {
  let scratch: ScratchDatabase;
  let proxy: { server: Server; port: number };
  let proxied: Db;
  beforeAll(async () => {
    // Its own database: the termination below must not cut the other test files' connections.
    scratch = await createScratchDatabase();
    proxy = await coalescingProxy();
    const url = new URL(scratch.url);
    url.host = `127.0.0.1:${proxy.port}`;
    proxied = createDb(url.toString());
  });
  afterAll(async () => {
    await proxied?.$disconnect();
    proxy?.server.close();
    await scratch?.drop();
  });

  it('fails the transaction that was handed the dying connection, never the process', async () => {
    // The pool hands a new connection to a transaction on ReadyForQuery; the termination that follows in the same
    // packet comes before the transaction could listen for errors on it.
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);
    try {
      const transaction = proxied.$transaction((tx) => tx.$queryRaw`SELECT 1`);
      await new Promise((resolve) => setTimeout(resolve, HOLD_MS / 2));
      await scratch.db.$executeRaw`
        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()`;
      await expect(transaction).rejects.toThrow();
      expect(uncaught).toEqual([]);
    } finally {
      process.off('uncaughtException', record);
    }

    const [answer] = await proxied.$transaction((tx) => tx.$queryRaw<{ one: number }[]>`SELECT 1 AS one`);
    expect(answer).toEqual({ one: 1 });
  }, 60_000);
});
