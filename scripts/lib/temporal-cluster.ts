import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import pg from 'pg';
import { ORDER_SEARCH_ATTRIBUTES } from '../../src/workflows/search-attributes.js';
import { ROOT } from './database.js';
import type { GoTool } from './go-tool.js';
import { findGoTool, goModuleDir } from './go-tool.js';
import type { ManagedProcess } from './supervision.js';
import { managedProcess } from './supervision.js';
import { SEARCH_ATTRIBUTE_TYPE_NAMES, temporalAnswers } from './temporal-server.js';

/**
 * A production Temporal server (not the dev server): the server binary on PostgreSQL with advanced visibility on
 * PostgreSQL, configured by deploy/temporal/ (the same files docker-compose.yml uses), and the Web UI server.
 */
export const TEMPORAL_SERVER: GoTool = {
  label: 'the Temporal server',
  cacheName: 'temporal-server',
  version: 'v1.29.1',
  packages: ['go.temporal.io/server/cmd/server', 'go.temporal.io/server/cmd/tools/sql'],
  buildMinutes: 3,
};

/** The Web UI the Temporal CLI embeds, as its own server. */
export const TEMPORAL_UI_SERVER: GoTool = {
  label: 'the Temporal Web UI server',
  cacheName: 'temporal-ui-server',
  version: 'v2.42.1',
  packages: ['github.com/temporalio/ui-server/v2/cmd/server'],
  buildMinutes: 3,
};

const DEPLOY = join(ROOT, 'deploy');

/** Every port one server process listens on: gRPC and membership (ringpop) per service, plus frontend HTTP. */
export interface TemporalPorts {
  frontend: number;
  frontendHttp: number;
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
}

/** Temporal's sample layout around a frontend port: 7233 gives 7234, 7235, 7239, 7243 and 6933-6939. */
export function conventionalPorts(frontend: number): TemporalPorts {
  return {
    frontend,
    frontendHttp: frontend + 10,
    frontendMembership: frontend - 300,
    history: frontend + 1,
    historyMembership: frontend - 299,
    matching: frontend + 2,
    matchingMembership: frontend - 298,
    worker: frontend + 6,
    workerMembership: frontend - 294,
  };
}

/**
 * Free loopback ports for everything, for runs beside other tests. Below 32768: the membership table stores
 * ports as smallint, so the kernel's ephemeral range (which freePort draws from) is out.
 */
export async function freeTemporalPorts(): Promise<TemporalPorts> {
  const ports: Partial<TemporalPorts> = {};
  const taken = new Set<number>();
  for (const key of Object.keys(conventionalPorts(0)) as (keyof TemporalPorts)[]) {
    for (;;) {
      const candidate = 20_000 + Math.floor(Math.random() * 12_000);
      if (taken.has(candidate) || !(await portIsFree(candidate))) continue;
      taken.add(candidate);
      ports[key] = candidate;
      break;
    }
  }
  return ports as TemporalPorts;
}

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

export interface TemporalClusterOptions {
  /** The PostgreSQL server (any database on it): host, port, user and password are taken from it. */
  postgresUrl: string;
  database: string;
  visibilityDatabase: string;
  namespace: string;
  ports: TemporalPorts;
  logFile: string;
}

export interface TemporalBinaries {
  server: string;
  sqlTool: string;
  cli: string;
}

/** The server and its sql tool (built once into the cache), and the CLI for namespace setup. */
export function findTemporalBinaries(cli: string): TemporalBinaries {
  return { server: findGoTool(TEMPORAL_SERVER, 'server'), sqlTool: findGoTool(TEMPORAL_SERVER, 'sql'), cli };
}

/** The variables deploy/temporal/flowmart.yaml and the setup scripts read. */
function serverEnv(options: TemporalClusterOptions): NodeJS.ProcessEnv {
  const url = new URL(options.postgresUrl);
  const { ports } = options;
  return {
    ...process.env,
    TEMPORAL_DB_HOST: url.hostname,
    TEMPORAL_DB_PORT: url.port || '5432',
    TEMPORAL_DB_USER: decodeURIComponent(url.username) || 'postgres',
    TEMPORAL_DB_PASSWORD: decodeURIComponent(url.password),
    TEMPORAL_DB: options.database,
    TEMPORAL_VISIBILITY_DB: options.visibilityDatabase,
    TEMPORAL_DYNAMIC_CONFIG: join(DEPLOY, 'temporal', 'dynamicconfig.yaml'),
    TEMPORAL_FRONTEND_PORT: String(ports.frontend),
    TEMPORAL_FRONTEND_HTTP_PORT: String(ports.frontendHttp),
    TEMPORAL_FRONTEND_MEMBERSHIP_PORT: String(ports.frontendMembership),
    TEMPORAL_HISTORY_PORT: String(ports.history),
    TEMPORAL_HISTORY_MEMBERSHIP_PORT: String(ports.historyMembership),
    TEMPORAL_MATCHING_PORT: String(ports.matching),
    TEMPORAL_MATCHING_MEMBERSHIP_PORT: String(ports.matchingMembership),
    TEMPORAL_WORKER_PORT: String(ports.worker),
    TEMPORAL_WORKER_MEMBERSHIP_PORT: String(ports.workerMembership),
    TEMPORAL_ADDRESS: `127.0.0.1:${ports.frontend}`,
    TEMPORAL_NAMESPACE: options.namespace,
  };
}

