// The load generator, in its own process so that its CPU (HTTP client, polling, gRPC client) is measured apart from
// the service's. Started by bench/run.ts with fork(); talks over the IPC channel (see protocol.ts).
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { connect } from '@nats-io/transport-node';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import type { DriverInit, DriverReply, DriverRequest, FloorRun, RunResult, ServiceRun } from './protocol.js';

const CONFIRMED_OR_LATER = new Set(['CONFIRMED', 'FULFILLING', 'SHIPPED', 'COMPLETED']);
const FAILED = new Set(['CANCELLING', 'CANCELLED', 'BACKORDERED']);

interface World {
  init: DriverInit;
  temporal: Connection;
  client: Client;
  db: pg.Client;
  nats: NatsConnection;
  subscriptions: Subscription[];
  /** orderId -> when its OrderConfirmed event arrived (performance.now()), and its lag behind its `time`. */
  confirmedEvents: Map<string, { at: number; lagMs: number }>;
  floorConfirmations: Arrivals;
  pollQueries: number;
}

let world: World | undefined;

/** Arrival times of messages by id, and waiters for ids that have not arrived yet. */
class Arrivals {
  private readonly arrived = new Map<string, number>();
  private readonly waiting = new Map<string, (at: number) => void>();

  add(id: string, at: number): void {
    const waiter = this.waiting.get(id);
    if (waiter) {
      this.waiting.delete(id);
      waiter(at);
    } else {
      this.arrived.set(id, at);
    }
  }

  until(id: string, timeoutMs: number): Promise<number> {
    const at = this.arrived.get(id);
    if (at !== undefined) {
      this.arrived.delete(id);
      return Promise.resolve(at);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${id} not confirmed within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (arrival) => {
        clearTimeout(timer);
        resolve(arrival);
      });
    });
  }
}

