import { randomUUID } from 'node:crypto';
import type { Worker } from '@temporalio/worker';
import { streamConfigs } from '../../src/events/streams.js';
import { shipmentIdFor } from '../../src/shipping/shipments.js';
import { reconcileOrders } from '../../src/worker/reconciler.js';
import {
  amendOrderSignal,
  cancelOrderSignal,
  orderWorkflowId,
  recoverWorkflowId,
} from '../../src/workflows/messages.js';
import type { InvariantResult, Observed } from '../support/invariants.js';
import { checkInvariants } from '../support/invariants.js';
import type { HttpResult, TestSystem } from '../support/system.js';
import { createProduct, http, orderBody } from '../support/system.js';
import type { ChaosServers, RoleProcess } from './world.js';

export interface ChaosOptions {
  seed: number;
  orders: number;
  /** The operations phase ends after this long even if fewer orders were placed. */
  minutes: number;
  /** Customers acting at once; by default one per 40 orders (at least 4), so a long run keeps its pace. */
  actors?: number;
}

export interface ChaosSummary {
  seed: number;
  orders: number;
  ops: number;
  faults: number;
  /** Faults injected per kind. */
  faultKinds: Map<FaultKind, number>;
  violations: number;
  results: InvariantResult[];
}

/** What a run may break: its own servers (see world.ts) and the processes of the deployment. */
export interface ChaosWorld {
  servers: ChaosServers;
  /** A worker process as deployed, killed with SIGKILL; the in-process worker is stopped gracefully. */
  worker: RoleProcess;
  relay: RoleProcess;
  inProcessWorker: Worker;
}

