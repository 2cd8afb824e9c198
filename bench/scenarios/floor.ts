import { performance } from 'node:perf_hooks';
import type { Client } from '@temporalio/client';
import { cpuPerItem } from '../measure/cpu.js';
import { describeSample } from '../lib/history.js';
import { log, sleep } from '../lib/log.js';
import type { FloorWorkflowStart } from '../lib/protocol.js';
import { round } from '../lib/stats.js';
import type { Bench, Run } from './context.js';
import { loop, snap } from './context.js';
import type { ScenarioKind } from './record.js';
import { progressLine, record, sortedSamples, summary } from './record.js';

/** Every floor workflow of a type closed (the loop moved on at the confirmation point; the last tasks ran on). */
async function settleFloor(client: Client, workflowType: string, timeoutMs = 120_000): Promise<number> {
  const started = performance.now();
  for (;;) {
    const { count } = await client.workflow.count(`WorkflowType = '${workflowType}' AND ExecutionStatus = 'Running'`);
    if (count === 0) break;
    if (performance.now() - started > timeoutMs) {
      log(`warning: ${count} ${workflowType} workflows still running after ${timeoutMs} ms`);
      break;
    }
    await sleep(50);
  }
  return performance.now() - started;
}

/**
 * A floor (F-T, F-T-park, F-T-naive): closed loops starting the floor workflow and moving on when its confirming
 * activity ran. The relay is paused: the floors write nothing, and its polling is not theirs to pay.
 */
export async function floorScenario(
  bench: Bench,
  name: string,
  kind: Exclude<ScenarioKind, 'S-E2E' | 'F-P'>,
  workflow: FloorWorkflowStart,
  run: Run
) {
  await bench.relay.stop();
  bench.loopDelay.reset();
  const before = await snap(bench);
  const result = await bench.driver.run({ type: 'floor', ...loop(bench, 'floor', run), workflow });
  const confirmed = await snap(bench);
  const settleMs = await settleFloor(bench.client, workflow.workflowType);
  const closed = await snap(bench);
  bench.relay.start();
  const entry = record(name, kind, result, run, cpuPerItem(before, confirmed, result.ok), bench.loopDelay);
  entry.cpuMsPerItemSettled = cpuPerItem(before, closed, result.ok);
  entry.settleMs = round(settleMs);
  entry.acceptMs = summary(result.acceptMs);
  entry.samples.acceptMs = sortedSamples(result.acceptMs);
  if (run.keep) {
    entry.describe = await describeSample(bench.client, result.ids.slice(0, bench.options.sample));
    bench.scenarios.push(entry);
    log(progressLine(entry));
  }
  return { entry, result };
}
