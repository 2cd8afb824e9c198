import type { ScenarioKind, ScenarioRecord } from '../scenarios/record.js';
import { round } from '../lib/stats.js';

/** The targets' ratios (issue "checkout faster than Temporal's naive floor"), from one run's scenarios. */
export interface Headline {
  backend: 'dev' | 'postgres';
  /** S-E2E POST -> CONFIRMED p50 at C=1 / F-T-naive p50 at C=1. */
  lat1_x?: number;
  /** S-E2E orders/s / F-T-naive workflows/s, by concurrency (10 and 20 when measured). */
  tput_x_at: Record<number, number>;
  /** The smaller of tput_x_at's values: the one the summary line reports. */
  tput_x?: number;
  /** S-E2E service CPU per order until parked / F-T-naive per workflow until closed, at --concurrency. */
  cpu_x?: number;
  /** PostgreSQL commits per order: S-E2E and F-P, at --concurrency. */
  commits: { service?: number; fp?: number };
  /** OrderConfirmed `time` (in the CONFIRMED transaction) -> the event on NATS, p50 at --concurrency. */
  event_lag_p50_ms?: number;
}

const TPUT_AT = [10, 20];

function find(scenarios: ScenarioRecord[], kind: ScenarioKind, concurrency: number): ScenarioRecord | undefined {
  return scenarios.find((s) => s.kind === kind && s.concurrency === concurrency);
}

function ratio(numerator: number | undefined, denominator: number | undefined): number | undefined {
  if (numerator === undefined || denominator === undefined || !(denominator > 0) || !Number.isFinite(numerator)) {
    return undefined;
  }
  return round(numerator / denominator, 2);
}

export function headline(scenarios: ScenarioRecord[], backend: Headline['backend'], concurrency: number): Headline {
  const at = (kind: ScenarioKind, c: number) => find(scenarios, kind, c);
  const tput_x_at: Record<number, number> = {};
  for (const c of TPUT_AT) {
    const value = ratio(at('S-E2E', c)?.throughputPerS, at('F-T-naive', c)?.throughputPerS);
    if (value !== undefined) tput_x_at[c] = value;
  }
  const tputs = Object.values(tput_x_at);
  const service = at('S-E2E', concurrency);
  const naive = at('F-T-naive', concurrency);
  const settled = (s: ScenarioRecord | undefined) => (s?.cpuMsPerItemSettled ?? s?.cpuMsPerItem)?.service;
  const lag = service?.eventLagMs?.p50;
  return {
    backend,
    lat1_x: ratio(at('S-E2E', 1)?.latencyMs.p50, at('F-T-naive', 1)?.latencyMs.p50),
    tput_x_at,
    tput_x: tputs.length > 0 ? Math.min(...tputs) : undefined,
    cpu_x: ratio(settled(service), settled(naive)),
    commits: { service: service?.dbPerItem?.xact_commit, fp: at('F-P', concurrency)?.dbPerItem?.xact_commit },
    event_lag_p50_ms: lag !== undefined && Number.isFinite(lag) ? round(lag) : undefined,
  };
}

const shown = (value: number | undefined) => (value === undefined ? 'n/a' : String(value));

/** The run's last line, for scripts: `n/a` where the run did not measure what a ratio needs. */
export function summaryLine(h: Headline): string {
  return (
    `bench: backend=${h.backend} lat1_x=${shown(h.lat1_x)} tput_x=${shown(h.tput_x)} cpu_x=${shown(h.cpu_x)} ` +
    `commits=${shown(h.commits.service)}/${shown(h.commits.fp)} event_lag_p50_ms=${shown(h.event_lag_p50_ms)}`
  );
}
