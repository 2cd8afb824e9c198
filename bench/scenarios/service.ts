import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cpuPerItem } from '../measure/cpu.js';
import type { Monitor } from '../measure/monitor.js';
import { dbDelta } from '../measure/monitor.js';
import { describeSample } from '../lib/history.js';
import { log, sleep } from '../lib/log.js';
import { startProfile, summariseProfile, writeProfile } from '../lib/profile.js';
import { round } from '../lib/stats.js';
import type { Bench, Run } from './context.js';
import { loop, settledDbCounters, snap } from './context.js';
import { progressLine, record, sortedSamples, summary } from './record.js';

/** Every order parked at FULFILLING (its workflow waits for dispatch) and every outbox row published. */
async function settleOrders(monitor: Monitor, orderIds: string[], timeoutMs = 120_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const { rows } = await monitor.query<{ moving: number; unpublished: number }>(
      `SELECT (SELECT count(*)::int FROM orders
               WHERE id = ANY($1::uuid[]) AND stage NOT IN ('FULFILLING', 'CANCELLED')) AS moving,
              (SELECT count(*)::int FROM outbox WHERE published_at IS NULL) AS unpublished`,
      [orderIds]
    );
    const { moving, unpublished } = rows[0]!;
    if (moving === 0 && unpublished === 0) break;
    if (performance.now() - started > timeoutMs) {
      log(`warning: not settled after ${timeoutMs} ms (${moving} orders moving, ${unpublished} events unpublished)`);
      break;
    }
    await sleep(50);
  }
  // The FULFILLING row is written by a local activity; its workflow task completes a moment later.
  await sleep(250);
  return performance.now() - started;
}

/** S-E2E: closed loops POSTing orders and moving on when the order row reads CONFIRMED. */
export async function serviceScenario(bench: Bench, name: string, run: Run) {
  const dbBefore = run.db ? await settledDbCounters(bench) : undefined;
  bench.relay.start();
  bench.loopDelay.reset();
  const stopProfile = run.profile ? await startProfile() : undefined;
  const before = await snap(bench);
  const result = await bench.driver.run({
    type: 'service',
    ...loop(bench, 'order', run),
    productIds: bench.products.map((product) => product.id),
    lines: bench.options.lines,
    prefer: bench.options.confirm === 'prefer',
  });
  const confirmed = await snap(bench);
  const settleMs = await settleOrders(bench.monitor, result.ids);
  const settled = await snap(bench);
  if (stopProfile) {
    const profile = await stopProfile();
    const file = join(bench.resultsDir, `${bench.runId}-s-e2e.cpuprofile`);
    writeProfile(profile, file);
    bench.cpuProfile = { file, byCategory: summariseProfile(profile) };
  }
  const entry = record(name, 'S-E2E', result, run, cpuPerItem(before, confirmed, result.ok), bench.loopDelay);
  entry.cpuMsPerItemSettled = cpuPerItem(before, settled, result.ok);
  entry.settleMs = round(settleMs);
  entry.acceptMs = summary(result.acceptMs);
  entry.eventMs = { ...summary(result.eventMs), missing: result.eventsMissing };
  entry.eventLagMs = summary(result.eventLagMs);
  entry.samples.acceptMs = sortedSamples(result.acceptMs);
  entry.samples.eventMs = sortedSamples(result.eventMs);
  entry.samples.eventLagMs = sortedSamples(result.eventLagMs);
  entry.statuses = result.statuses;
  if (dbBefore) {
    const dbAfter = await settledDbCounters(bench);
    entry.dbPerItem = dbDelta(dbBefore, dbAfter, result.pollQueries, result.ok);
    bench.relay.start();
  }
  if (run.keep) {
    const sampled = result.ids.slice(0, bench.options.sample).map((id) => `order-${id}`);
    entry.describe = await describeSample(bench.client, sampled);
    bench.scenarios.push(entry);
    log(progressLine(entry));
  }
  return { entry, result };
}
