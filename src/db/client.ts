import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';

export type Db = PrismaClient;
/** The client inside `$transaction(async (tx) => ...)`. */
export type Tx = Parameters<Parameters<PrismaClient['$transaction']>[0]>[0];

export function createDb(databaseUrl: string): Db {
  const pool = new pg.Pool({ connectionString: databaseUrl });
  // The pool hands a new connection to a transaction on its first ReadyForQuery, and the adapter listens for errors
  // on it only once its promise resolves. A termination (57P01) in the same packet falls between the two and, with no
  // listener, would crash the process. The error still fails whatever uses the connection, and the pool drops it.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return new PrismaClient({ adapter: new PrismaPg(pool, { disposeExternalPool: true }) });
}
