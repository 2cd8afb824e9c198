import pg from 'pg';
import { cpuPerItem } from '../measure/cpu.js';
import { dbDelta } from '../measure/monitor.js';
import { log } from '../lib/log.js';
import { runPgFloor } from '../lib/pg-floor.js';
import type { Bench } from './context.js';
import { settledDbCounters, snap } from './context.js';
import { progressLine, record } from './record.js';

/** F-P: raw pg issuing one order's statements and transactions, with the relay paused (its rows are published). */
export async function pgFloorScenario(bench: Bench, run: { items: number; concurrency: number }) {
  log('F-P: raw pg, the same statements per order, relay paused');
  const pool = new pg.Pool({ connectionString: bench.databaseUrl, max: 10 });
  // An idle client whose backend is terminated (57P01) is an 'error' event: unheard, it would end the process.
  pool.on('error', (error) => log(`F-P pool: idle connection lost (${error.message}); the pool replaces it`));
  bench.cleanup.add('close F-P pool', () => pool.end());
  const dbBefore = await settledDbCounters(bench);
  bench.loopDelay.reset();
  const before = await snap(bench);
  const result = await runPgFloor(pool, {
    eventsEnv: bench.eventsEnv,
    products: bench.products,
    lines: bench.options.lines,
    orders: run.items,
    concurrency: run.concurrency,
  });
  const after = await snap(bench);
  const entry = record('F-P', 'F-P', result, run, cpuPerItem(before, after, result.ok), bench.loopDelay);
  entry.dbPerItem = dbDelta(dbBefore, await settledDbCounters(bench), 0, result.ok);
  bench.relay.start();
  bench.scenarios.push(entry);
  log(progressLine(entry));
  return entry;
}