function runScript(script: string, args: string[], env: NodeJS.ProcessEnv): void {
  const run = spawnSync('sh', [join(DEPLOY, 'temporal', script), ...args], { env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`deploy/temporal/${script} failed (exit ${run.status}): ${run.stderr}`);
}

/** Creates and migrates Temporal's two databases with the server version's own sql tool and schema files. */
export function setupTemporalSchema(options: TemporalClusterOptions, binaries: TemporalBinaries): void {
  const schemaDir = join(goModuleDir('go.temporal.io/server', TEMPORAL_SERVER.version), 'schema', 'postgresql', 'v12');
  runScript('setup-schema.sh', [], { ...serverEnv(options), SQL_TOOL: binaries.sqlTool, SCHEMA_DIR: schemaDir });
}

/** The server's arguments with the deploy/ directory at `root` (compose mounts it at /etc/temporal/flowmart). */
export function temporalServerArgs(root: string, configDir = 'temporal'): string[] {
  return ['--root', root, '--config', configDir, '--env', 'flowmart', '--allow-no-auth', 'start'];
}

/** The setup-namespace.sh arguments: src/workflows/search-attributes.ts as `Name=Type`. */
export function searchAttributeArgs(): string[] {
  return ORDER_SEARCH_ATTRIBUTES.map((key) => `${key.name}=${SEARCH_ATTRIBUTE_TYPE_NAMES[key.type]}`);
}

/** The server process (all four services in one), not yet started. */
export function temporalServerProcess(options: TemporalClusterOptions, binaries: TemporalBinaries): ManagedProcess {
  const address = `127.0.0.1:${options.ports.frontend}`;
  return managedProcess({
    name: 'temporal-server',
    command: binaries.server,
    args: temporalServerArgs(DEPLOY),
    cwd: ROOT,
    env: serverEnv(options),
    logFile: options.logFile,
    ready: () => temporalAnswers(address),
    readyTimeoutMs: 120_000,
  });
}

/**
 * Creates the namespace and registers the order search attributes (deploy/temporal/setup-namespace.sh), then waits
 * until the frontend accepts a visibility query on them: from then on workflows can be started with them.
 */
export async function setupNamespace(options: TemporalClusterOptions, binaries: TemporalBinaries): Promise<void> {
  runScript('setup-namespace.sh', searchAttributeArgs(), { ...serverEnv(options), TEMPORAL_CLI: binaries.cli });
  const connection = await Connection.connect({ address: `127.0.0.1:${options.ports.frontend}` });
  const query = ORDER_SEARCH_ATTRIBUTES.map((key) => `${key.name} IS NULL`).join(' AND ');
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        await connection.workflowService.listWorkflowExecutions({ namespace: options.namespace, query, pageSize: 1 });
        return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  } finally {
    await connection.close();
  }
}

/** The Web UI server on `port`, pointed at the frontend (deploy/temporal-ui/flowmart.yaml). */
export function temporalUiProcess(options: { address: string; namespace: string; port: number; logFile: string }) {
  return managedProcess({
    name: 'temporal-ui',
    command: findGoTool(TEMPORAL_UI_SERVER, 'server'),
    args: ['--root', DEPLOY, '--config', 'temporal-ui', '--env', 'flowmart', 'start'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: options.address,
      TEMPORAL_UI_PORT: String(options.port),
      TEMPORAL_DEFAULT_NAMESPACE: options.namespace,
    },
    logFile: options.logFile,
    ready: async () => (await fetch(`http://127.0.0.1:${options.port}/`)).ok,
  });
}

/** Drops both Temporal databases (the failover test's own, after the run). */
export async function dropTemporalDatabases(
  options: Pick<TemporalClusterOptions, 'postgresUrl' | 'database' | 'visibilityDatabase'>
): Promise<void> {
  const admin = new URL(options.postgresUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    for (const name of [options.database, options.visibilityDatabase]) {
      await client.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    }
  } finally {
    await client.end();
  }
}
