import { itemsAt } from '../cli/options.js';
import { cpuPerItem } from '../measure/cpu.js';
import type { HistoryShape, OrderHistory } from '../lib/history.js';
import { orderHistory, workflowShape } from '../lib/history.js';
import { log, sleep } from '../lib/log.js';
import type { FloorWorkflowStart } from '../lib/protocol.js';
import { round } from '../lib/stats.js';
import type { FloorInput } from '../workflows/floor.js';
import type { Bench } from './context.js';
import { snap } from './context.js';
import { floorScenario } from './floor.js';
import { pgFloorScenario } from './pg.js';
import { serviceScenario } from './service.js';

export interface Idle {
  seconds: number;
  benchCores: number;
  temporalServerCores: number;
  postgresCores: number;
  otherCores: number;
}

export interface Measurements {
  orderShape: OrderHistory;
  floorShapes: Record<string, HistoryShape>;
  floorInput: FloorInput;
  parkInput: FloorInput;
  idle: Idle;
}

const NAIVE: FloorWorkflowStart = { workflowType: 'NaiveCheckoutWorkflow', args: [] };
const floorOf = (input: FloorInput): FloorWorkflowStart => ({ workflowType: 'FloorWorkflow', args: [input] });

/** What the idle system burns (pollers, relay polling, the server's own timers), in cores. */
async function idleBurn(bench: Bench): Promise<Idle> {
  const from = await snap(bench);
  await sleep(3_000);
  const to = await snap(bench);
  const cpu = cpuPerItem(from, to, 1);
  const seconds = (to.at - from.at) / 1000;
  return {
    seconds: round(seconds, 2),
    benchCores: round(cpu.bench / 1000 / seconds, 3),
    temporalServerCores: round(cpu.temporalServer / 1000 / seconds, 3),
    postgresCores: round(cpu.postgres / 1000 / seconds, 3),
    otherCores: cpu.otherCores,
  };
}

/** F-T and F-T-park copy the order's shape from the history of a real (warm-up) order. */
function floorInputs(order: OrderHistory, withLocals: boolean): { floorInput: FloorInput; parkInput: FloorInput } {
  const { toConfirmed, parked } = order;
  // The driver moves on when the confirming activity ran: confirmOrder's counterpart in both floors.
  const confirmAfter = toConfirmed.activities.length - 1;
  return {
    floorInput: {
      activities: toConfirmed.activities.length,
      localAfter: withLocals ? toConfirmed.localAfter : [],
      confirmAfter,
    },
    parkInput: { activities: parked.activities.length, localAfter: withLocals ? parked.localAfter : [], confirmAfter },
  };
}

/**
 * The run: warm-up (discarded), idle burn, then at each concurrency of the sweep F-T-naive, S-E2E and F-T in
 * turn (so that drift over the run touches all three alike), then F-T-park and F-P at --concurrency. PostgreSQL
 * counters and the CPU profile are taken around S-E2E at --concurrency.
 */
export async function runPlan(bench: Bench): Promise<Measurements> {
  const { options } = bench;
  const main = options.concurrency;
  const warmup = { items: Math.max(options.warmup, 1), concurrency: main, keep: false };
  log(`warm-up: ${warmup.items} of each`);
  const warm = await serviceScenario(bench, 'S-E2E warm-up', warmup);
  if (warm.result.ok === 0) throw new Error(`no warm-up order was confirmed: ${warm.result.errorSamples.join('; ')}`);
  const orderShape = await orderHistory(bench.client, `order-${warm.result.ids[0]}`);
  const { toConfirmed } = orderShape;
  log(
    `one order until CONFIRMED: ${toConfirmed.events} history events, activities [${toConfirmed.activities.join(', ')}], ` +
      `${toConfirmed.localActivities} local activities (after activity #${toConfirmed.localAfter.join(', #')}), ` +
      `${toConfirmed.workflowTasks} workflow tasks, ${toConfirmed.searchAttributeUpserts} search-attribute upserts`
  );
  const { floorInput, parkInput } = floorInputs(orderShape, options.floorLocals);
  log(`F-T floor: ${JSON.stringify(floorInput)}; F-T-park floor: ${JSON.stringify(parkInput)}`);
  await floorScenario(bench, 'F-T warm-up', 'F-T', floorOf(floorInput), warmup);
  await floorScenario(bench, 'F-T-naive warm-up', 'F-T-naive', NAIVE, warmup);

  const idle = await idleBurn(bench);
  log(`idle: ${JSON.stringify(idle)}`);

  const firstIds: Record<string, string> = {};
  for (const concurrency of options.sweep) {
    const run = { items: itemsAt(options, concurrency), concurrency, keep: true };
    const atMain = concurrency === main;
    const naive = await floorScenario(bench, `F-T-naive C=${concurrency}`, 'F-T-naive', NAIVE, run);
    await serviceScenario(bench, `S-E2E C=${concurrency}`, {
      ...run,
      db: atMain,
      profile: atMain && options.cpuProfile,
    });
    const ft = await floorScenario(bench, `F-T C=${concurrency}`, 'F-T', floorOf(floorInput), run);
    firstIds['F-T-naive'] ??= naive.result.ids[0]!;
    firstIds['F-T'] ??= ft.result.ids[0]!;
  }
  const mainRun = { items: itemsAt(options, main), concurrency: main, keep: true };
  const park = await floorScenario(bench, `F-T-park C=${main}`, 'F-T-park', floorOf(parkInput), mainRun);
  firstIds['F-T-park'] = park.result.ids[0]!;
  const floorShapes: Record<string, HistoryShape> = {};
  for (const [name, id] of Object.entries(firstIds)) floorShapes[name] = await workflowShape(bench.client, id);

  if (!options.skipFp) await pgFloorScenario(bench, mainRun);
  return { orderShape, floorShapes, floorInput, parkInput, idle };
}
