import { describe, expect, it } from 'vitest';
import { itemsAt, parseOptions, UsageError } from '../../bench/cli/options.js';
import type { CpuSnapshot } from '../../bench/measure/cpu.js';
import { cpuPerItem } from '../../bench/measure/cpu.js';
import { dbDelta } from '../../bench/measure/monitor.js';
import { latencyThroughputSvg, niceTicks, sweepSeries } from '../../bench/report/plot.js';
import { headline, summaryLine } from '../../bench/report/ratios.js';
import type { ScenarioKind, ScenarioRecord } from '../../bench/scenarios/record.js';

function scenario(
  kind: ScenarioKind,
  concurrency: number,
  values: { tput: number; p50: number; p99?: number; cpu?: number; commits?: number; lag?: number }
): ScenarioRecord {
  const cpu = { bench: 0, driver: 0, temporalServer: 0, postgres: 0, service: values.cpu ?? 0, otherCores: 0 };
  const latency = {
    count: 1,
    mean: values.p50,
    p50: values.p50,
    p90: 0,
    p95: 0,
    p99: values.p99 ?? values.p50,
    max: 0,
  };
  return {
    name: `${kind} C=${concurrency}`,
    kind,
    items: 10,
    concurrency,
    ok: 10,
    errors: 0,
    errorSamples: [],
    wallMs: 1000,
    throughputPerS: values.tput,
    latencyMs: latency,
    cpuMsPerItem: cpu,
    cpuMsPerItemSettled: cpu,
    ...(values.commits !== undefined
      ? { dbPerItem: { xact_commit: values.commits } as ScenarioRecord['dbPerItem'] }
      : {}),
    ...(values.lag !== undefined ? { eventLagMs: { ...latency, p50: values.lag } } : {}),
    eventLoopDelayP99Ms: 0,
    rssMiB: 0,
    loadAverage: [],
    samples: { latencyMs: [] },
  };
}

const fullRun = [
  scenario('F-T-naive', 1, { tput: 2, p50: 500 }),
  scenario('S-E2E', 1, { tput: 2, p50: 150 }),
  scenario('F-T-naive', 10, { tput: 16, p50: 600, cpu: 100 }),
  scenario('S-E2E', 10, { tput: 32, p50: 300, cpu: 110, commits: 12, lag: 8.25 }),
  scenario('F-T-naive', 20, { tput: 20, p50: 1000 }),
  scenario('S-E2E', 20, { tput: 25, p50: 800 }),
  scenario('F-P', 10, { tput: 50, p50: 100, commits: 22 }),
];

describe('bench ratios against F-T-naive', () => {
  it('divides the service by the naive floor at the concurrencies the issue names', () => {
    const h = headline(fullRun, 'dev', 10);
    expect(h).toMatchObject({
      lat1_x: 0.3,
      tput_x_at: { 10: 2, 20: 1.25 },
      cpu_x: 1.1,
      commits: { service: 12, fp: 22 },
      event_lag_p50_ms: 8.3,
    });
  });

  it('reports the smaller of the C=10 and C=20 throughput ratios', () => {
    expect(headline(fullRun, 'dev', 10).tput_x).toBe(1.25);
  });

  it('ends the run with one line in the agreed format', () => {
    expect(summaryLine(headline(fullRun, 'postgres', 10))).toBe(
      'bench: backend=postgres lat1_x=0.3 tput_x=1.25 cpu_x=1.1 commits=12/22 event_lag_p50_ms=8.3'
    );
  });

  it('writes n/a for what the run did not measure', () => {
    const onlyTen = fullRun.filter((s) => s.concurrency === 10 && s.kind !== 'F-P');
    expect(summaryLine(headline(onlyTen, 'dev', 10))).toBe(
      'bench: backend=dev lat1_x=n/a tput_x=2 cpu_x=1.1 commits=12/n/a event_lag_p50_ms=8.3'
    );
  });
});

describe('bench latency-throughput plot', () => {
  it('rounds axis ticks to steps of 1, 2 or 5 that cover the largest value', () => {
    expect(niceTicks(37)).toEqual([0, 10, 20, 30, 40]);
    expect(niceTicks(1840)).toEqual([0, 500, 1000, 1500, 2000]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });

  it('draws each swept scenario by ascending concurrency, skipping the floors that are not swept', () => {
    const series = sweepSeries([...fullRun].reverse());
    expect(series.map((s) => s.name)).toEqual(['S-E2E', 'F-T-naive']);
    expect(series[0]!.points.map((p) => p.concurrency)).toEqual([1, 10, 20]);
  });

  it('renders one p50 and one p99 line per series, each point labelled with its concurrency', () => {
    const svg = latencyThroughputSvg(sweepSeries(fullRun), 'run <1>');
    expect(svg.match(/<polyline /g)).toHaveLength(4);
    expect(svg.match(/>C=10</g)).toHaveLength(2);
    expect(svg).toContain('run &lt;1&gt;');
  });
});

describe('bench command line', () => {
  it('provisions the postgres back end unless given the address of a running server', () => {
    expect(parseOptions(['--backend', 'postgres'])?.backend).toEqual({ kind: 'postgres' });
    expect(parseOptions(['--backend', 'postgres', '--temporal-address', '127.0.0.1:7233'])?.backend).toEqual({
      kind: 'postgres',
      running: { address: '127.0.0.1:7233', databases: ['temporal', 'temporal_visibility'] },
    });
    expect(() => parseOptions(['--backend', 'postgres', '--temporal-databases', 'a,b'])).toThrow(UsageError);
    expect(() => parseOptions(['--temporal-address', '127.0.0.1:7233'])).toThrow(/--backend postgres only/);
  });

  it('sweeps the given concurrencies plus --concurrency, ascending', () => {
    expect(parseOptions(['--sweep', '20,1,5', '--concurrency', '10'])?.sweep).toEqual([1, 5, 10, 20]);
  });

  it('measures fewer items at low concurrency', () => {
    expect([1, 5, 10, 40].map((c) => itemsAt({ orders: 200 }, c))).toEqual([20, 100, 200, 200]);
  });
});

describe('bench CPU and database accounting', () => {
  const snap = (at: number, ms: number, backends: [number, number][]): CpuSnapshot => ({
    at,
    benchMs: ms,
    driverMs: ms,
    temporalMs: ms,
    postgres: new Map(backends),
    temporalPostgres: new Map(backends.map(([pid, cpu]) => [pid + 1000, cpu])),
    machineMs: ms * 10,
  });

  it('counts the Temporal server with its PostgreSQL backends, and the driver apart from the service', () => {
    const cpu = cpuPerItem(
      snap(0, 100, [[1, 50]]),
      snap(1000, 300, [
        [1, 90],
        [2, 20],
      ]),
      10
    );
    // bench 200 + Temporal 200 (process) + 60 (its backends) + run database 60 = 520 ms over 10 items.
    expect(cpu).toMatchObject({ bench: 20, driver: 20, temporalServer: 26, postgres: 6, service: 52 });
  });

  it('takes the monitor and driver queries out of the commits per order', () => {
    const counters = (commits: number) => ({
      xact_commit: commits,
      xact_rollback: 0,
      tup_inserted: 0,
      tup_updated: 0,
      tup_deleted: 0,
      tup_returned: 0,
      tup_fetched: 0,
      sessions: 0,
    });
    const delta = dbDelta(
      { counters: counters(100), ownQueries: 5 },
      { counters: counters(400), ownQueries: 25 },
      80,
      10
    );
    expect(delta.xact_commit).toBe(20);
  });
});
