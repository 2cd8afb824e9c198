import { randomUUID } from 'node:crypto';
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

export interface ChaosOptions {
  seed: number;
  orders: number;
  /** The operations phase ends after this long even if fewer orders were placed. */
  minutes: number;
  /** Customers acting at once. */
  actors?: number;
}

export interface ChaosSummary {
  seed: number;
  orders: number;
  ops: number;
  faults: number;
  violations: number;
  results: InvariantResult[];
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
const PAYMENT_TOKENS = ['tok_visa', 'tok_visa', 'tok_visa', 'tok_mastercard', 'tok_chargeDeclined'] as const;
const CARRIER_STATUSES = ['shipped', 'shipped', 'in_transit', 'delivered', 'failed', 'returned'] as const;

export async function runChaos(system: TestSystem, options: ChaosOptions): Promise<ChaosSummary> {
  const observed: Observed = { stockAdded: new Map(), responses: [], orderIds: [] };
  const counts = { ops: 0, faults: 0 };
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
      observed.responses.push({ what, status: result.status, retryAfter: result.headers.has('retry-after') });
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

  async function faults() {
    const rng = generator(options.seed * 17 + 7);
    while (busy()) {
      await sleep(rng.int(500, 2500));
      if (!busy()) break;
      const fault = rng.int(0, 2);
      counts.faults += 1;
      if (fault === 0) {
        await system.stopWorkers();
        await sleep(rng.int(100, 1500));
        await system.startWorker();
      } else if (fault === 1) {
        await system.relay?.stop();
        await sleep(rng.int(100, 2000));
        system.relay?.start();
      } else {
        // Only this run's database: other runs and the shared server are left alone.
        await system.resources.db.$executeRaw`
          SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()`.catch(() => undefined);
      }
    }
  }

  await Promise.all([...Array.from({ length: options.actors ?? 4 }, (_, i) => actor(i)), faults()]);
  await quiesce(system, observed);
  const results = await checkInvariants(system, observed);
  return {
    seed: options.seed,
    orders: observed.orderIds.length,
    ...counts,
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
    }).then((r) =>
      observed.responses.push({ what: 'quiesce-carrier', status: r.status, retryAfter: r.headers.has('retry-after') })
    );
  for (;;) {
    const open = await db.order.findMany({
      where: { id: { in: observed.orderIds }, stage: { notIn: ['COMPLETED', 'CANCELLED'] }, needsAttention: false },
    });
    const pass = await reconcileOrders({
      client: system.resources.temporal,
      db,
      taskQueue: system.config.TEMPORAL_TASK_QUEUE,
    });
    await Promise.all(
      pass.recovering.map((orderId) =>
        system.resources.temporal.workflow
          .getHandle(recoverWorkflowId(orderId))
          .result()
          .catch(() => undefined)
      )
    );
    if (open.length === 0 || Date.now() > until) break;
    for (const order of open) {
      if (order.stage === 'FULFILLING') await carrier(order.id, 'shipped');
      else if (order.stage === 'SHIPPED') await carrier(order.id, 'delivered');
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
    `chaos: seed=${summary.seed} orders=${summary.orders} ops=${summary.ops} faults=${summary.faults} violations=${summary.violations}`,
  ];
}
