import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import { ROOT } from '../../scripts/lib/database.js';
import type { ManagedProcess } from '../../scripts/lib/supervision.js';
import { managedProcess } from '../../scripts/lib/supervision.js';
import type { DevServer } from '../../scripts/lib/temporal-server.js';
import { freePort, startTemporalDevServer } from '../../scripts/lib/temporal-server.js';
import type { Config } from '../../src/config/config.js';
import type { OwnNatsServer } from '../events/support.js';
import { startOwnNats } from '../events/support.js';
import { JWT_SECRET, TEST_PAYLOAD_KEYS } from '../support/system.js';

/**
 * The servers a chaos run may stop, of its own: a nats-server and a Temporal dev server with a file database
 * (so a restart keeps every workflow). The run's PostgreSQL database is the test run's own already.
 */
export interface ChaosServers {
  nats: OwnNatsServer;
  temporalAddress: string;
  /** Stops the Temporal dev server and starts it again on the same port and database file. */
  restartTemporal(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startChaosServers(seed: number): Promise<ChaosServers> {
  const nats = await startOwnNats();
  const dir = mkdtempSync(join(tmpdir(), 'chaos-temporal-'));
  const port = await freePort();
  const options = {
    cli: inject('temporalCli'),
    port,
    dbFile: join(dir, 'temporal.db'),
    logFile: join(ROOT, '.data', `chaos-${seed}-temporal.log`),
  };
  let temporal: DevServer | undefined = await startTemporalDevServer(options);
  return {
    nats,
    temporalAddress: temporal.address,
    async restartTemporal(downMs) {
      await temporal?.stop();
      temporal = undefined;
      await new Promise((resolve) => setTimeout(resolve, downMs));
      temporal = await startTemporalDevServer(options);
    },
    async stop() {
      await temporal?.stop();
      await nats.dispose();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A process role as deployed (`tsx src/...`), started again with fresh metrics ports after each kill. */
export interface RoleProcess {
  readonly running: boolean;
  start(): Promise<void>;
  /** `kill -9`: no shutdown, activities and batches cut wherever they are. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export function roleProcess(
  role: 'worker' | 'relay',
  config: Config,
  extraEnv: Record<string, string>,
  seed: number
): RoleProcess {
  let child: ManagedProcess | undefined;
  const entry = role === 'worker' ? join('src', 'worker', 'main.ts') : join('src', 'events', 'relay-main.ts');
  return {
    get running() {
      return child?.running ?? false;
    },
    async start() {
      if (child?.running) return;
      await child?.stop();
      child = managedProcess({
        name: `chaos ${role}`,
        // Node itself with tsx's loader: through the tsx wrapper, a SIGKILL would kill the wrapper, not the role.
        command: process.execPath,
        args: ['--import', 'tsx', join(ROOT, entry)],
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          DATABASE_URL: config.DATABASE_URL,
          NATS_URL: config.NATS_URL,
          TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS,
          TEMPORAL_TASK_QUEUE: config.TEMPORAL_TASK_QUEUE,
          EVENTS_ENV: config.EVENTS_ENV,
          JWT_SECRET,
          PAYLOAD_ENCRYPTION_KEYS: TEST_PAYLOAD_KEYS,
          OUTBOX_POLL_INTERVAL: '50ms',
          METRICS_PORT: String(await freePort()),
          TEMPORAL_METRICS_PORT: String(await freePort()),
          LOG_LEVEL: 'info',
          ...extraEnv,
        },
        logFile: join(ROOT, '.data', `chaos-${seed}-${role}.log`),
        // The relay is up when it publishes or, during a NATS outage, when it said it waits for NATS.
        ready: role === 'worker' ? /worker running/ : /outbox relay running|NATS is not reachable/,
        readyTimeoutMs: 180_000,
      });
      await child.start();
    },
    async kill() {
      await child?.kill('SIGKILL');
    },
    async stop() {
      await child?.stop(5_000);
    },
  };
}
