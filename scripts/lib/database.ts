import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

export class PostgresUnavailableError extends Error {
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(url: string, cause: unknown) {
    super(
      `PostgreSQL is not reachable at ${url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@')} (${cause instanceof Error ? cause.message : String(cause)}): ` +
        'start it (e.g. `pg_ctlcluster 15 main start`) or set DATABASE_URL'
    );
    this.name = 'PostgresUnavailableError';
  }
}

function dbmateUrl(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('sslmode')) parsed.searchParams.set('sslmode', 'disable');
  return parsed.toString();
}

/** The server's maintenance database, to check reachability before dbmate tries. */
export async function assertPostgresReachable(url: string): Promise<void> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 3_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new PostgresUnavailableError(url, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function dbmateBinary(): string {
  return join(dirname(require.resolve('dbmate/package.json')), 'dist', 'cli.js');
}

/** Creates the database if missing and applies the SQL migrations in prisma/migrations. */
export async function migrateDatabase(url: string, command: 'up' | 'drop' = 'up'): Promise<void> {
  await assertPostgresReachable(url);
  const run = spawnSync(
    process.execPath,
    [
      dbmateBinary(),
      '--url',
      dbmateUrl(url),
      '--migrations-dir',
      join(ROOT, 'prisma', 'migrations'),
      '--no-dump-schema',
      command,
    ],
    { encoding: 'utf8' }
  );
  if (run.status !== 0) throw new Error(`dbmate ${command} failed: ${run.stderr || run.stdout}`);
}

/**
 * `prisma generate` needs no schema engine, but the CLI insists one exists; any executable satisfies it, so
 * nothing is downloaded.
 */
export function generatePrismaClient(): void {
  const cli = join(dirname(require.resolve('prisma/package.json')), 'build', 'index.js');
  const run = spawnSync(process.execPath, [cli, 'generate'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: process.execPath,
      CHECKPOINT_DISABLE: '1',
      PRISMA_HIDE_UPDATE_MESSAGE: '1',
    },
  });
  if (run.status !== 0) throw new Error(`prisma generate failed: ${run.stderr || run.stdout}`);
}
