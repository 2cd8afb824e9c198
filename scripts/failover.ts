import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/config.js';
import { describeFailure } from '../src/process.js';
import { startCluster } from './lib/cluster.js';
import { DATA_DIR } from './lib/dev-secret.js';
import type { ManagedProcess } from './lib/supervision.js';
import { shutdownOnSignals } from './lib/supervision.js';
import { dropTemporalDatabases, freeTemporalPorts } from './lib/temporal-cluster.js';
import { freePort } from './lib/temporal-server.js';

/**
 * The failover test (`npm run cluster:test`): the production topology on free loopback ports with its own
 * databases and streams, a steady bounded load of orders through both API instances, and meanwhile kill -9 of one
 * worker, one relay, one API instance and the Temporal server at random moments, each started again. It then checks
 * the invariants (scripts/lib/failover-checks.ts), prints a report and exits 1 on any violation.
 */
const { values: args } = parseArgs({
  options: {
    orders: { type: 'string', default: '120' },
    rate: { type: 'string', default: '2' },
    'keep-data': { type: 'boolean', default: false },
  },
});
const ORDERS = Number(args.orders);
const RATE = Number(args.rate);
const SETTLE_MS = 180_000;
const REQUEST_BUDGET_MS = 150_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Seeded catalog products the load buys: stickers (500 in stock) and hoodies (20 for about 24 buyers). */
const AMPLE_SKU = 'STICKERS-10';
const SCARCE_SKU = 'HOODIE-GRY-L';

interface Fault {
  label: string;
  target: ManagedProcess;
  /** Offset from the start of the load. */
  at: number;
  killedAt?: number;
  readyAt?: number;
  recoveredAt?: number;
}

