// npm run bench [-- --orders 200 --concurrency 10 ...]: the service against floors measured in the same run.
// See the Benchmarks section at the end of README.md. Never part of `npm test`: timings are not assertions.
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { Context } from '@temporalio/activity';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker as TemporalWorker } from '@temporalio/worker';
import pg from 'pg';
import { generatePrismaClient, migrateDatabase, ROOT } from '../scripts/lib/database.js';
import { findTemporalCli } from '../scripts/lib/temporal-cli.js';
import type { DevServer } from '../scripts/lib/temporal-server.js';
import { freePort, startTemporalDevServer } from '../scripts/lib/temporal-server.js';
import { adjustStock } from '../src/activities/inventory.js';
import { createSimulatedGateway } from '../src/activities/payment-gateway.js';
import type { RunningApi } from '../src/api/server.js';
import { startApiServer } from '../src/api/server.js';
import type { Config } from '../src/config/config.js';
import { loadConfig } from '../src/config/config.js';
import { connectNats } from '../src/events/nats.js';
import type { Relay } from '../src/events/relay.js';
import { createRelay } from '../src/events/relay.js';
import { deleteStreams, ensureStreams } from '../src/events/streams.js';
import { createLogger } from '../src/logger.js';
import type { Resources } from '../src/runtime.js';
import { openResources } from '../src/runtime.js';
import { connectWorker } from '../src/temporal/connection.js';
import { createOrderWorker, workflowsPath } from '../src/worker/worker.js';
import type { FloorActivities, FloorInput } from './floor-workflow.js';
import { environment } from './lib/env.js';
import type { DescribeSample, HistoryShape, OrderHistory } from './lib/history.js';
import { describeSample, orderHistory, workflowShape } from './lib/history.js';
import type { FloorProduct } from './lib/pg-floor.js';
import { runPgFloor } from './lib/pg-floor.js';
import { startProfile, summariseProfile, writeProfile } from './lib/profile.js';
import { findPid, loadAverage, machineBusyMs, processCpuMs } from './lib/proc.js';
import type { DriverReply, DriverRequest, FloorRun, RunResult, ServiceRun } from './lib/protocol.js';
import type { Summary } from './lib/stats.js';
import { round, summarize } from './lib/stats.js';

// ---------------------------------------------------------------------------------------------------------------
// Options

const HELP = `npm run bench -- [options]

  --orders N           measured items per scenario (default 200)
  --concurrency C      closed-loop concurrency (default 10)
  --warmup N           discarded items before measuring, per kind (default 30)
  --products N         products the orders spread over (default 20; fewer = hotter stock rows)
  --lines N            lines per order, quantity 1 each (default 2)
  --confirm poll|prefer  poll the order row every --poll-ms (default), or POST with Prefer: wait=30
  --poll-ms N          row polling period of the driver (default 20)
  --probe N            unloaded latency: N more items of F-T and S-E2E at concurrency 1 (default 20; 0 = skip)
  --sample N           workflows per scenario to describe() for history length / state transitions (default 10)
  --stats-wait-ms N    wait for PostgreSQL to flush its statistics around DB-measured scenarios (default 11000)
  --floor-locals on|off  F-T also runs the order's local activities as no-op local activities (default on)
  --skip-fp            skip F-P (the raw-pg database floor)
  --timeout-s N        per-order confirmation timeout (default 60)
  --cpu-profile        V8 CPU profile of this process during S-E2E, summarised by package (slows the run: its
                       ratios are not the ones to quote); written next to the results
`;

/** A bad command line: reported as one line with the usage, no stack. */
class UsageError extends Error {}

