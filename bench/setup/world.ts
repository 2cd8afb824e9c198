import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Worker } from '@temporalio/worker';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Options } from '../cli/options.js';
import { Monitor } from '../measure/monitor.js';
import type { Cleanup } from '../lib/cleanup.js';
import { Driver } from '../lib/driver-client.js';
import { log } from '../lib/log.js';
import type { Bench } from '../scenarios/context.js';
import { openDatabase, ROOT } from './database.js';
import { startFloorWorker } from './floor-worker.js';
import type { RunningService } from './service.js';
import { openStreams, registerSearchAttributes, startService } from './service.js';
import type { TemporalServer } from './temporal.js';
import { openTemporal } from './temporal.js';

export interface World {
  bench: Bench;
  temporal: TemporalServer;
  service: RunningService;
  floorWorker: Worker;
}

/**
 * An isolated world per run, like a test run: a database `orders_bench_<id>`, streams for `EVENTS_ENV=bench<id>`,
 * the Temporal server of the chosen back end, the service and the floor worker in this process, the driver in a
 * child. Everything is undone by `cleanup`, also on failure and on Ctrl-C.
 */
export async function openWorld(options: Options, cleanup: Cleanup): Promise<World> {
  const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const eventsEnv = `bench${runId}`;
  // The environment is read here only to let a developer point the bench at other servers, as the tests do.
  const baseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/orders';
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const workerSettings = Object.fromEntries(
    Object.entries(process.env).filter(
      (entry): entry is [string, string] => entry[0].startsWith('WORKER_') && !!entry[1]
    )
  );
  const resultsDir = join(ROOT, 'bench-results');
  mkdirSync(resultsDir, { recursive: true });
  log(`run ${runId}: ${JSON.stringify(options)}`);
  Runtime.install({ logger: new DefaultLogger('ERROR') });

  const databaseName = `orders_bench_${runId}`;
  const databaseUrl = await openDatabase(baseUrl, databaseName, cleanup);
  await openStreams(natsUrl, eventsEnv, cleanup);
  const temporal = await openTemporal(options.backend, { resultsDir, runId, postgresUrl: baseUrl }, cleanup);
  log(
    `Temporal (${options.backend.kind}) on ${temporal.address} (pid ${temporal.pid ?? '?'}), database ${databaseName}`
  );
  const service = await startService(
    { databaseUrl, natsUrl, temporalAddress: temporal.address, eventsEnv, runId, workerSettings },
    cleanup
  );
  if (options.backend.kind === 'postgres') await registerSearchAttributes(temporal.address, service.namespace);
  const floorTaskQueue = `bench-floor-${runId}`;
  const floorConfirmSubject = `bench.${runId}.floor.confirmed`;
  const floorWorker = await startFloorWorker(
    {
      address: temporal.address,
      namespace: service.namespace,
      taskQueue: floorTaskQueue,
      confirmSubject: floorConfirmSubject,
      nats: service.nats,
    },
    cleanup
  );
  const monitor = await Monitor.open(databaseUrl, databaseName, temporal.databases);
  cleanup.add('close monitor connection', () => monitor.close());
  const products = await service.seedProducts(options.products);

  const driver = Driver.start();
  cleanup.add('stop load driver', () => driver.close());
  await driver.request({
    type: 'init',
    temporalAddress: temporal.address,
    namespace: service.namespace,
    floorTaskQueue,
    floorConfirmSubject,
    databaseUrl,
    natsUrl,
    eventsEnv,
    baseUrl: service.apiUrl,
    pollMs: options.pollMs,
  });
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  let runs = 0;
  const bench: Bench = {
    options,
    runId,
    eventsEnv,
    databaseUrl,
    resultsDir,
    cleanup,
    driver,
    client: service.client,
    relay: service.relay,
    monitor,
    cpu: {
      driverPid: driver.child.pid,
      temporalPid: temporal.pid,
      backends: () => monitor.backends(),
    },
    loopDelay,
    products,
    scenarios: [],
    nextRunId: (prefix) => `${prefix}-${runId}-${(runs += 1)}`,
  };
  return { bench, temporal, service, floorWorker };
}