async function run(defer: (stop: () => Promise<unknown>) => void) {
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const jwtSecret = randomUUID() + randomUUID();
  const postgres = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/orders');
  postgres.pathname = `/orders_failover_${suffix}`;
  const eventsEnv = `failover_${suffix}`.toLowerCase().slice(0, 32);
  const temporalPorts = await freeTemporalPorts();
  const apiPorts = [await freePort(), await freePort()];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: postgres.toString(),
    EVENTS_ENV: eventsEnv,
    JWT_SECRET: jwtSecret,
    PAYLOAD_ENCRYPTION_KEYS: `failover:${randomBytes(32).toString('base64')}`,
    AUTH: 'on',
    TEMPORAL_NAMESPACE: 'default',
    RATE_LIMIT_PER_MINUTE: '100000',
  };
  const temporalDatabase = `temporal_failover_${suffix}`;
  const logDir = join(DATA_DIR, `failover-${suffix}`);
  // Registered first, so it runs last: after every process stopped.
  if (!args['keep-data'])
    defer(() => cleanUp(postgres.toString(), temporalDatabase, loadConfig(env).NATS_URL, eventsEnv));
  const started = Date.now();
  process.stdout.write(`failover: starting the topology (logs in ${logDir})\n`);
  const cluster = await startCluster({
    env,
    temporalDatabase,
    temporalVisibilityDatabase: `${temporalDatabase}_visibility`,
    temporalPorts,
    apiPorts,
    workers: 3,
    relays: 2,
    metricsPort: freePort,
    logDir,
    defer,
  });
  process.stdout.write(`failover: topology up in ${seconds(Date.now() - started)}\n`);

  const unplanned: string[] = [];
  for (const role of [cluster.temporal, ...cluster.apps]) {
    role.onUnexpectedExit((code, signal) => {
      unplanned.push(`${role.name} exited by itself (${code ?? signal})`);
      void role.start().catch(() => undefined);
    });
  }

  // Loaded only now: they need the Prisma client that provisioning generated.
  const { loadDriver } = await import('./lib/failover-load.js');
  const { checkInvariants } = await import('./lib/failover-checks.js');
  const { SEED_PRODUCTS } = await import('./lib/seed.js');
  const productId = (sku: string) => SEED_PRODUCTS.find((product) => product.sku === sku)!.id;
  const driver = await loadDriver(cluster, {
    jwtSecret,
    requestBudgetMs: REQUEST_BUDGET_MS,
    products: { ample: productId(AMPLE_SKU), scarce: productId(SCARCE_SKU) },
  });

  const loadMs = (ORDERS / RATE) * 1000;
  const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;
  const faults: Fault[] = [
    { label: 'kill -9 worker', target: pick(cluster.workers), at: 0 },
    { label: 'kill -9 relay', target: pick(cluster.relays), at: 0 },
    { label: 'kill -9 API', target: pick(cluster.apis), at: 0 },
    { label: 'kill -9 Temporal server', target: cluster.temporal, at: 0 },
  ];
  // Random moments in the middle 80 % of the load, in random order, at least 15 % of the load apart.
  const slots = faults.map((_, i) => 0.1 + i * 0.22 + Math.random() * 0.07);
  faults.sort(() => Math.random() - 0.5).forEach((fault, i) => (fault.at = slots[i]! * loadMs));
  faults.sort((a, b) => a.at - b.at);

  const loadStart = Date.now();
  const placing: ReturnType<typeof driver.placeOrder>[] = [];
  const recoveries: Promise<unknown>[] = [];
  const chaos = (async () => {
    for (const fault of faults) {
      await sleep(Math.max(0, loadStart + fault.at - Date.now()));
      fault.killedAt = Date.now();
      await fault.target.kill('SIGKILL');
      process.stdout.write(
        `failover: ${fault.label} (${fault.target.name}) at ${seconds(fault.killedAt - loadStart)}\n`
      );
      await sleep(1_000 + Math.random() * 2_000);
      await fault.target.start();
      fault.readyAt = Date.now();
      // Measured alongside: the next fault keeps its moment.
      recoveries.push(
        driver.firstProgressAfter(fault.target, fault.readyAt, 120_000).then((at) => (fault.recoveredAt = at))
      );
    }
    await Promise.all(recoveries);
  })();
  for (let i = 0; i < ORDERS; i += 1) {
    await sleep(Math.max(0, loadStart + (i * 1000) / RATE - Date.now()));
    placing.push(driver.placeOrder(i));
  }
  const placed = await Promise.all(placing);
  await chaos;
  process.stdout.write(`failover: ${placed.length} orders placed in ${seconds(Date.now() - loadStart)}; settling\n`);
  const settled = await driver.settle(placed, SETTLE_MS);
  const initialStock = new Map<string, number>(SEED_PRODUCTS.map((product) => [product.id, product.stock]));
  const report = await checkInvariants({ cluster, driver, placed, settled, initialStock });
  report.violations.push(...unplanned);
  for (const fault of faults) if (!fault.recoveredAt) report.violations.push(`${fault.label}: no progress after`);
  await driver.close();

  const lines = [
    '',
    `failover report: ${placed.length} orders at ${RATE}/s through ${cluster.apis.length} APIs, ${cluster.workers.length} workers, ${cluster.relays.length} relays`,
    ...report.summary.map((line) => `  ${line}`),
    `  HTTP: ${driver.http.requests} requests, ${driver.http.retried} retried, ${driver.http.served503} answered 503 + Retry-After`,
    '  faults (at = since load start; down = kill to ready again; recovered = kill to first progress it made after):',
    ...faults.map(
      (f) =>
        `    ${f.label.padEnd(24)} ${f.target.name.padEnd(16)} at ${seconds(f.at).padStart(7)}  down ${seconds(f.readyAt! - f.killedAt!).padStart(7)}  recovered ${f.recoveredAt ? seconds(f.recoveredAt - f.killedAt!) : 'never'}`
    ),
    `  total ${seconds(Date.now() - started)}`,
    report.violations.length
      ? `VIOLATIONS (${report.violations.length}):\n${report.violations.map((v) => `  - ${v}`).join('\n')}`
      : 'no violations',
    '',
  ];
  process.stdout.write(lines.join('\n'));
  return report.violations.length === 0;
}

async function cleanUp(databaseUrl: string, temporalDatabase: string, natsUrl: string, eventsEnv: string) {
  const { migrateDatabase } = await import('./lib/database.js');
  const { connectNats } = await import('../src/events/nats.js');
  const { deleteStreams } = await import('../src/events/streams.js');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  await dropTemporalDatabases({
    postgresUrl: databaseUrl,
    database: temporalDatabase,
    visibilityDatabase: `${temporalDatabase}_visibility`,
  });
  await migrateDatabase(databaseUrl, 'drop');
  const nats = await connectNats(natsUrl, 'failover-cleanup');
  await deleteStreams(await jetstreamManager(nats), eventsEnv);
  await nats.close();
}

const { defer, shutdown } = shutdownOnSignals();
run(defer).then(
  (ok) => void shutdown(ok ? 0 : 1),
  (error: unknown) => {
    process.stderr.write(`failover: ${describeFailure(error)}\n`);
    void shutdown(1);
  }
);
