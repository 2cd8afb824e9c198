import { join } from 'node:path';
import { findTemporalCli } from '../../scripts/lib/temporal-cli.js';
import {
  dropTemporalDatabases,
  findTemporalBinaries,
  freeTemporalPorts,
  setupNamespace,
  setupTemporalSchema,
  temporalServerProcess,
} from '../../scripts/lib/temporal-cluster.js';
import { freePort, startTemporalDevServer } from '../../scripts/lib/temporal-server.js';
import type { Backend } from '../cli/options.js';
import type { Cleanup } from '../lib/cleanup.js';
import { log } from '../lib/log.js';
import { pidListeningOn } from '../lib/proc.js';

export interface TemporalServer {
  backend: Backend['kind'];
  address: string;
  /** For the results file: what kind of server it is. */
  mode: string;
  /** The server process, whose CPU counts as the Temporal server's (undefined: not on this machine). */
  pid: number | undefined;
  /** PostgreSQL databases holding its persistence: their backends' CPU counts as the Temporal server's too. */
  databases: string[];
  /** The Temporal CLI that runs the dev server. */
  cli: string | undefined;
  /** The dev server's log: kept when the run fails, removed when it succeeds. */
  logFile: string | undefined;
}

function portOf(address: string): number {
  return Number(address.slice(address.lastIndexOf(':') + 1));
}

/** Where the run keeps its files and which PostgreSQL server a provisioned Temporal server uses. */
export interface TemporalPlace {
  resultsDir: string;
  runId: string;
  /** Any database URL on the PostgreSQL server (host, port and credentials are taken from it). */
  postgresUrl: string;
}

/** The service's namespace (TEMPORAL_NAMESPACE's default), created on a provisioned server. */
const NAMESPACE = 'default';

/**
 * Temporal server 1.29.1 on PostgreSQL for this run, provisioned as `npm run cluster` provisions it
 * (scripts/lib/temporal-cluster.ts, deploy/temporal/): databases `temporal_bench_<id>` and
 * `temporal_bench_<id>_visibility`, free ports, the namespace with the order's search attributes. Stopped and
 * dropped at the end.
 */
async function provisionPostgresServer(place: TemporalPlace, cleanup: Cleanup): Promise<TemporalServer> {
  const binaries = findTemporalBinaries(findTemporalCli(log));
  const options = {
    postgresUrl: place.postgresUrl,
    database: `temporal_bench_${place.runId}`,
    visibilityDatabase: `temporal_bench_${place.runId}_visibility`,
    namespace: NAMESPACE,
    ports: await freeTemporalPorts(),
    logFile: join(place.resultsDir, `temporal-${place.runId}.log`),
  };
  cleanup.add(`drop databases ${options.database}, ${options.visibilityDatabase}`, () =>
    dropTemporalDatabases(options)
  );
  setupTemporalSchema(options, binaries);
  const server = temporalServerProcess(options, binaries);
  cleanup.add('stop Temporal server', () => server.stop());
  await server.start();
  await setupNamespace(options, binaries);
  return {
    backend: 'postgres',
    address: `127.0.0.1:${options.ports.frontend}`,
    mode: `Temporal server v1.29.1 on PostgreSQL, provisioned for the run (databases ${options.database}, ${options.visibilityDatabase})`,
    pid: server.pid,
    databases: [options.database, options.visibilityDatabase],
    cli: binaries.cli,
    logFile: options.logFile,
  };
}

/**
 * The Temporal server under test. `dev`: an in-memory dev server on a free port, stopped at the end. `postgres`: a
 * server on PostgreSQL provisioned for the run, or one someone else runs (`npm run cluster`), left running.
 */
export async function openTemporal(backend: Backend, place: TemporalPlace, cleanup: Cleanup): Promise<TemporalServer> {
  if (backend.kind === 'postgres' && !backend.running) return provisionPostgresServer(place, cleanup);
  if (backend.kind === 'postgres' && backend.running) {
    const { address, databases } = backend.running;
    const pid = pidListeningOn(portOf(address));
    if (pid === undefined) log(`warning: no local process listens on ${address}; its CPU will read 0`);
    return {
      backend: 'postgres',
      address,
      mode: `Temporal server on PostgreSQL (databases ${databases.join(', ')})`,
      pid,
      databases,
      cli: undefined,
      logFile: undefined,
    };
  }
  const cli = findTemporalCli(log);
  const logFile = join(place.resultsDir, `temporal-${place.runId}.log`);
  // On a start-up failure the helper kills its own child; once started, stopping it is ours.
  const server = await startTemporalDevServer({ cli, port: await freePort(), logFile });
  cleanup.add('stop Temporal dev server', () => server.stop());
  const pid = pidListeningOn(portOf(server.address));
  if (pid === undefined) log('warning: Temporal dev server pid not found; its CPU will read 0');
  return {
    backend: 'dev',
    address: server.address,
    mode: 'start-dev, in-memory SQLite',
    pid,
    databases: [],
    cli,
    logFile,
  };
}
