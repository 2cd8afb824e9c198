import pg from 'pg';
import { round } from '../lib/stats.js';

export interface DbCounters {
  xact_commit: number;
  xact_rollback: number;
  tup_inserted: number;
  tup_updated: number;
  tup_deleted: number;
  tup_returned: number;
  tup_fetched: number;
  /** Connections opened: each start-up runs a transaction of its own, counted as one commit. */
  sessions: number;
}

export interface CountedDbCounters {
  counters: DbCounters;
  /** The monitor's own queries so far: autocommit SELECTs that are not the service's commits. */
  ownQueries: number;
}

/**
 * The bench's own connection to the run's database: it finds the backends whose CPU is measured and reads
 * pg_stat_database, counting its queries so that they can be taken out of the commit counts.
 */
export class Monitor {
  private queries = 0;

  private constructor(
    private readonly client: pg.Client,
    readonly databaseName: string,
    private readonly temporalDatabases: string[]
  ) {}

  static async open(databaseUrl: string, databaseName: string, temporalDatabases: string[]): Promise<Monitor> {
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-admin' });
    // A terminated backend (57P01) while idle is an 'error' event that would end the bench: the next query reports it.
    client.on('error', () => undefined);
    await client.connect();
    return new Monitor(client, databaseName, temporalDatabases);
  }

  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    this.queries += 1;
    return this.client.query<R>(text, values);
  }

  /** Backends of the run's database (without the driver's and the monitor's) and of the Temporal server's. */
  async backends(): Promise<{ service: number[]; temporal: number[] }> {
    const { rows } = await this.query<{ pid: number; temporal: boolean }>(
      `SELECT pid, datname = ANY($2::text[]) AS temporal FROM pg_stat_activity
       WHERE (datname = $1 AND application_name NOT IN ('bench-driver', 'bench-admin')) OR datname = ANY($2::text[])`,
      [this.databaseName, this.temporalDatabases]
    );
    return {
      service: rows.filter((row) => !row.temporal).map((row) => row.pid),
      temporal: rows.filter((row) => row.temporal).map((row) => row.pid),
    };
  }

  async dbCounters(): Promise<CountedDbCounters> {
    const { rows } = await this.query<Record<keyof DbCounters, string>>(
      `SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_returned, tup_fetched, sessions
       FROM pg_stat_database WHERE datname = $1`,
      [this.databaseName]
    );
    const counters = Object.fromEntries(
      Object.entries(rows[0]!).map(([key, value]) => [key, Number(value)])
    ) as unknown as DbCounters;
    return { counters, ownQueries: this.queries };
  }

  /**
   * The server's version and the settings that move its per-commit cost: runs are comparable only on equal settings
   * (with autovacuum off, the run's hot rows and the Temporal server's task tables bloat as it goes).
   */
  async serverSettings(): Promise<Record<string, string>> {
    const { rows } = await this.query<{ name: string; setting: string }>(
      `SELECT name, setting FROM pg_settings
       WHERE name IN ('server_version', 'autovacuum', 'synchronous_commit', 'fsync', 'shared_buffers', 'max_connections')`
    );
    return Object.fromEntries(rows.map((row) => [row.name, row.setting]));
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

/**
 * Counters per item between two readings. The monitor's queries and `driverQueries` (the driver's polling) are
 * autocommit SELECTs, not the service's: they are taken out of the commits.
 */
export function dbDelta(
  before: CountedDbCounters,
  after: CountedDbCounters,
  driverQueries: number,
  items: number
): Record<keyof DbCounters, number> {
  const delta = {} as Record<keyof DbCounters, number>;
  for (const key of Object.keys(after.counters) as (keyof DbCounters)[]) {
    let value = after.counters[key] - before.counters[key];
    if (key === 'xact_commit') value -= after.ownQueries - before.ownQueries + driverQueries;
    delta[key] = round(value / Math.max(1, items), 2);
  }
  return delta;
}
