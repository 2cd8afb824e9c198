import type { Db } from './client.js';

export class DatabaseUnavailableError extends Error {
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(url: string, cause: unknown) {
    super(`PostgreSQL is not reachable at ${redact(url)}: start it (pg_ctlcluster 15 main start) or set DATABASE_URL`, {
      cause,
    });
    this.name = 'DatabaseUnavailableError';
  }
}

export class DatabaseNotMigratedError extends Error {
  readonly code = 'DATABASE_NOT_MIGRATED';
  constructor(url: string) {
    super(`the database at ${redact(url)} has no schema: run \`npm run provision\``);
    this.name = 'DatabaseNotMigratedError';
  }
}

/** Hides the password of a connection URL in messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

export async function checkDatabase(db: Db, url: string): Promise<void> {
  let tables: { exists: boolean }[];
  try {
    tables = await db.$queryRaw<{ exists: boolean }[]>`SELECT to_regclass('public.orders') IS NOT NULL AS exists`;
  } catch (error) {
    throw new DatabaseUnavailableError(url, error);
  }
  if (!tables[0]?.exists) throw new DatabaseNotMigratedError(url);
}