export const FAULT_KINDS = [
  'worker-restart',
  'worker-kill',
  'relay-kill',
  'pg-terminate',
  'temporal-restart',
  'nats-outage',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export interface Fault {
  /** When, from the start of the operations. */
  atMs: number;
  kind: FaultKind;
  /** How long the stopped thing stays down. */
  downMs: number;
}

const FAULT_WEIGHTS: Record<FaultKind, number> = {
  'worker-restart': 2,
  'worker-kill': 2,
  'relay-kill': 2,
  'pg-terminate': 4,
  'temporal-restart': 1,
  'nats-outage': 1,
};
/** The streams' duplicate window: one NATS outage of a long run outlasts it, so relays re-publish after it. */
const DUPLICATE_WINDOW_MS = (streamConfigs('chaos')[0]?.duplicate_window ?? 0) / 1_000_000;

/**
 * The run's faults, from the seed alone: the same seed gives the same kinds, order, times and durations. A run long
 * enough for it gets one NATS outage longer than the duplicate window; the other NATS outages never overlap it.
 */
export function faultSchedule(seed: number, minutes: number): Fault[] {
  const rng = generator(seed * 17 + 7);
  const horizon = minutes * 60_000;
  const weighted = FAULT_KINDS.flatMap((kind) => Array<FaultKind>(FAULT_WEIGHTS[kind]).fill(kind));
  const longOutage = horizon >= 2 * DUPLICATE_WINDOW_MS ? rng.int(horizon * 0.1, horizon * 0.3) : undefined;
  const longEnd = (longOutage ?? 0) + DUPLICATE_WINDOW_MS + 5_000;
  const schedule: Fault[] = [];
  let natsBackAt = 0;
  for (let at = rng.int(1_000, 4_000); at < horizon; at += rng.int(1_000, 4_000)) {
    if (longOutage !== undefined && natsBackAt <= longOutage && at >= longOutage) {
      schedule.push({ atMs: longOutage, kind: 'nats-outage', downMs: DUPLICATE_WINDOW_MS + 5_000 });
      natsBackAt = longEnd;
    }
    const kind = rng.pick(weighted);
    const downMs = kind === 'nats-outage' ? rng.int(1_000, 8_000) : kind === 'pg-terminate' ? 0 : rng.int(0, 2_000);
    if (kind === 'nats-outage') {
      const overlapsLong = longOutage !== undefined && at + downMs >= longOutage && at <= longEnd;
      if (at < natsBackAt || overlapsLong) continue;
      natsBackAt = at + downMs;
    }
    schedule.push({ atMs: at, kind, downMs });
  }
  return schedule;
}

/** The timings a chaos run needs: backorders give up quickly, compensations ask an operator after 3 tries. */
export const CHAOS_CONFIG = { BACKORDER_WINDOW: '5s', COMPENSATION_MAX_ATTEMPTS: '3', ORDER_CREATE_WAIT: '5s' };

/**
 * The shipment a carrier update with `status` is about, as the carrier knows it: the order's first parcel short of
 * it (a split order ships several; an amendment while fulfilling replaces them).
 */
async function shipmentOf(system: TestSystem, orderId: string, status: string): Promise<string> {
  const shipments = await system.resources.db.shipment.findMany({
    where: { orderId },
    orderBy: { warehouseId: 'asc' },
    select: { id: true, status: true },
  });
  const short = shipments.find((shipment) =>
    status === 'shipped' ? shipment.status === 'REQUESTED' : !['DELIVERED', 'CANCELLED'].includes(shipment.status)
  );
  return (short ?? shipments[0])?.id ?? shipmentIdFor(orderId);
}

/** mulberry32: a tiny seeded generator, so a seed replays the same choices. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}
type Rng = ReturnType<typeof generator>;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An answer as the invariants keep it: a problem document's code and message, and the request id to find it by. */
function answer(what: string, result: HttpResult): Observed['responses'][number] {
  const { code, message } = (result.body ?? {}) as { code?: unknown; message?: unknown };
  const requestId = result.headers.get('x-request-id');
  return {
    what,
    status: result.status,
    retryAfter: result.headers.has('retry-after'),
    ...(result.status >= 400
      ? { problem: `${String(code)}: ${String(message)}${requestId ? ` (request ${requestId})` : ''}` }
      : {}),
  };
}
const PAYMENT_TOKENS = ['tok_visa', 'tok_visa', 'tok_visa', 'tok_mastercard', 'tok_chargeDeclined'] as const;
const CARRIER_STATUSES = ['shipped', 'shipped', 'in_transit', 'delivered', 'failed', 'returned'] as const;

export async function runChaos(system: TestSystem, world: ChaosWorld, options: ChaosOptions): Promise<ChaosSummary> {
  const observed: Observed = { stockAdded: new Map(), responses: [], orderIds: [] };
  const counts = { ops: 0, faults: 0, byKind: new Map<FaultKind, number>() };
  const operator = system.tokens.operator;
  const products: string[] = [];
  const setup = generator(options.seed);
  for (let i = 0; i < Math.max(3, Math.ceil(options.orders / 8)); i++) {
    const stock = setup.int(2, 12);
    const product = await createProduct(system, stock, setup.int(100, 5000));
    products.push(product.id);
    observed.stockAdded.set(product.id, stock);
  }

  /** An HTTP call retried with the same Idempotency-Key while the answer is 503, as clients are told to. */
  async function call(what: string, method: string, path: string, body: unknown, token = operator) {
    const key = randomUUID();
    let result: HttpResult | undefined;
    for (let attempt = 0; attempt < 6; attempt++) {
      result = await http(system, method, path, { body, token, headers: { 'idempotency-key': key } });
      observed.responses.push(answer(what, result));
      if (result.status !== 503) break;
      await sleep(300);
    }
    return result!;
  }

  const temporal = system.resources.temporal.workflow;
  const ended = Date.now() + options.minutes * 60_000;
  let placing = 0;
  const operations: ((rng: Rng) => Promise<void>)[] = [
    async (rng) => {
      if (placing >= options.orders) return;
      placing += 1;
      const customerId = randomUUID();
      const items = [...new Set([rng.pick(products), rng.pick(products)])].map((productId) => ({
        productId,
        quantity: rng.int(1, 3),
      }));
      const body = orderBody(customerId, items, rng.pick(PAYMENT_TOKENS));
      const result = await call('place', 'POST', '/v1/orders', body, await system.tokens.customer(customerId));
      if (typeof result.body.orderId === 'string') observed.orderIds.push(result.body.orderId);
    },
    async (rng) => {
      const orderId = anyOrder(rng);
      if (!orderId) return;
      const items = [{ productId: rng.pick(products), quantity: rng.int(1, 3) }];
      if (rng.chance(0.5)) await call('amend', 'POST', `/v1/orders/${orderId}/amendments`, { items });
      else
        await temporal
          .getHandle(orderWorkflowId(orderId))
          .signal(amendOrderSignal, { requestId: randomUUID(), items })
          .catch(() => undefined);
    },
    async (rng) => {
      const orderId = anyOrder(rng);
      if (!orderId) return;
      const how = rng.int(0, 2);
      const workflow = temporal.getHandle(orderWorkflowId(orderId));
      if (how === 0) await call('cancel', 'POST', `/v1/orders/${orderId}/cancel`, {});
      else if (how === 1)
        await workflow
          .signal(cancelOrderSignal, { requestId: randomUUID(), reason: 'CUSTOMER_REQUESTED' })
          .catch(() => undefined);
      else await workflow.cancel().catch(() => undefined);
    },
    async (rng) => {
      const orderId = anyOrder(rng);
      if (!orderId) return;
      const status = rng.pick(CARRIER_STATUSES);
      const path = `/v1/shipments/${await shipmentOf(system, orderId, status)}/status`;
      await call('carrier', 'PUT', path, { status });
      if (rng.chance(0.3)) await call('carrier-duplicate', 'PUT', path, { status });
    },
    async (rng) => {
      const productId = rng.pick(products);
      const quantityChange = rng.int(1, 5);
      const result = await call('restock', 'PUT', `/v1/inventory/${productId}`, {
        warehouseId: 'WH-TEST',
        quantityChange,
      });
      if (result.status === 200)
        observed.stockAdded.set(productId, observed.stockAdded.get(productId)! + quantityChange);
    },
    async (rng) => {
      // An operator's terminate: the reconciler must repair what the workflow left.
      const orderId = anyOrder(rng);
      if (orderId && rng.chance(0.3))
        await temporal
          .getHandle(orderWorkflowId(orderId))
          .terminate('chaos: operator terminate')
          .catch(() => undefined);
    },
  ];
  const weights = [6, 2, 2, 4, 1, 1];
  const weighted = operations.flatMap((operation, i) => Array<typeof operation>(weights[i]!).fill(operation));

  function anyOrder(rng: Rng): string | undefined {
    return observed.orderIds.length > 0 ? rng.pick(observed.orderIds) : undefined;
  }

  // Every order placed, then as many operations again on them: amendments, cancels and carriers race the saga.
  const busy = () => Date.now() < ended && (placing < options.orders || counts.ops < options.orders * 4);
  async function actor(index: number) {
    const rng = generator(options.seed * 31 + index + 1);
    while (busy()) {
      await rng
        .pick(weighted)(rng)
        .catch(() => undefined);
      counts.ops += 1;
      await sleep(rng.int(0, 200));
    }
  }

  const schedule = faultSchedule(options.seed, options.minutes);
  const started = Date.now();
  let natsOutage: Promise<void> | undefined;
  let inProcessWorker = world.inProcessWorker;
  /** A Temporal restart can make the in-process worker give up: it is started again, as a supervisor would. */
  async function keepInProcessWorker() {
    if (inProcessWorker.getState() === 'RUNNING') return;
    await system.stopWorkers();
    inProcessWorker = await system.startWorker();
  }
  async function injectFault(fault: Fault) {
    switch (fault.kind) {
      case 'worker-restart':
        await system.stopWorkers();
        await sleep(fault.downMs);
        inProcessWorker = await system.startWorker();
        return;
      case 'worker-kill':
        await world.worker.kill();
        await sleep(fault.downMs);
        await world.worker.start();
        return;
      case 'relay-kill':
        await world.relay.kill();
        await sleep(fault.downMs);
        await world.relay.start();
        return;
      case 'pg-terminate':
        // Only this run's database: other runs and the shared server are left alone.
        await system.resources.db.$executeRaw`
          SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()`.catch(() => undefined);
        return;
      case 'temporal-restart':
        await world.servers.restartTemporal(fault.downMs);
        await keepInProcessWorker();
        return;
      case 'nats-outage':
        // In the background: a long outage overlaps the other faults, as it would in production.
        await natsOutage;
        natsOutage = (async () => {
          await world.servers.nats.kill();
          await sleep(fault.downMs);
          await world.servers.nats.start();
        })();
        return;
    }
  }
  async function faults() {
    for (const fault of schedule) {
      const wait = started + fault.atMs - Date.now();
      if (wait > 0) await sleep(wait);
      if (!busy()) break;
      counts.faults += 1;
      counts.byKind.set(fault.kind, (counts.byKind.get(fault.kind) ?? 0) + 1);
      await injectFault(fault);
    }
    // Everything back up before the system is left to settle.
    await natsOutage;
    await world.worker.start();
    await world.relay.start();
    await keepInProcessWorker();
  }

  await Promise.all([
    ...Array.from({ length: options.actors ?? Math.max(4, Math.ceil(options.orders / 40)) }, (_, i) => actor(i)),
    faults(),
  ]);
  await quiesce(system, observed);
  const results = await checkInvariants(system, observed);
  return {
    seed: options.seed,
    orders: observed.orderIds.length,
    ops: counts.ops,
    faults: counts.faults,
    faultKinds: counts.byKind,
    violations: results.reduce((sum, result) => sum + result.violations.length, 0),
    results,
  };
}

/**
 * Brings every order to rest: the carrier ships and delivers what waits for it, the reconciler repairs closed
 * workflows, and the relay drains the outbox. Bounded: whatever is not at rest by then is what the checks report.
 */
async function quiesce(system: TestSystem, observed: Observed): Promise<void> {
  const db = system.resources.db;
  const until = Date.now() + 120_000;
  const carrier = async (orderId: string, status: string) =>
    http(system, 'PUT', `/v1/shipments/${await shipmentOf(system, orderId, status)}/status`, {
      body: { status },
      token: system.tokens.operator,
    }).then((r) => observed.responses.push(answer('quiesce-carrier', r)));
  for (;;) {
    const open = await db.order.findMany({
      where: { id: { in: observed.orderIds }, stage: { notIn: ['COMPLETED', 'CANCELLED'] }, needsAttention: false },
    });
    // A Temporal server just restarted answers 'shard status unknown' for a while: the next pass tries again.
    const pass = await reconcileOrders({
      client: system.resources.temporal,
      db,
      taskQueue: system.config.TEMPORAL_TASK_QUEUE,
    }).catch(() => ({ recovering: [] as string[] }));
    // Bounded like the rest: a recovery that waits for an operator must not hold the run forever.
    await Promise.race([
      Promise.all(
        pass.recovering.map((orderId) =>
          system.resources.temporal.workflow
            .getHandle(recoverWorkflowId(orderId))
            .result()
            .catch(() => undefined)
        )
      ),
      sleep(Math.max(0, until - Date.now())),
    ]);
    if (open.length === 0 || Date.now() > until) break;
    // A few carriers at once: one at a time, a pass over hundreds of orders would outlast the deadline.
    for (let i = 0; i < open.length; i += 8) {
      await Promise.all(
        open.slice(i, i + 8).map(async (order) => {
          if (order.stage === 'FULFILLING') await carrier(order.id, 'shipped');
          else if (order.stage === 'SHIPPED') await carrier(order.id, 'delivered');
        })
      );
      if (Date.now() > until) break;
    }
    await sleep(1000);
  }
  const drained = Date.now() + 30_000;
  while (Date.now() < drained) {
    const unpublished = await db.outbox.count({
      where: { publishedAt: null, aggregateId: { in: [...observed.orderIds, ...observed.stockAdded.keys()] } },
    });
    if (unpublished === 0) break;
    await sleep(500);
  }
}

export function summaryLines(summary: ChaosSummary): string[] {
  return [
    ...summary.results.map((result) => {
      const examples = result.violations.slice(0, 3).join('; ');
      return `${result.name}: ${result.violations.length}${examples ? ` (${examples})` : ''}`;
    }),
    `faults: ${FAULT_KINDS.map((kind) => `${kind}=${summary.faultKinds.get(kind) ?? 0}`).join(' ')}`,
    `logs: .data/chaos-${summary.seed}-{api,worker,relay,temporal}.log (a problem's request id names it in the api log)`,
    `chaos: seed=${summary.seed} orders=${summary.orders} ops=${summary.ops} faults=${summary.faults} violations=${summary.violations}`,
  ];
}
