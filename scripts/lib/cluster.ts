import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../src/config/config.js';
import { loadConfig } from '../../src/config/config.js';
import { provision } from '../provision.js';
import { ROOT } from './database.js';
import type { ManagedProcess } from './supervision.js';
import { managedProcess } from './supervision.js';
import type { TemporalPorts } from './temporal-cluster.js';
import {
  findTemporalBinaries,
  setupNamespace,
  setupTemporalSchema,
  temporalServerProcess,
  temporalUiProcess,
} from './temporal-cluster.js';

/**
 * The production topology on one machine, each role its own OS process: the Temporal server on PostgreSQL (and
 * optionally its Web UI), several workers (each also running the inbound consumers), relays and API instances,
 * all configured through the one zod schema from the same environment. Used by `npm run cluster` and the
 * failover test.
 */
export interface ClusterOptions {
  /** The environment every app process gets (validated with loadConfig before anything starts). */
  env: NodeJS.ProcessEnv;
  temporalDatabase: string;
  temporalVisibilityDatabase: string;
  temporalPorts: TemporalPorts;
  apiPorts: number[];
  workers: number;
  relays: number;
  /** Gives each app process its metrics ports (the worker two: its own and the Temporal core runtime's). */
  metricsPort: () => Promise<number>;
  /** Web UI port; omit for none (the failover test). */
  uiPort?: number;
  logDir: string;
  /** Registers a stop as soon as something started, so an interrupted start-up leaves nothing behind. */
  defer: (stop: () => Promise<unknown>) => void;
}

export interface Cluster {
  config: Config;
  temporal: ManagedProcess;
  ui?: ManagedProcess;
  workers: ManagedProcess[];
  relays: ManagedProcess[];
  apis: ManagedProcess[];
  apiUrls: string[];
  /** Every app process (workers, relays, APIs). */
  apps: ManagedProcess[];
}

/** An app role run from source in one OS process (`node --import tsx`, so a kill reaches the service itself). */
function appProcess(
  name: string,
  entry: string,
  env: NodeJS.ProcessEnv,
  logDir: string,
  ready: RegExp | (() => Promise<boolean>)
) {
  return managedProcess({
    name,
    command: process.execPath,
    args: ['--import', 'tsx', join(ROOT, 'src', entry)],
    cwd: ROOT,
    env,
    logFile: join(logDir, `${name}.log`),
    ready,
    // Generous: each worker bundles the workflow code at start, and a busy CI machine starts seven at once.
    readyTimeoutMs: 300_000,
  });
}

/** The catalog with fixed ids (README examples); loaded late, as it needs the client provisioning generated. */
async function seed(config: Config): Promise<void> {
  const { createDb } = await import('../../src/db/client.js');
  const { createOutboxWriter } = await import('../../src/events/outbox.js');
  const { seedCatalog } = await import('./seed.js');
  const db = createDb(config.DATABASE_URL);
  try {
    await seedCatalog(db, createOutboxWriter(config.EVENTS_ENV));
  } finally {
    await db.$disconnect();
  }
}

export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const { temporalPorts, logDir, defer } = options;
  const address = `127.0.0.1:${temporalPorts.frontend}`;
  // Workers and relays announce readiness in an info line; a stricter level would hide it.
  const level = (options.env.LOG_LEVEL ?? 'info').match(/^(trace|debug)$/) ? options.env.LOG_LEVEL : 'info';
  const env: NodeJS.ProcessEnv = { ...options.env, TEMPORAL_ADDRESS: address, LOG_LEVEL: level };
  const config = loadConfig(env);
  mkdirSync(logDir, { recursive: true });

  const { temporalCli } = await provision(config);
  await seed(config);
  const binaries = findTemporalBinaries(temporalCli);
  const temporalOptions = {
    postgresUrl: config.DATABASE_URL,
    database: options.temporalDatabase,
    visibilityDatabase: options.temporalVisibilityDatabase,
    namespace: config.TEMPORAL_NAMESPACE,
    ports: temporalPorts,
    logFile: join(logDir, 'temporal-server.log'),
  };
  setupTemporalSchema(temporalOptions, binaries);
  const temporal = temporalServerProcess(temporalOptions, binaries);
  defer(() => temporal.stop());
  await temporal.start();
  await setupNamespace(temporalOptions, binaries);

  let ui: ManagedProcess | undefined;
  if (options.uiPort) {
    ui = temporalUiProcess({
      address,
      namespace: config.TEMPORAL_NAMESPACE,
      port: options.uiPort,
      logFile: join(logDir, 'temporal-ui.log'),
    });
    defer(() => ui!.stop());
    await ui.start();
  }

  // Processes side by side on one machine: each serves its metrics on a port of its own.
  const metricsEnv = async (worker = false): Promise<NodeJS.ProcessEnv> => ({
    ...env,
    METRICS_PORT: String(await options.metricsPort()),
    ...(worker ? { TEMPORAL_METRICS_PORT: String(await options.metricsPort()) } : {}),
  });
  const workers: ManagedProcess[] = [];
  for (let i = 1; i <= options.workers; i++) {
    workers.push(appProcess(`worker-${i}`, 'worker/main.ts', await metricsEnv(true), logDir, /"msg":"worker running"/));
  }
  const relays: ManagedProcess[] = [];
  for (let i = 1; i <= options.relays; i++) {
    relays.push(
      appProcess(`relay-${i}`, 'events/relay-main.ts', await metricsEnv(), logDir, /"msg":"outbox relay running"/)
    );
  }
  const apiUrls = options.apiPorts.map((port) => `http://127.0.0.1:${port}`);
  const apis: ManagedProcess[] = [];
  for (const [i, port] of options.apiPorts.entries()) {
    const apiEnv = { ...(await metricsEnv()), PORT: String(port) };
    apis.push(
      appProcess(`api-${i + 1}`, 'api/main.ts', apiEnv, logDir, async () => (await fetch(`${apiUrls[i]}/readyz`)).ok)
    );
  }
  const apps = [...workers, ...relays, ...apis];
  // Stopped in reverse: APIs first (no new orders), then relays, then workers.
  for (const app of apps) defer(() => app.stop());
  // Started together: each takes a few seconds to compile and connect.
  await Promise.all(apps.map((app) => app.start()));
  return { config, temporal, ...(ui ? { ui } : {}), workers, relays, apis, apiUrls, apps };
}
