import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Db } from '../db/client.js';

/**
 * The service's own Prometheus instruments, one registry per process. Counters and histograms are fed by the
 * code that sees the event (relay, consumers, activities); the `state` gauges are read from PostgreSQL when
 * scraped, so every replica reports the same figure and dashboards take max() of them.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    outboxPublished: new Counter({
      name: 'flowmart_outbox_publish_total',
      help: 'Outbox rows the relay tried to publish, by event type and outcome (published or failed)',
      labelNames: ['type', 'outcome'] as const,
      registers,
    }),
    inbound: new Counter({
      name: 'flowmart_inbound_messages_total',
      help: 'Inbound messages settled by a consumer: applied, duplicate, skipped, parked or retried',
      labelNames: ['consumer', 'outcome'] as const,
      registers,
    }),
    activityFailures: new Counter({
      name: 'flowmart_activity_failures_total',
      help: 'Activity attempts that threw, by activity',
      labelNames: ['activity'] as const,
      registers,
    }),
    compensationFailures: new Counter({
      name: 'flowmart_compensation_failures_total',
      help: 'Attempts of a compensating activity (release stock, void, refund, cancel shipment) that failed',
      labelNames: ['activity'] as const,
      registers,
    }),
    confirmation: new Histogram({
      name: 'flowmart_order_confirmation_seconds',
      help: 'From the order being created to its confirmation',
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    }),
  };
}

export type ServiceMetrics = ReturnType<typeof createMetrics>;

/** Gauges of the system's state, read from PostgreSQL at scrape time (a handful of indexed aggregates). */
export function registerStateGauges(metrics: ServiceMetrics, db: Db): void {
  const registers = [metrics.registry];
  const countsBy = groupCounts(registers);
  countsBy(
    'flowmart_orders',
    'Orders by stage',
    ['stage'],
    () => db.$queryRaw`SELECT stage, count(*)::int AS n FROM orders GROUP BY stage`
  );
  new Gauge({
    name: 'flowmart_orders_needing_attention',
    help: 'Orders flagged NeedsAttention (npm run ops -- attention lists them)',
    registers,
    async collect() {
      this.set(await db.order.count({ where: { needsAttention: true } }));
    },
  });
  new Gauge({
    name: 'flowmart_outbox_lag_seconds',
    help: 'Age of the oldest outbox row not yet published (0 when none waits); dead-lettered rows excluded',
    registers,
    async collect() {
      const [row] = await db.$queryRaw<{ lag: number }[]>`
        SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS lag
        FROM outbox WHERE published_at IS NULL AND dead_lettered_at IS NULL`;
      this.set(row?.lag ?? 0);
    },
  });
  new Gauge({
    name: 'flowmart_outbox_rows',
    help: 'Outbox rows waiting: unpublished, backing_off (refused, waiting for next_attempt_at) or dead_lettered',
    labelNames: ['state'] as const,
    registers,
    async collect() {
      const [row] = await db.$queryRaw<{ unpublished: number; backing_off: number; dead_lettered: number }[]>`
        SELECT count(*) FILTER (WHERE dead_lettered_at IS NULL)::int AS unpublished,
               count(*) FILTER (WHERE dead_lettered_at IS NULL AND next_attempt_at > now())::int AS backing_off,
               count(*) FILTER (WHERE dead_lettered_at IS NOT NULL)::int AS dead_lettered
        FROM outbox WHERE published_at IS NULL`;
      for (const state of ['unpublished', 'backing_off', 'dead_lettered'] as const)
        this.set({ state }, row?.[state] ?? 0);
    },
  });
  countsBy(
    'flowmart_parked_messages',
    'Inbound messages parked for an operator (npm run ops -- parked list), by consumer',
    ['consumer'],
    () => db.$queryRaw`SELECT consumer, count(*)::int AS n FROM parked_messages GROUP BY consumer`
  );
  countsBy(
    'flowmart_payments',
    'Payment records by kind (authorization, capture, void, refund) and status: the outcomes of the gateway',
    ['kind', 'status'],
    () => db.$queryRaw`SELECT kind, status, count(*)::int AS n FROM payments GROUP BY kind, status`
  );
}

/**
 * Declares gauges of row counts per group, read at scrape time: `count` answers one row per group with its label
 * values and `n`. The gauge is reset first, so a group that has no rows any more disappears instead of keeping its
 * last count.
 */
function groupCounts(registers: Registry[]) {
  return <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    count: () => Promise<(Record<L, string> & { n: number })[]>
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        const rows = await count();
        this.reset();
        for (const row of rows) {
          const labels: Partial<Record<L, string>> = {};
          for (const label of labelNames) labels[label] = row[label];
          this.set(labels, row.n);
        }
      },
    });
}
