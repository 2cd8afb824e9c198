import { performance } from 'node:perf_hooks';
import { round } from '../lib/stats.js';
import { machineBusyMs, processCpuMs } from '../lib/proc.js';

export interface CpuSnapshot {
  at: number;
  benchMs: number;
  driverMs: number;
  temporalMs: number;
  /** PostgreSQL backends serving the run's database, by pid. */
  postgres: Map<number, number>;
  /** PostgreSQL backends serving the Temporal server's persistence (postgres back end), by pid. */
  temporalPostgres: Map<number, number>;
  machineMs: number;
}

export interface CpuPerItem {
  /** This process: API, worker(s), relay (and F-P's pg client). */
  bench: number;
  /** The load generator process. */
  driver: number;
  /** The Temporal server process, plus its PostgreSQL backends on the postgres back end. */
  temporalServer: number;
  /** PostgreSQL backends serving this run's database (the driver's and the bench's own monitoring excluded). */
  postgres: number;
  /** bench + temporalServer + postgres: what the system under test burnt. */
  service: number;
  /** Everything else busy on the machine meanwhile (other users, nats-server, Postgres background), in cores. */
  otherCores: number;
}

export interface CpuSources {
  driverPid: number | undefined;
  temporalPid: number | undefined;
  /** Backend pids: of this run's database, and of the Temporal server's databases. */
  backends(): Promise<{ service: number[]; temporal: number[] }>;
}

function cpuOf(pids: number[]): Map<number, number> {
  const cpu = new Map<number, number>();
  for (const pid of pids) {
    const ms = processCpuMs(pid);
    if (ms !== undefined) cpu.set(pid, ms);
  }
  return cpu;
}

export async function snapshot(sources: CpuSources): Promise<CpuSnapshot> {
  const backends = await sources.backends();
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    benchMs: (usage.user + usage.system) / 1000,
    driverMs: (sources.driverPid && processCpuMs(sources.driverPid)) || 0,
    temporalMs: (sources.temporalPid && processCpuMs(sources.temporalPid)) || 0,
    postgres: cpuOf(backends.service),
    temporalPostgres: cpuOf(backends.temporal),
    machineMs: machineBusyMs(),
  };
}

/** CPU of backends seen at the end of the window (a backend that exited meanwhile is not counted). */
function backendsMs(from: Map<number, number>, to: Map<number, number>): number {
  let ms = 0;
  for (const [pid, cpu] of to) ms += cpu - (from.get(pid) ?? 0);
  return ms;
}

/** CPU between two snapshots, per item, in ms; `otherCores` is a rate, in cores. */
export function cpuPerItem(from: CpuSnapshot, to: CpuSnapshot, items: number): CpuPerItem {
  const postgresMs = backendsMs(from.postgres, to.postgres);
  const bench = to.benchMs - from.benchMs;
  const driverMs = to.driverMs - from.driverMs;
  const temporalMs = to.temporalMs - from.temporalMs + backendsMs(from.temporalPostgres, to.temporalPostgres);
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
