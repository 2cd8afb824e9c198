import { join } from 'node:path';
import { findTemporalCli } from '../../scripts/lib/temporal-cli.js';
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

/**
 * The Temporal server under test. `dev`: an in-memory dev server on a free port, stopped at the end. `postgres`: a
 * server someone else runs on PostgreSQL (`npm run cluster`), left running.
 */
export async function openTemporal(
  backend: Backend,
  resultsDir: string,
  runId: string,
  cleanup: Cleanup
): Promise<TemporalServer> {
  if (backend.kind === 'postgres') {
    const pid = pidListeningOn(portOf(backend.address));
    if (pid === undefined) log(`warning: no local process listens on ${backend.address}; its CPU will read 0`);
    return {
      backend: 'postgres',
      address: backend.address,
      mode: `Temporal server on PostgreSQL (databases ${backend.databases.join(', ')})`,
      pid,
      databases: backend.databases,
      cli: undefined,
      logFile: undefined,
    };
  }
  const cli = findTemporalCli(log);
  const logFile = join(resultsDir, `temporal-${runId}.log`);
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