function send(reply: DriverReply): void {
  process.send?.(reply);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function open(init: DriverInit): Promise<World> {
  const temporal = await Connection.connect({ address: init.temporalAddress });
  const db = new pg.Client({ connectionString: init.databaseUrl, application_name: 'bench-driver' });
  // A terminated backend (57P01) while idle is an 'error' event that would end the driver: the next query reports it.
  db.on('error', () => undefined);
  await db.connect();
  const nats = await connect({ servers: init.natsUrl, name: 'bench-driver' });
  const confirmedEvents = new Map<string, { at: number; lagMs: number }>();
  // A core subscription sees every message published to the stream's subject, without a consumer.
  const subscription = nats.subscribe(`orders.${init.eventsEnv}.events`, {
    callback: (error, message) => {
      if (error) return;
      const at = performance.now();
      try {
        const event = message.json<{ type?: string; correlationid?: string; time?: string }>();
        if (event.type === 'OrderConfirmed' && event.correlationid && !confirmedEvents.has(event.correlationid)) {
          const lagMs = performance.timeOrigin + at - Date.parse(event.time ?? '');
          confirmedEvents.set(event.correlationid, { at, lagMs });
        }
      } catch {
        // Not an event of ours.
      }
    },
  });
  const floorConfirmations = new Arrivals();
  const floorSubscription = nats.subscribe(init.floorConfirmSubject, {
    callback: (error, message) => {
      if (!error) floorConfirmations.add(message.string(), performance.now());
    },
  });
  await nats.flush();
  return {
    init,
    temporal,
    client: new Client({ connection: temporal, namespace: init.namespace }),
    db,
    nats,
    subscriptions: [subscription, floorSubscription],
    confirmedEvents,
    floorConfirmations,
    pollQueries: 0,
  };
}

/** Closed loop: `concurrency` loops, each starting its next item when the previous one finished. */
async function closedLoop(orders: number, concurrency: number, one: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const loops = Array.from({ length: Math.min(concurrency, orders) }, async () => {
    for (;;) {
      const index = next++;
      if (index >= orders) return;
      await one(index);
    }
  });
  await Promise.all(loops);
}

function emptyResult(runId: string): RunResult {
  return {
    runId,
    wallMs: 0,
    ok: 0,
    errors: 0,
    errorSamples: [],
    latencyMs: [],
    acceptMs: [],
    eventMs: [],
    eventLagMs: [],
    eventsMissing: 0,
    ids: [],
    pollQueries: 0,
    statuses: {},
  };
}

function recordError(result: RunResult, error: unknown): void {
  result.errors += 1;
  if (result.errorSamples.length < 5) result.errorSamples.push(error instanceof Error ? error.message : String(error));
}

async function runFloor(w: World, run: FloorRun): Promise<RunResult> {
  const result = emptyResult(run.runId);
  const started = performance.now();
  let finished = started;
  await closedLoop(run.orders, run.concurrency, async (index) => {
    const workflowId = `${run.runId}-${index}`;
    const t0 = performance.now();
    try {
      const handle = await w.client.workflow.start(run.workflow.workflowType, {
        workflowId,
        taskQueue: w.init.floorTaskQueue,
        args: run.workflow.args,
      });
      const t1 = performance.now();
      // Not handle.result(): the loop moves on at the confirmation point, as it does for orders, and the
      // workflow's last task runs on meanwhile (bench/run.ts waits for all of them before reading the CPU).
      const t2 = await w.floorConfirmations.until(handle.workflowId, run.timeoutMs);
      result.acceptMs.push(t1 - t0);
      result.latencyMs.push(t2 - t0);
      result.ids.push(workflowId);
      result.ok += 1;
      finished = Math.max(finished, t2);
    } catch (error) {
      recordError(result, error);
    }
  });
  result.wallMs = finished - started;
  return result;
}

/**
 * Watches the order rows of in-flight orders with one query per tick (not one per order), so that the driver's
 * own load on PostgreSQL stays small and countable.
 */
function stagePoller(w: World, pollMs: number) {
  const waiting = new Map<string, { resolve: (at: number) => void; reject: (error: Error) => void }>();
  let running = true;
  const loop = (async () => {
    while (running) {
      if (waiting.size > 0) {
        const ids = [...waiting.keys()];
        w.pollQueries += 1;
        const { rows } = await w.db.query<{ id: string; stage: string }>(
          'SELECT id::text AS id, stage FROM orders WHERE id = ANY($1::uuid[])',
          [ids]
        );
        const at = performance.now();
        for (const row of rows) {
          const waiter = waiting.get(row.id);
          if (!waiter) continue;
          if (CONFIRMED_OR_LATER.has(row.stage)) {
            waiting.delete(row.id);
            waiter.resolve(at);
          } else if (FAILED.has(row.stage)) {
            waiting.delete(row.id);
            waiter.reject(new Error(`order ${row.id} ended in ${row.stage}`));
          }
        }
      }
      await sleep(pollMs);
    }
  })();
  return {
    until(orderId: string, timeoutMs: number): Promise<number> {
      return new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(orderId);
          reject(new Error(`order ${orderId} not confirmed within ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.set(orderId, {
          resolve: (at) => {
            clearTimeout(timer);
            resolve(at);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
      });
    },
    async stop() {
      running = false;
      await loop;
    },
  };
}

function orderBody(run: ServiceRun, index: number) {
  const items = Array.from({ length: run.lines }, (_, line) => ({
    productId: run.productIds[(index * run.lines + line) % run.productIds.length]!,
    quantity: 1,
  }));
  return {
    customerId: randomUUID(),
    currency: 'USD',
    items,
    shippingAddress: { street: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
    payment: { method: 'card', token: 'tok_visa' },
  };
}

async function runService(w: World, run: ServiceRun): Promise<RunResult> {
  const result = emptyResult(run.runId);
  const poller = stagePoller(w, w.init.pollMs);
  const posted = new Map<string, number>();
  const pollsBefore = w.pollQueries;
  const started = performance.now();
  let finished = started;
  await closedLoop(run.orders, run.concurrency, async (index) => {
    const t0 = performance.now();
    try {
      const response = await fetch(`${w.init.baseUrl}/v1/orders`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': `${run.runId}-${index}-${randomUUID()}`,
          ...(run.prefer ? { prefer: 'wait=30' } : {}),
        },
        body: JSON.stringify(orderBody(run, index)),
      });
      const body = (await response.json()) as { orderId?: string; stage?: string; detail?: string };
      const t1 = performance.now();
      result.statuses[response.status] = (result.statuses[response.status] ?? 0) + 1;
      if ((response.status !== 201 && response.status !== 202) || !body.orderId) {
        throw new Error(`POST /v1/orders answered ${response.status}: ${body.detail ?? JSON.stringify(body)}`);
      }
      posted.set(body.orderId, t0);
      const t2 =
        run.prefer && body.stage && CONFIRMED_OR_LATER.has(body.stage)
          ? t1
          : await poller.until(body.orderId, run.timeoutMs);
      result.acceptMs.push(t1 - t0);
      result.latencyMs.push(t2 - t0);
      result.ids.push(body.orderId);
      result.ok += 1;
      finished = Math.max(finished, t2);
    } catch (error) {
      recordError(result, error);
    }
  });
  result.wallMs = finished - started;
  await poller.stop();
  // The OrderConfirmed events trail the rows by the relay's polling: give them a few seconds.
  const eventsBy = performance.now() + 10_000;
  while (result.ids.some((id) => !w.confirmedEvents.has(id)) && performance.now() < eventsBy) await sleep(50);
  for (const id of result.ids) {
    const event = w.confirmedEvents.get(id);
    if (event === undefined) {
      result.eventsMissing += 1;
    } else {
      result.eventMs.push(event.at - posted.get(id)!);
      if (Number.isFinite(event.lagMs)) result.eventLagMs.push(event.lagMs);
    }
  }
  result.pollQueries = w.pollQueries - pollsBefore;
  return result;
}

async function handle(request: DriverRequest): Promise<DriverReply> {
  switch (request.type) {
    case 'init':
      world = await open(request);
      return { type: 'ready' };
    case 'floor':
      if (!world) throw new Error('driver not initialised');
      return { type: 'result', result: await runFloor(world, request) };
    case 'service':
      if (!world) throw new Error('driver not initialised');
      return { type: 'result', result: await runService(world, request) };
    case 'close':
      if (world) {
        for (const subscription of world.subscriptions) subscription.unsubscribe();
        await world.nats.close();
        await world.db.end();
        await world.temporal.close();
        world = undefined;
      }
      return { type: 'closed' };
  }
}

process.on('message', (request: DriverRequest) => {
  handle(request).then(
    (reply) => {
      send(reply);
      if (reply.type === 'closed') process.disconnect();
    },
    (error: unknown) => send({ type: 'error', message: error instanceof Error ? error.message : String(error) })
  );
});
// The parent owns the lifecycle: Ctrl-C reaches both processes, and the parent decides when the driver ends.
process.on('SIGINT', () => undefined);
// If the parent dies, so does the driver.
process.on('disconnect', () => process.exit(0));