function parseOptions() {
  try {
    return readOptions();
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n\n${HELP}`);
  }
}

function readOptions() {
  const { values } = parseArgs({
    options: {
      orders: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '30' },
      products: { type: 'string', default: '20' },
      lines: { type: 'string', default: '2' },
      confirm: { type: 'string', default: 'poll' },
      'poll-ms': { type: 'string', default: '20' },
      probe: { type: 'string', default: '20' },
      sample: { type: 'string', default: '10' },
      'stats-wait-ms': { type: 'string', default: '11000' },
      'floor-locals': { type: 'string', default: 'on' },
      'skip-fp': { type: 'boolean', default: false },
      'timeout-s': { type: 'string', default: '60' },
      'cpu-profile': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const int = (name: string, value: string, min: number, max: number) => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < min || parsed > max) {
      throw new Error(`--${name} must be a whole number from ${min} to ${max} (got ${value})`);
    }
    return parsed;
  };
  if (!['poll', 'prefer'].includes(values.confirm)) throw new Error('--confirm must be poll or prefer');
  if (!['on', 'off'].includes(values['floor-locals'])) throw new Error('--floor-locals must be on or off');
  return {
    orders: int('orders', values.orders, 1, 100_000),
    concurrency: int('concurrency', values.concurrency, 1, 1_000),
    warmup: int('warmup', values.warmup, 0, 100_000),
    products: int('products', values.products, 1, 10_000),
    lines: int('lines', values.lines, 1, 50),
    confirm: values.confirm as 'poll' | 'prefer',
    pollMs: int('poll-ms', values['poll-ms'], 1, 1_000),
    probe: int('probe', values.probe, 0, 10_000),
    sample: int('sample', values.sample, 0, 1_000),
    statsWaitMs: int('stats-wait-ms', values['stats-wait-ms'], 0, 60_000),
    floorLocals: values['floor-locals'] === 'on',
    skipFp: values['skip-fp'],
    timeoutMs: int('timeout-s', values['timeout-s'], 1, 3_600) * 1_000,
    cpuProfile: values['cpu-profile'],
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Progress and clean-up

const began = performance.now();
function log(line: string): void {
  process.stderr.write(`[bench ${((performance.now() - began) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Set by Ctrl-C / SIGTERM: the signal handler then owns clean-up and the exit code. */
let interrupted = false;

/** Undo steps, run last-registered first; each bounded in time so a stuck one cannot keep the rest from running. */
class Cleanup {
  private readonly steps: { name: string; undo: () => Promise<unknown> }[] = [];
  private running: Promise<void> | undefined;

  add(name: string, undo: () => Promise<unknown>): void {
    // Something that finished starting after Ctrl-C began the clean-up is undone at once.
    if (this.running) void this.running.then(() => undo().catch(() => undefined));
    else this.steps.push({ name, undo });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        let timer: NodeJS.Timeout | undefined;
        try {
          await Promise.race([
            step.undo(),
            new Promise((_, reject) => {
              timer = setTimeout(() => reject(new Error('timed out after 30 s')), 30_000);
            }),
          ]);
        } catch (error) {
          log(`clean-up: ${step.name} failed: ${error instanceof Error ? error.message : String(error)}`);
        } finally {
          clearTimeout(timer);
        }
      }
    })();
    return this.running;
  }
}

const cleanup = new Cleanup();

// ---------------------------------------------------------------------------------------------------------------
// The load driver (a child process, so its CPU is not the service's)

class Driver {
  private readonly waiting: { resolve: (reply: DriverReply) => void; reject: (error: Error) => void }[] = [];

  constructor(readonly child: ChildProcess) {
    child.on('message', (reply: DriverReply) => {
      const next = this.waiting.shift();
      if (!next) return;
      if (reply.type === 'error') next.reject(new Error(`driver: ${reply.message}`));
      else next.resolve(reply);
    });
    child.on('exit', (code, signal) => {
      for (const next of this.waiting.splice(0)) next.reject(new Error(`driver exited (${code ?? signal})`));
    });
  }

  static start(): Driver {
    const path = fileURLToPath(new URL('./lib/driver.ts', import.meta.url));
    // fork() reuses this process's execArgv, i.e. tsx's loader: the driver runs from TypeScript too.
    return new Driver(fork(path, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  request(message: DriverRequest): Promise<DriverReply> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      this.child.send(message);
    });
  }

  async run(message: FloorRun | ServiceRun): Promise<RunResult> {
    const reply = await this.request(message);
    if (reply.type !== 'result') throw new Error(`driver answered ${reply.type}`);
    return reply.result;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await Promise.race([this.request({ type: 'close' }), sleep(5_000)]).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    if (this.child.connected) this.child.disconnect();
    await exited;
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Measurement

interface CpuSnapshot {
  at: number;
  benchMs: number;
  driverMs: number;
  temporalMs: number;
  postgres: Map<number, number>;
  machineMs: number;
}

interface CpuPerItem {
  /** This process: API, worker(s), relay (and F-P's pg client). */
  bench: number;
  /** The load generator process. */
  driver: number;
  temporalServer: number;
  /** PostgreSQL backends serving this run's database (the driver's and the bench's own monitoring excluded). */
  postgres: number;
  /** bench + temporalServer + postgres: what the system under test burnt. */
  service: number;
  /** Everything else busy on the machine meanwhile (other users, nats-server, Postgres background), in cores. */
  otherCores: number;
}

interface DbCounters {
  xact_commit: number;
  xact_rollback: number;
  tup_inserted: number;
  tup_updated: number;
  tup_deleted: number;
  tup_returned: number;
  tup_fetched: number;
}

interface ScenarioRecord {
  name: string;
  kind: 'F-T' | 'S-E2E' | 'F-P';
  items: number;
  concurrency: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  wallMs: number;
  throughputPerS: number;
  latencyMs: Summary;
  acceptMs?: Summary;
  eventMs?: Summary & { missing: number };
  /** From the first start to the last confirmation. */
  cpuMsPerItem: CpuPerItem;
  /**
   * Until the work the loop did not wait for is done too: every order parked at FULFILLING with its outbox
   * published (S-E2E), every floor workflow closed (F-T). The whole checkout, like for like.
   */
  cpuMsPerItemSettled?: CpuPerItem;
  settleMs?: number;
  dbPerItem?: Record<keyof DbCounters, number>;
  eventLoopDelayP99Ms: number;
  rssMiB: number;
  loadAverage: number[];
  statuses?: Record<string, number>;
  describe?: DescribeSample;
  /** Every measured value, ascending, rounded to 0.1 ms: runs can be pooled and compared later. */
  samples: { latencyMs: number[]; acceptMs?: number[]; eventMs?: number[] };
}

function samples(values: number[]): number[] {
  return values.map((value) => round(value)).sort((a, b) => a - b);
}

// ---------------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const options = parseOptions();
  if (!existsSync('/proc/self/stat')) throw new Error('the bench reads CPU time from /proc: Linux only');
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const eventsEnv = `bench${runId}`;
  // The environment is read here only to let a developer point the bench at other servers, as the tests do.
  const baseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/orders';
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const databaseName = `orders_bench_${runId}`;
  const databaseUrl = Object.assign(new URL(baseUrl), { pathname: `/${databaseName}` }).toString();
  const resultsDir = join(ROOT, 'bench-results');
  mkdirSync(resultsDir, { recursive: true });
  const temporalLog = join(resultsDir, `temporal-${runId}.log`);

  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      log(`${signal} again: exiting without finishing clean-up (database ${databaseName} may remain)`);
      process.exit(130);
    }
    interrupted = true;
    log(`${signal}: cleaning up (again to force)`);
    void cleanup.run().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    await benchmark();
  } finally {
    if (!interrupted) {
      log('cleaning up');
      await cleanup.run();
    }
  }

  async function benchmark(): Promise<void> {
    log(`run ${runId}: ${JSON.stringify(options)}`);
    const loadAverageAtStart = loadAverage();
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    const temporalCli = findTemporalCli(log);
    if (!existsSync(join(ROOT, 'src', 'generated', 'prisma', 'client.ts'))) generatePrismaClient();

    // --- isolated world: database, streams, Temporal dev server
    cleanup.add(`drop database ${databaseName}`, () => dropDatabase(databaseUrl, databaseName));
    await migrateDatabase(databaseUrl);
    const adminNats = await connectNats(natsUrl, 'orders-bench-admin');
    cleanup.add('close admin NATS connection', () => adminNats.close());
    cleanup.add(`delete streams *_${eventsEnv}`, async () =>
      deleteStreams(await jetstreamManager(adminNats), eventsEnv)
    );
    await ensureStreams(await jetstreamManager(adminNats), eventsEnv);
    const temporalPort = await freePort();
    // On a start-up failure the helper kills its own child; once started, stopping it is ours.
    const temporal: DevServer = await startTemporalDevServer({
      cli: temporalCli,
      port: temporalPort,
      logFile: temporalLog,
    });
    cleanup.add('stop Temporal dev server', () => temporal.stop());
    const temporalPid = findPid(`start-dev --ip 127.0.0.1 --port ${temporalPort} `);
    if (temporalPid === undefined) log('warning: Temporal server pid not found; its CPU will read 0');
    log(`Temporal dev server on ${temporal.address} (pid ${temporalPid ?? '?'}), database ${databaseName}`);

    // --- the service, in this process
    const config: Config = loadConfig({
      DATABASE_URL: databaseUrl,
      NATS_URL: natsUrl,
      TEMPORAL_ADDRESS: temporal.address,
      EVENTS_ENV: eventsEnv,
      TEMPORAL_TASK_QUEUE: `bench-orders-${runId}`,
      AUTH: 'off',
      // Measured as deployed: payloads encrypted.
      PAYLOAD_ENCRYPTION_KEYS: `bench:${randomBytes(32).toString('base64')}`,
      LOG_LEVEL: 'silent',
      RATE_LIMIT_PER_MINUTE: '100000000',
    });
    const logger = createLogger(config.LOG_LEVEL, 'bench');
    const resources: Resources = await openResources(config, 'orders-bench');
    cleanup.add('close service connections', () => resources.close());
    const admin = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-admin' });
    await admin.connect();
    cleanup.add('close admin PostgreSQL connection', () => admin.end());
    let adminQueries = 0;
    const adminQuery = <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => {
      adminQueries += 1;
      return admin.query<R>(text, values);
    };

    log('bundling workflow code (OrderWorkflow, FloorWorkflow)');
    const bundleLogger = new DefaultLogger('WARN');
    const [orderBundle, floorBundle] = await Promise.all([
      bundleWorkflowCode({ workflowsPath: workflowsPath.replace(/\.js$/, '.ts'), logger: bundleLogger }),
      bundleWorkflowCode({
        workflowsPath: fileURLToPath(new URL('./floor-workflow.ts', import.meta.url)),
        logger: bundleLogger,
      }),
    ]);

    // Both workers get the same options: the SDK defaults, as src/worker/main.ts runs the service.
    const running: { worker: Worker; run: Promise<void>; connection: NativeConnection }[] = [];
    cleanup.add('stop workers', async () => {
      for (const { worker, run, connection } of running.splice(0)) {
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await run.catch(() => undefined);
        await connection.close();
      }
    });
    const orderConnection = await connectWorker(config.TEMPORAL_ADDRESS);
    const orderWorker = await createOrderWorker({
      connection: orderConnection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      codec: resources.codec,
      db: resources.db,
      outbox: resources.outbox,
      gateway: createSimulatedGateway(resources.db),
      overrides: { workflowBundle: orderBundle },
    });
    running.push({ worker: orderWorker, run: orderWorker.run(), connection: orderConnection });
    const floorTaskQueue = `bench-floor-${runId}`;
    const floorConnection = await connectWorker(config.TEMPORAL_ADDRESS);
    const floorConfirmSubject = `bench.${runId}.floor.confirmed`;
    const floorActivities: FloorActivities = {
      noop(step, confirm) {
        const workflowId = Context.current().info.workflowExecution?.workflowId;
        if (confirm && workflowId) resources.nats.publish(floorConfirmSubject, workflowId);
        return Promise.resolve(step);
      },
    };
    const floorWorker = await TemporalWorker.create({
      connection: floorConnection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: floorTaskQueue,
      workflowBundle: floorBundle,
      activities: floorActivities,
    });
    running.push({ worker: floorWorker, run: floorWorker.run(), connection: floorConnection });

    const relay: Relay = createRelay(resources.db, resources.js, logger, {
      pollIntervalMs: config.OUTBOX_POLL_INTERVAL,
      retentionMs: config.OUTBOX_RETENTION,
    });
    cleanup.add('stop relay', () => relay.stop());
    relay.start();
    const api: RunningApi = await startApiServer({ ...resources, config, logger }, 0);
    cleanup.add('close API', () => api.close(2_000));

    // --- catalog: products with stock for every order of the run
    const products: FloorProduct[] = [];
    for (let index = 0; index < options.products; index += 1) {
      const id = randomUUID();
      await resources.db.product.create({
        data: {
          id,
          sku: `BENCH-${index}-${id.slice(0, 8)}`,
          name: `Bench product ${index}`,
          unitPrice: 1000,
          currency: 'USD',
        },
      });
      await adjustStock(resources.db, resources.outbox, {
        productId: id,
        warehouseId: 'WH-BENCH',
        quantityChange: 1_000_000,
        adjustmentId: `bench:${id}`,
        causationId: 'bench',
      });
      products.push({ id, warehouseId: 'WH-BENCH' });
    }

    // --- the load driver
    const driver = Driver.start();
    cleanup.add('stop load driver', () => driver.close());
    await driver.request({
      type: 'init',
      temporalAddress: temporal.address,
      namespace: config.TEMPORAL_NAMESPACE,
      floorTaskQueue,
      floorConfirmSubject,
      databaseUrl,
      natsUrl,
      eventsEnv,
      baseUrl: `http://127.0.0.1:${api.port}`,
      pollMs: options.pollMs,
    });
    const client = resources.temporal;

    // --- measurement helpers
    async function snapshot(): Promise<CpuSnapshot> {
      const { rows } = await adminQuery<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name NOT IN ('bench-driver', 'bench-admin')`,
        [databaseName]
      );
      const postgres = new Map<number, number>();
      for (const { pid } of rows) {
        const cpu = processCpuMs(pid);
        if (cpu !== undefined) postgres.set(pid, cpu);
      }
      const usage = process.cpuUsage();
      return {
        at: performance.now(),
        benchMs: (usage.user + usage.system) / 1000,
        driverMs: (driver.child.pid && processCpuMs(driver.child.pid)) || 0,
        temporalMs: (temporalPid && processCpuMs(temporalPid)) || 0,
        postgres,
        machineMs: machineBusyMs(),
      };
    }

    function perItem(from: CpuSnapshot, to: CpuSnapshot, items: number): CpuPerItem {
      let postgresMs = 0;
      for (const [pid, cpu] of to.postgres) postgresMs += cpu - (from.postgres.get(pid) ?? 0);
      const bench = to.benchMs - from.benchMs;
      const driverMs = to.driverMs - from.driverMs;
      const temporalMs = to.temporalMs - from.temporalMs;
      const machine = to.machineMs - from.machineMs;
      const other = Math.max(0, machine - bench - driverMs - temporalMs - postgresMs);
      const n = Math.max(1, items);
      return {
        bench: round(bench / n, 2),
        driver: round(driverMs / n, 2),
        temporalServer: round(temporalMs / n, 2),
        postgres: round(postgresMs / n, 2),
        service: round((bench + temporalMs + postgresMs) / n, 2),
        otherCores: round(other / Math.max(1, to.at - from.at), 2),
      };
    }

    async function dbCounters(): Promise<DbCounters> {
      const { rows } = await adminQuery<Record<keyof DbCounters, string>>(
        `SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted, tup_returned, tup_fetched
         FROM pg_stat_database WHERE datname = $1`,
        [databaseName]
      );
      const row = rows[0]!;
      return Object.fromEntries(
        Object.entries(row).map(([key, value]) => [key, Number(value)])
      ) as unknown as DbCounters;
    }

    /** PostgreSQL publishes a backend's counters up to 10 s after it went idle: wait that out, relay paused. */
    async function settledDbCounters(): Promise<{ counters: DbCounters; adminQueries: number }> {
      await relay.stop();
      await sleep(options.statsWaitMs);
      const counters = await dbCounters();
      return { counters, adminQueries };
    }

    function dbDelta(
      before: { counters: DbCounters; adminQueries: number },
      after: { counters: DbCounters; adminQueries: number },
      ownQueries: number,
      items: number
    ): Record<keyof DbCounters, number> {
      const delta = {} as Record<keyof DbCounters, number>;
      for (const key of Object.keys(after.counters) as (keyof DbCounters)[]) {
        let value = after.counters[key] - before.counters[key];
        // The bench's own monitoring and the driver's polling are autocommit SELECTs: not the service's.
        if (key === 'xact_commit') value -= after.adminQueries - before.adminQueries + ownQueries;
        delta[key] = round(value / Math.max(1, items), 2);
      }
      return delta;
    }

    /** Every order parked at FULFILLING (its workflow waits for dispatch) and every outbox row published. */
    async function settle(orderIds: string[], timeoutMs = 120_000): Promise<number> {
      const started = performance.now();
      for (;;) {
        const { rows } = await adminQuery<{ moving: number; unpublished: number }>(
          `SELECT (SELECT count(*)::int FROM orders
                   WHERE id = ANY($1::uuid[]) AND stage NOT IN ('FULFILLING', 'CANCELLED')) AS moving,
                  (SELECT count(*)::int FROM outbox WHERE published_at IS NULL) AS unpublished`,
          [orderIds]
        );
        const { moving, unpublished } = rows[0]!;
        if (moving === 0 && unpublished === 0) break;
        if (performance.now() - started > timeoutMs) {
          log(
            `warning: not settled after ${timeoutMs} ms (${moving} orders moving, ${unpublished} events unpublished)`
          );
          break;
        }
        await sleep(50);
      }
      // The FULFILLING row is written by a local activity; its workflow task completes a moment later.
      await sleep(250);
      return performance.now() - started;
    }

    /** Every floor workflow closed (the loop moved on at the confirmation point; the last tasks ran on). */
    async function settleFloor(timeoutMs = 120_000): Promise<number> {
      const started = performance.now();
      for (;;) {
        const { count } = await client.workflow.count(`WorkflowType = 'FloorWorkflow' AND ExecutionStatus = 'Running'`);
        if (count === 0) break;
        if (performance.now() - started > timeoutMs) {
          log(`warning: ${count} floor workflows still running after ${timeoutMs} ms`);
          break;
        }
        await sleep(50);
      }
      return performance.now() - started;
    }

    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const scenarios: ScenarioRecord[] = [];

    function record(
      name: string,
      kind: ScenarioRecord['kind'],
      result: { wallMs: number; ok: number; errors: number; errorSamples: string[]; latencyMs: number[] },
      run: { items: number; concurrency: number },
      cpu: CpuPerItem
    ): ScenarioRecord {
      const entry: ScenarioRecord = {
        name,
        kind,
        items: run.items,
        concurrency: run.concurrency,
        ok: result.ok,
        errors: result.errors,
        errorSamples: result.errorSamples,
        wallMs: round(result.wallMs),
        throughputPerS: round((result.ok / result.wallMs) * 1000, 2),
        latencyMs: roundSummary(summarize(result.latencyMs)),
        cpuMsPerItem: cpu,
        samples: { latencyMs: samples(result.latencyMs) },
        eventLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
        rssMiB: round(process.memoryUsage().rss / 2 ** 20),
        loadAverage: loadAverage(),
      };
      if (result.errors > 0) log(`${name}: ${result.errors} errors, e.g. ${result.errorSamples[0]}`);
      return entry;
    }

    let runCounter = 0;
    const nextRunId = (prefix: string) => `${prefix}-${runId}-${(runCounter += 1)}`;

    interface Run {
      items: number;
      concurrency: number;
      /** Keep it in the report (warm-ups are discarded). */
      keep: boolean;
      /** Measure PostgreSQL counters around it (costs two waits of --stats-wait-ms). */
      db?: boolean;
      /** Take a CPU profile of this process while it runs (--cpu-profile). */
      profile?: boolean;
    }
    let cpuProfile: { file: string; byCategory: ReturnType<typeof summariseProfile> } | undefined;

    async function floorScenario(name: string, input: FloorInput, run: Run) {
      await relay.stop();
      loopDelay.reset();
      const before = await snapshot();
      const result = await driver.run({
        type: 'floor',
        runId: nextRunId('floor'),
        orders: run.items,
        concurrency: run.concurrency,
        input,
        timeoutMs: options.timeoutMs,
      });
      const confirmed = await snapshot();
      const settleMs = await settleFloor();
      const closed = await snapshot();
      relay.start();
      const entry = record(name, 'F-T', result, run, perItem(before, confirmed, result.ok));
      entry.cpuMsPerItemSettled = perItem(before, closed, result.ok);
      entry.settleMs = round(settleMs);
      entry.acceptMs = roundSummary(summarize(result.acceptMs));
      entry.samples.acceptMs = samples(result.acceptMs);
      if (run.keep) {
        entry.describe = await describeSample(client, result.ids.slice(0, options.sample));
        scenarios.push(entry);
        log(line(entry));
      }
      return { entry, result };
    }

    async function serviceScenario(name: string, run: Run) {
      const dbBefore = run.db ? await settledDbCounters() : undefined;
      relay.start();
      loopDelay.reset();
      const stopProfile = run.profile ? await startProfile() : undefined;
      const before = await snapshot();
      const result = await driver.run({
        type: 'service',
        runId: nextRunId('order'),
        orders: run.items,
        concurrency: run.concurrency,
        productIds: products.map((product) => product.id),
        lines: options.lines,
        prefer: options.confirm === 'prefer',
        timeoutMs: options.timeoutMs,
      });
      const confirmed = await snapshot();
      const settleMs = await settle(result.ids);
      const settled = await snapshot();
      if (stopProfile) {
        const profile = await stopProfile();
        const file = join(resultsDir, `${runId}-s-e2e.cpuprofile`);
        writeProfile(profile, file);
        cpuProfile = { file, byCategory: summariseProfile(profile) };
      }
      const entry = record(name, 'S-E2E', result, run, perItem(before, confirmed, result.ok));
      entry.cpuMsPerItemSettled = perItem(before, settled, result.ok);
      entry.settleMs = round(settleMs);
      entry.acceptMs = roundSummary(summarize(result.acceptMs));
      entry.eventMs = { ...roundSummary(summarize(result.eventMs)), missing: result.eventsMissing };
      entry.samples.acceptMs = samples(result.acceptMs);
      entry.samples.eventMs = samples(result.eventMs);
      entry.statuses = result.statuses;
      if (dbBefore) {
        const dbAfter = await settledDbCounters();
        entry.dbPerItem = dbDelta(dbBefore, dbAfter, result.pollQueries, result.ok);
        relay.start();
      }
      if (run.keep) {
        entry.describe = await describeSample(
          client,
          result.ids.slice(0, options.sample).map((id) => `order-${id}`)
        );
        scenarios.push(entry);
        log(line(entry));
      }
      return { entry, result };
    }

    // --- warm-up, and the order's shape from a real history
    const warmup = Math.max(options.warmup, 1);
    log(`warm-up: ${warmup} orders`);
    const warm = await serviceScenario('S-E2E warm-up', {
      items: warmup,
      concurrency: options.concurrency,
      keep: false,
    });
    if (warm.result.ok === 0) throw new Error(`no warm-up order was confirmed: ${warm.result.errorSamples.join('; ')}`);
    const orderShape: OrderHistory = await orderHistory(client, `order-${warm.result.ids[0]}`);
    const toConfirmed = orderShape.toConfirmed;
    // The driver moves on when the confirming activity ran: confirmOrder's counterpart in both floors.
    const confirmAfter = toConfirmed.activities.length - 1;
    const floorInput: FloorInput = {
      activities: toConfirmed.activities.length,
      localAfter: options.floorLocals ? toConfirmed.localAfter : [],
      confirmAfter,
    };
    const parkInput: FloorInput = {
      activities: orderShape.parked.activities.length,
      localAfter: options.floorLocals ? orderShape.parked.localAfter : [],
      confirmAfter,
    };
    log(
      `one order until CONFIRMED: ${toConfirmed.events} history events, activities [${toConfirmed.activities.join(', ')}], ` +
        `${toConfirmed.localActivities} local activities (after activity #${toConfirmed.localAfter.join(', #')}), ` +
        `${toConfirmed.workflowTasks} workflow tasks, ${toConfirmed.searchAttributeUpserts} search-attribute upserts`
    );
    log(`F-T floor: ${JSON.stringify(floorInput)}; F-T-park floor: ${JSON.stringify(parkInput)}`);
    await floorScenario('F-T warm-up', floorInput, { items: warmup, concurrency: options.concurrency, keep: false });

    // --- what the idle system burns (pollers, relay polling, the dev server's own timers), in cores
    const idleFrom = await snapshot();
    await sleep(3_000);
    const idleTo = await snapshot();
    const idleCpu = perItem(idleFrom, idleTo, 1);
    const idleSeconds = (idleTo.at - idleFrom.at) / 1000;
    const idle = {
      seconds: round(idleSeconds, 2),
      benchCores: round(idleCpu.bench / 1000 / idleSeconds, 3),
      temporalServerCores: round(idleCpu.temporalServer / 1000 / idleSeconds, 3),
      postgresCores: round(idleCpu.postgres / 1000 / idleSeconds, 3),
      otherCores: idleCpu.otherCores,
    };
    log(`idle: ${JSON.stringify(idle)}`);

    // --- measured, interleaved A/B/A
    const measured = { items: options.orders, concurrency: options.concurrency, keep: true };
    const ft1 = await floorScenario('F-T #1', floorInput, measured);
    const se2e = await serviceScenario('S-E2E', { ...measured, db: true, profile: options.cpuProfile });
    const ft2 = await floorScenario('F-T #2', floorInput, measured);
    const park = await floorScenario('F-T-park', parkInput, measured);
    // Closed loops at C > 1 run saturated, where latency is only concurrency / throughput (Little's law): one
    // request at a time shows what an idle system adds per order.
    let probes: { floor: ScenarioRecord; service: ScenarioRecord } | undefined;
    if (options.probe > 0 && options.concurrency > 1) {
      const probe = { items: options.probe, concurrency: 1, keep: true };
      probes = {
        floor: (await floorScenario('F-T @C=1', floorInput, probe)).entry,
        service: (await serviceScenario('S-E2E @C=1', probe)).entry,
      };
    }
    const floorShapes: Record<string, HistoryShape> = {
      'F-T': await workflowShape(client, ft1.result.ids[0]!),
      'F-T-park': await workflowShape(client, park.result.ids[0]!),
    };

    if (!options.skipFp) {
      log('F-P: raw pg, the same statements per order, relay paused');
      const pool = new pg.Pool({ connectionString: databaseUrl, max: 10 });
      cleanup.add('close F-P pool', () => pool.end());
      const dbBefore = await settledDbCounters();
      loopDelay.reset();
      const before = await snapshot();
      const result = await runPgFloor(pool, {
        eventsEnv,
        products,
        lines: options.lines,
        orders: options.orders,
        concurrency: options.concurrency,
      });
      const after = await snapshot();
      const entry = record('F-P', 'F-P', result, measured, perItem(before, after, result.ok));
      const dbAfter = await settledDbCounters();
      entry.dbPerItem = dbDelta(dbBefore, dbAfter, 0, result.ok);
      relay.start();
      scenarios.push(entry);
      log(line(entry));
    }

    // --- results
    const ratios = headline(
      ft1,
      ft2,
      se2e.entry,
      park.entry,
      scenarios.find((s) => s.kind === 'F-P'),
      probes
    );
    const report = {
      runId,
      startedAt: new Date(Date.now() - (performance.now() - began)).toISOString(),
      options,
      environment: {
        ...environment(ROOT, temporalCli),
        temporalServer: { mode: 'start-dev, in-memory SQLite', address: temporal.address },
        postgres: (await adminQuery<{ v: string }>(`SELECT current_setting('server_version') AS v`)).rows[0]?.v ?? '?',
        natsServer: resources.nats.info?.version ?? '?',
        loadAverageAtStart,
        loadAverageAtEnd: loadAverage(),
      },
      service: {
        config: {
          OUTBOX_POLL_INTERVAL: config.OUTBOX_POLL_INTERVAL,
          ORDER_CREATE_WAIT: config.ORDER_CREATE_WAIT,
          AUTH: config.AUTH,
          LOG_LEVEL: config.LOG_LEVEL,
        },
        worker: workerOptionsSummary(orderWorker),
        floorWorker: workerOptionsSummary(floorWorker),
      },
      orderHistory: orderShape,
      floorHistory: floorShapes,
      floorInput,
      parkInput,
      idle,
      ...(cpuProfile ? { cpuProfile } : {}),
      scenarios,
      ratios,
    };
    const file = join(resultsDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(table(scenarios, orderShape, floorShapes, ratios, idle));
    if (cpuProfile) {
      process.stdout.write('\nCPU profile of this process during S-E2E (main thread; % of sampled non-idle time)\n');
      for (const entry of cpuProfile.byCategory) {
        process.stdout.write(
          `${String(entry.percent).padStart(6)} %  ${String(entry.ms).padStart(7)} ms  ${entry.category}\n`
        );
      }
      process.stdout.write(`profile: ${cpuProfile.file} (open in Chrome DevTools)\n`);
    }
    process.stdout.write(`\nraw results: ${file}\n`);
    rmSync(temporalLog, { force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Clean-up helpers

async function dropDatabase(url: string, name: string): Promise<void> {
  try {
    await migrateDatabase(url, 'drop');
  } catch (error) {
    // dbmate refuses while a connection lingers (a killed driver's backend exits asynchronously): force it.
    log(`dbmate drop failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); forcing`);
    const adminUrl = Object.assign(new URL(url), { pathname: '/postgres' }).toString();
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  }
}

function workerOptionsSummary(worker: Worker): Record<string, unknown> {
  const options = worker.options as unknown as Record<string, unknown>;
  const keys = [
    'maxCachedWorkflows',
    'reuseV8Context',
    'maxConcurrentWorkflowTaskPolls',
    'maxConcurrentActivityTaskPolls',
    'workflowTaskPollerBehavior',
    'activityTaskPollerBehavior',
    'maxHeartbeatThrottleIntervalMs',
    'stickyQueueScheduleToStartTimeoutMs',
    'tuner',
  ];
  return Object.fromEntries(keys.filter((key) => options[key] !== undefined).map((key) => [key, options[key]]));
}

// ---------------------------------------------------------------------------------------------------------------
// Reporting

function roundSummary(summary: Summary): Summary {
  return Object.fromEntries(
    Object.entries(summary).map(([key, value]: [string, number]) => [key, key === 'count' ? value : round(value)])
  ) as unknown as Summary;
}

function line(entry: ScenarioRecord): string {
  return (
    `${entry.name}: ${entry.ok}/${entry.items} in ${(entry.wallMs / 1000).toFixed(1)} s = ${entry.throughputPerS}/s, ` +
    `p50 ${entry.latencyMs.p50} ms, p99 ${entry.latencyMs.p99} ms, service CPU ${entry.cpuMsPerItem.service} ms/item`
  );
}

interface Ratios {
  /** F-T throughput (both runs pooled) / S-E2E throughput. */
  R_tput: number;
  /** S-E2E latency / F-T latency (both F-T runs pooled), at the same concurrency. */
  R_lat_p50: number;
  R_lat_p99: number;
  /** The same at concurrency 1 (the probes), when they ran. */
  R_lat_unloaded_p50?: number;
  R_lat_unloaded_p99?: number;
  /** S-E2E service CPU per order (until parked) / F-T-park (until closed): the same Temporal shape. */
  R_cpu: number;
  /** S-E2E / F-T, both from the first start to the last confirmation (the brief's definition). */
  R_cpu_window_vs_FT: number;
  /** In-process CPU only (process.cpuUsage: API + worker + relay vs the floor worker). */
  R_cpu_process: number;
  /** S-E2E (until parked) / (F-T-park + F-P): the composite floor, when F-P ran. */
  R_cpu_vs_composite?: number;
  /** F-T #2 / F-T #1 throughput: drift across the run (1.0 = none). */
  drift_FT: number;
  ftPooled: { throughputPerS: number; latencyMs: Summary };
}

function headline(
  ft1: { entry: ScenarioRecord; result: RunResult },
  ft2: { entry: ScenarioRecord; result: RunResult },
  service: ScenarioRecord,
  park: ScenarioRecord,
  fp: ScenarioRecord | undefined,
  probes: { floor: ScenarioRecord; service: ScenarioRecord } | undefined
): Ratios {
  const ftThroughput = ((ft1.entry.ok + ft2.entry.ok) / (ft1.entry.wallMs + ft2.entry.wallMs)) * 1000;
  const ftLatency = roundSummary(summarize([...ft1.result.latencyMs, ...ft2.result.latencyMs]));
  const ftCpu = (ft1.entry.cpuMsPerItem.service + ft2.entry.cpuMsPerItem.service) / 2;
  const settled = service.cpuMsPerItemSettled ?? service.cpuMsPerItem;
  const parked = park.cpuMsPerItemSettled ?? park.cpuMsPerItem;
  return {
    R_tput: round(ftThroughput / service.throughputPerS, 2),
    R_lat_p50: round(service.latencyMs.p50 / ftLatency.p50, 2),
    R_lat_p99: round(service.latencyMs.p99 / ftLatency.p99, 2),
    ...(probes
      ? {
          R_lat_unloaded_p50: round(probes.service.latencyMs.p50 / probes.floor.latencyMs.p50, 2),
          R_lat_unloaded_p99: round(probes.service.latencyMs.p99 / probes.floor.latencyMs.p99, 2),
        }
      : {}),
    R_cpu: round(settled.service / parked.service, 2),
    R_cpu_window_vs_FT: round(service.cpuMsPerItem.service / ftCpu, 2),
    R_cpu_process: round(settled.bench / parked.bench, 2),
    ...(fp ? { R_cpu_vs_composite: round(settled.service / (parked.service + fp.cpuMsPerItem.service), 2) } : {}),
    drift_FT: round(ft2.entry.throughputPerS / ft1.entry.throughputPerS, 2),
    ftPooled: { throughputPerS: round(ftThroughput, 2), latencyMs: ftLatency },
  };
}

function pad(cells: (string | number)[], widths: number[]): string {
  return cells.map((cell, index) => String(cell).padStart(widths[index] ?? 8)).join(' ');
}

function table(
  scenarios: ScenarioRecord[],
  order: OrderHistory,
  floors: Record<string, HistoryShape>,
  ratios: Ratios,
  idle: { benchCores: number; temporalServerCores: number; postgresCores: number; otherCores: number }
): string {
  const out: string[] = [''];
  const w = [18, 6, 5, 8, 9, 8, 8, 8, 10, 10, 10];
  out.push("Throughput and latency, ms (closed loop; start -> CONFIRMED row, or -> the floor's confirming activity)");
  out.push(
    pad(['scenario', 'ok', 'err', 'wall s', 'items/s', 'p50', 'p95', 'p99', 'accept p50', 'accept p99', 'event p50'], w)
  );
  for (const s of scenarios) {
    out.push(
      pad(
        [
          s.name,
          s.ok,
          s.errors,
          (s.wallMs / 1000).toFixed(1),
          s.throughputPerS,
          s.latencyMs.p50,
          s.latencyMs.p95,
          s.latencyMs.p99,
          s.acceptMs?.p50 ?? '-',
          s.acceptMs?.p99 ?? '-',
          s.eventMs?.p50 ?? '-',
        ],
        w
      )
    );
  }
  out.push('');
  out.push('CPU ms per item (service = bench process + Temporal server + PostgreSQL backends; driver apart)');
  const c = [28, 8, 8, 9, 9, 9, 8, 12];
  out.push(pad(['scenario', 'bench', 'driver', 'temporal', 'postgres', 'service', 'other', 'loop p99 ms'], c));
  const cpuRow = (name: string, cpu: CpuPerItem, loop: number | string) =>
    pad([name, cpu.bench, cpu.driver, cpu.temporalServer, cpu.postgres, cpu.service, `${cpu.otherCores}c`, loop], c);
  for (const s of scenarios) {
    out.push(
      cpuRow(s.cpuMsPerItemSettled ? `${s.name} (to last confirm)` : s.name, s.cpuMsPerItem, s.eventLoopDelayP99Ms)
    );
    const settledAs = s.kind === 'S-E2E' ? 'until parked' : 'until closed';
    if (s.cpuMsPerItemSettled) out.push(cpuRow(`${s.name} (${settledAs})`, s.cpuMsPerItemSettled, '-'));
  }
  out.push('  other = cores busy elsewhere on the machine meanwhile (other users, nats-server, Postgres background)');
  out.push(
    `  idle burn (included above): bench ${idle.benchCores} cores, Temporal server ${idle.temporalServerCores}, ` +
      `PostgreSQL ${idle.postgresCores}; other ${idle.otherCores} cores`
  );
  const db = scenarios.filter((s) => s.dbPerItem);
  if (db.length > 0) {
    out.push('');
    out.push('PostgreSQL per order (pg_stat_database deltas; bench monitoring and driver polling subtracted)');
    const d = [18, 10, 10, 10, 10, 10];
    out.push(pad(['scenario', 'commits', 'rollbacks', 'inserted', 'updated', 'deleted'], d));
    for (const s of db) {
      const p = s.dbPerItem!;
      out.push(pad([s.name, p.xact_commit, p.xact_rollback, p.tup_inserted, p.tup_updated, p.tup_deleted], d));
    }
  }
  out.push('');
  out.push('Temporal history per workflow');
  const h = [26, 8, 11, 8, 8, 9, 14];
  out.push(pad(['', 'events', 'activities', 'local', 'WFTs', 'upserts', 'transitions*'], h));
  const described = (name: string) => scenarios.find((s) => s.name === name)?.describe?.stateTransitionsMedian ?? '-';
  const histRow = (name: string, shape: HistoryShape, transitions: number | string) =>
    pad(
      [
        name,
        shape.events,
        shape.activities.length,
        shape.localActivities,
        shape.workflowTasks,
        shape.searchAttributeUpserts,
        transitions,
      ],
      h
    );
  out.push(histRow('order, to CONFIRMED', order.toConfirmed, '-'));
  out.push(histRow('order, parked (FULFILLING)', order.parked, described('S-E2E')));
  for (const [name, shape] of Object.entries(floors))
    out.push(histRow(name, shape, described(name === 'F-T' ? 'F-T #1' : name)));
  out.push('  * median stateTransitionCount from describe() of a sample (for orders: at the time of sampling, parked)');
  out.push('');
  out.push(
    `R_tput = F-T ${ratios.ftPooled.throughputPerS}/s / S-E2E = ${ratios.R_tput}    ` +
      `R_lat = S-E2E / F-T: p50 ${ratios.R_lat_p50}, p99 ${ratios.R_lat_p99}` +
      (ratios.R_lat_unloaded_p50 !== undefined
        ? `; at C=1: p50 ${ratios.R_lat_unloaded_p50}, p99 ${ratios.R_lat_unloaded_p99}`
        : '')
  );
  out.push(
    `R_cpu = S-E2E until parked / F-T-park until closed = ${ratios.R_cpu} (in-process only ${ratios.R_cpu_process}; ` +
      `to last confirm, S-E2E / F-T ${ratios.R_cpu_window_vs_FT}` +
      `${ratios.R_cpu_vs_composite !== undefined ? `; vs F-T-park + F-P ${ratios.R_cpu_vs_composite}` : ''})`
  );
  out.push(`F-T drift (#2 / #1 throughput) = ${ratios.drift_FT}`);
  return `${out.join('\n')}\n`;
}

main().then(
  () => {
    if (!interrupted) process.exit(0);
  },
  (error: unknown) => {
    // After Ctrl-C the main flow fails on closed connections: the signal handler reports and exits.
    if (interrupted) return;
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}`);
      process.exit(2);
    }
    log(`failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  }
);
