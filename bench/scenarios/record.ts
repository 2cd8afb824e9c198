import type { IntervalHistogram } from 'node:perf_hooks';
import type { CpuPerItem } from '../measure/cpu.js';
import type { DbCounters } from '../measure/monitor.js';
import type { DescribeSample } from '../lib/history.js';
import { log } from '../lib/log.js';
import { loadAverage } from '../lib/proc.js';
import type { Summary } from '../lib/stats.js';
import { round, summarize } from '../lib/stats.js';

export type ScenarioKind = 'S-E2E' | 'F-T' | 'F-T-park' | 'F-T-naive' | 'F-P';

/** One measured scenario at one concurrency: what the results file holds and the reports read. */
export interface ScenarioRecord {
  name: string;
  kind: ScenarioKind;
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
  /** CONFIRMED row (its OrderConfirmed event's `time`) to the event on NATS. */
  eventLagMs?: Summary;
  /** From the first start to the last confirmation. */
  cpuMsPerItem: CpuPerItem;
  /**
   * Until the work the loop did not wait for is done too: every order parked at FULFILLING with its outbox
   * published (S-E2E), every floor workflow closed. The whole checkout, like for like.
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
  samples: { latencyMs: number[]; acceptMs?: number[]; eventMs?: number[]; eventLagMs?: number[] };
}

export function sortedSamples(values: number[]): number[] {
  return values.map((value) => round(value)).sort((a, b) => a - b);
}

export function roundSummary(summary: Summary): Summary {
  return Object.fromEntries(
    Object.entries(summary).map(([key, value]: [string, number]) => [key, key === 'count' ? value : round(value)])
  ) as unknown as Summary;
}

export function summary(values: number[]): Summary {
  return roundSummary(summarize(values));
}

export interface Measured {
  wallMs: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  latencyMs: number[];
}

export function record(
  name: string,
  kind: ScenarioKind,
  result: Measured,
  run: { items: number; concurrency: number },
  cpu: CpuPerItem,
  loopDelay: IntervalHistogram
): ScenarioRecord {
  if (result.errors > 0) log(`${name}: ${result.errors} errors, e.g. ${result.errorSamples[0]}`);
  return {
    name,
    kind,
    items: run.items,
    concurrency: run.concurrency,
    ok: result.ok,
    errors: result.errors,
    errorSamples: result.errorSamples,
    wallMs: round(result.wallMs),
    throughputPerS: round((result.ok / result.wallMs) * 1000, 2),
    latencyMs: summary(result.latencyMs),
    cpuMsPerItem: cpu,
    samples: { latencyMs: sortedSamples(result.latencyMs) },
    eventLoopDelayP99Ms: round(loopDelay.percentile(99) / 1e6),
    rssMiB: round(process.memoryUsage().rss / 2 ** 20),
    loadAverage: loadAverage(),
  };
}

/** One progress line per scenario. */
export function progressLine(entry: ScenarioRecord): string {
  return (
    `${entry.name}: ${entry.ok}/${entry.items} in ${(entry.wallMs / 1000).toFixed(1)} s = ${entry.throughputPerS}/s, ` +
    `p50 ${entry.latencyMs.p50} ms, p99 ${entry.latencyMs.p99} ms, service CPU ${entry.cpuMsPerItem.service} ms/item`
  );
}
