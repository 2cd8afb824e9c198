import type { CpuPerItem } from '../measure/cpu.js';
import type { HistoryShape, OrderHistory } from '../lib/history.js';
import type { Idle } from '../scenarios/plan.js';
import type { ScenarioRecord } from '../scenarios/record.js';
import type { Headline } from './ratios.js';

function pad(cells: (string | number)[], widths: number[]): string {
  return cells.map((cell, index) => String(cell).padStart(widths[index] ?? 8)).join(' ');
}

const KIND_ORDER = ['S-E2E', 'F-T-naive', 'F-T', 'F-T-park', 'F-P'];

/** By scenario kind, then concurrency: each kind's sweep reads down one block. */
function byKind(scenarios: ScenarioRecord[]): ScenarioRecord[] {
  return [...scenarios].sort(
    (a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.concurrency - b.concurrency
  );
}

function throughputTable(scenarios: ScenarioRecord[]): string[] {
  const w = [16, 5, 6, 5, 8, 8, 8, 8, 11, 10, 10];
  return [
    "Throughput and latency, ms (closed loop; start -> CONFIRMED row, or -> the floor's confirming activity)",
    pad(['scenario', 'C', 'ok', 'err', 'items/s', 'p50', 'p95', 'p99', 'accept p50', 'event p50', 'lag p50'], w),
    ...byKind(scenarios).map((s) =>
      pad(
        [
          s.kind,
          s.concurrency,
          s.ok,
          s.errors,
          s.throughputPerS,
          s.latencyMs.p50,
          s.latencyMs.p95,
          s.latencyMs.p99,
          s.acceptMs?.p50 ?? '-',
          s.eventMs?.p50 ?? '-',
          s.eventLagMs?.p50 ?? '-',
        ],
        w
      )
    ),
    "  event = POST -> OrderConfirmed on NATS; lag = the event's time (in the CONFIRMED transaction) -> on NATS",
  ];
}

function cpuTable(scenarios: ScenarioRecord[], idle: Idle): string[] {
  const c = [30, 8, 8, 9, 9, 9, 8, 12];
  const row = (name: string, cpu: CpuPerItem, loop: number | string) =>
    pad([name, cpu.bench, cpu.driver, cpu.temporalServer, cpu.postgres, cpu.service, `${cpu.otherCores}c`, loop], c);
  const out = [
    'CPU ms per item (service = bench process + Temporal server + PostgreSQL backends; driver apart)',
    pad(['scenario', 'bench', 'driver', 'temporal', 'postgres', 'service', 'other', 'loop p99 ms'], c),
  ];
  for (const s of byKind(scenarios)) {
    const name = `${s.kind} C=${s.concurrency}`;
    out.push(row(s.cpuMsPerItemSettled ? `${name} to last confirm` : name, s.cpuMsPerItem, s.eventLoopDelayP99Ms));
    const settledAs = s.kind === 'S-E2E' ? 'until parked' : 'until closed';
    if (s.cpuMsPerItemSettled) out.push(row(`${name} ${settledAs}`, s.cpuMsPerItemSettled, '-'));
  }
  out.push('  other = cores busy elsewhere on the machine meanwhile (other users, nats-server, Postgres background)');
  out.push(
    `  idle burn (included above): bench ${idle.benchCores} cores, Temporal server ${idle.temporalServerCores}, ` +
      `PostgreSQL ${idle.postgresCores}; other ${idle.otherCores} cores`
  );
  return out;
}

function dbTable(scenarios: ScenarioRecord[]): string[] {
  const measured = scenarios.filter((s) => s.dbPerItem);
  if (measured.length === 0) return [];
  const d = [16, 5, 10, 10, 10, 10, 10, 12];
  return [
    '',
    'PostgreSQL per order (pg_stat_database deltas; bench monitoring and driver polling subtracted)',
    pad(['scenario', 'C', 'commits', 'rollbacks', 'inserted', 'updated', 'deleted', 'connections'], d),
    ...measured.map((s) => {
      const p = s.dbPerItem!;
      return pad(
        [
          s.kind,
          s.concurrency,
          p.xact_commit,
          p.xact_rollback,
          p.tup_inserted,
          p.tup_updated,
          p.tup_deleted,
          p.sessions,
        ],
        d
      );
    }),
  ];
}

function historyTable(
  scenarios: ScenarioRecord[],
  order: OrderHistory,
  floors: Record<string, HistoryShape>
): string[] {
  const h = [26, 8, 11, 8, 8, 9, 14];
  const transitions = (kind: string) =>
    scenarios.find((s) => s.kind === kind && s.describe)?.describe?.stateTransitionsMedian ?? '-';
  const row = (name: string, shape: HistoryShape, count: number | string) =>
    pad(
      [
        name,
        shape.events,
        shape.activities.length,
        shape.localActivities,
        shape.workflowTasks,
        shape.searchAttributeUpserts,
        count,
      ],
      h
    );
  return [
    'Temporal history per workflow',
    pad(['', 'events', 'activities', 'local', 'WFTs', 'upserts', 'transitions*'], h),
    row('order, to CONFIRMED', order.toConfirmed, '-'),
    row('order, parked (FULFILLING)', order.parked, transitions('S-E2E')),
    ...Object.entries(floors).map(([name, shape]) => row(name, shape, transitions(name))),
    '  * median stateTransitionCount from describe() of a sample (for orders: at the time of sampling, parked)',
  ];
}

function ratioTable(h: Headline, concurrency: number): string[] {
  const shown = (value: number | undefined) => (value === undefined ? 'n/a' : String(value));
  const r = [44, 10, 8];
  return [
    'Ratios against F-T-naive (five no-op activities, SDK defaults)',
    pad(['', 'measured', 'target'], r),
    pad(['lat1_x  (S-E2E p50 / F-T-naive p50, C=1)', shown(h.lat1_x), '<= 0.3'], r),
    ...Object.entries(h.tput_x_at).map(([c, value]) =>
      pad([`tput_x  (S-E2E / F-T-naive items/s, C=${c})`, value, '>= 1.5'], r)
    ),
    pad([`cpu_x   (service CPU per item, C=${concurrency})`, shown(h.cpu_x), '<= 1.2'], r),
    pad(
      [
        `commits per order (S-E2E / F-P, C=${concurrency})`,
        `${shown(h.commits.service)}/${shown(h.commits.fp)}`,
        'S <= F-P',
      ],
      r
    ),
    pad([`event lag p50 ms (C=${concurrency})`, shown(h.event_lag_p50_ms), '<= 20'], r),
  ];
}

export interface ReportInput {
  scenarios: ScenarioRecord[];
  orderShape: OrderHistory;
  floorShapes: Record<string, HistoryShape>;
  idle: Idle;
  headline: Headline;
  concurrency: number;
}

/** The human-readable report printed before the summary line. */
export function tables(input: ReportInput): string {
  return [
    '',
    ...throughputTable(input.scenarios),
    '',
    ...cpuTable(input.scenarios, input.idle),
    ...dbTable(input.scenarios),
    '',
    ...historyTable(input.scenarios, input.orderShape, input.floorShapes),
    '',
    ...ratioTable(input.headline, input.concurrency),
    '',
  ].join('\n');
}
