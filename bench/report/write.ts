import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { environment } from '../lib/env.js';
import { loadAverage } from '../lib/proc.js';
import { startedAt } from '../lib/log.js';
import type { Measurements } from '../scenarios/plan.js';
import type { World } from '../setup/world.js';
import { ROOT } from '../setup/database.js';
import { latencyThroughputSvg, sweepSeries } from './plot.js';
import { headline, summaryLine } from './ratios.js';
import { tables } from './tables.js';

function workerOptionsSummary(options: object): Record<string, unknown> {
  const values = options as Record<string, unknown>;
  const keys = [
    'maxCachedWorkflows',
    'reuseV8Context',
    'maxConcurrentWorkflowTaskPolls',
    'maxConcurrentActivityTaskPolls',
    'workflowTaskPollerBehavior',
    'activityTaskPollerBehavior',
    'maxHeartbeatThrottleIntervalMs',
    'stickyQueueScheduleToStartTimeoutMs',
    'tuner',
  ];
  return Object.fromEntries(keys.filter((key) => values[key] !== undefined).map((key) => [key, values[key]]));
}

/**
 * Writes the results file and the plot to bench-results/, then prints the tables, the CPU profile if taken, the
 * files' paths and, last, the one summary line.
 */
export async function report(world: World, measured: Measurements, loadAverageAtStart: number[]): Promise<void> {
  const { bench, temporal, service } = world;
  const { options, scenarios } = bench;
  const ratios = headline(scenarios, temporal.backend, options.concurrency);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(bench.resultsDir, `${stamp}.json`);
  const plot = join(bench.resultsDir, `${stamp}-latency-throughput.svg`);
  const postgres = await bench.monitor.serverSettings();
  const results = {
    runId: bench.runId,
    startedAt: startedAt(),
    options,
    environment: {
      ...environment(ROOT, temporal.cli),
      temporalServer: { backend: temporal.backend, mode: temporal.mode, address: temporal.address },
      postgres,
      natsServer: service.nats.info?.version ?? '?',
      loadAverageAtStart,
      loadAverageAtEnd: loadAverage(),
    },
    service: {
      config: service.config,
      worker: workerOptionsSummary(service.orderWorker.options),
      floorWorker: workerOptionsSummary(world.floorWorker.options),
    },
    orderHistory: measured.orderShape,
    floorHistory: measured.floorShapes,
    floorInput: measured.floorInput,
    parkInput: measured.parkInput,
    idle: measured.idle,
    ...(bench.cpuProfile ? { cpuProfile: bench.cpuProfile } : {}),
    scenarios,
    ratios,
  };
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  const title = `Latency against throughput, backend ${temporal.backend}, ${new Date().toISOString().slice(0, 10)}`;
  writeFileSync(plot, latencyThroughputSvg(sweepSeries(scenarios), title));
  const out = process.stdout;
  out.write(tables({ ...measured, scenarios, headline: ratios, concurrency: options.concurrency }));
  if (bench.cpuProfile) {
    out.write('\nCPU profile of this process during S-E2E (main thread; % of sampled non-idle time)\n');
    for (const entry of bench.cpuProfile.byCategory) {
      out.write(`${String(entry.percent).padStart(6)} %  ${String(entry.ms).padStart(7)} ms  ${entry.category}\n`);
    }
    out.write(`profile: ${bench.cpuProfile.file} (open in Chrome DevTools)\n`);
  }
  if (postgres['autovacuum'] === 'off') {
    out.write(
      '\nnote: PostgreSQL runs with autovacuum off: compare these figures only with runs on the same settings\n'
    );
  }
  out.write(`\nraw results: ${file}\nplot: ${plot}\n${summaryLine(ratios)}\n`);
  if (temporal.logFile) rmSync(temporal.logFile, { force: true });
}
