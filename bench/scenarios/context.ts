import type { IntervalHistogram } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import type { Options } from '../cli/options.js';
import type { CpuSources } from '../measure/cpu.js';
import { snapshot } from '../measure/cpu.js';
import type { CountedDbCounters, Monitor } from '../measure/monitor.js';
import type { Cleanup } from '../lib/cleanup.js';
import type { Driver } from '../lib/driver-client.js';
import { sleep } from '../lib/log.js';
import type { FloorProduct } from '../lib/pg-floor.js';
import type { summariseProfile } from '../lib/profile.js';
import type { RelayControl } from '../setup/service.js';
import type { ScenarioRecord } from './record.js';

/** What every scenario runs against: the system under test, the driver and the instruments. */
export interface Bench {
  options: Options;
  runId: string;
  eventsEnv: string;
  databaseUrl: string;
  resultsDir: string;
  cleanup: Cleanup;
  driver: Driver;
  client: Client;
  relay: RelayControl;
  monitor: Monitor;
  cpu: CpuSources;
  loopDelay: IntervalHistogram;
  products: FloorProduct[];
  /** The kept scenarios, in the order they ran. */
  scenarios: ScenarioRecord[];
  nextRunId(prefix: string): string;
  cpuProfile?: { file: string; byCategory: ReturnType<typeof summariseProfile> };
}

export interface Run {
  items: number;
  concurrency: number;
  /** Keep it in the report (warm-ups are discarded). */
  keep: boolean;
  /** Measure PostgreSQL counters around it (costs two waits of --stats-wait-ms). */
  db?: boolean;
  /** Take a CPU profile of this process while it runs (--cpu-profile). */
  profile?: boolean;
}

export const snap = (bench: Bench) => snapshot(bench.cpu);

/** The closed loop's part of a driver request. */
export function loop(bench: Bench, prefix: string, run: Run) {
  return {
    runId: bench.nextRunId(prefix),
    orders: run.items,
    concurrency: run.concurrency,
    timeoutMs: bench.options.timeoutMs,
  };
}

/** PostgreSQL publishes a backend's counters up to 10 s after it went idle: wait that out, relay paused. */
export async function settledDbCounters(bench: Bench): Promise<CountedDbCounters> {
  await bench.relay.stop();
  await sleep(bench.options.statsWaitMs);
  return bench.monitor.dbCounters();
}
