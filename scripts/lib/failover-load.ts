import { randomUUID } from 'node:crypto';
import { mintToken } from '../../src/api/auth.js';
import type { Db } from '../../src/db/client.js';
import { createDb } from '../../src/db/client.js';
import type { Cluster } from './cluster.js';
import type { ManagedProcess } from './supervision.js';

/**
 * The failover test's clients: orders placed through the API instances in turn, a client that retries against
 * the other instance on a refused connection or a 503 (waiting Retry-After), and a carrier that ships and
 * delivers every order that reaches fulfilment. Loaded once the cluster generated the Prisma client.
 */
export type OrderKind = 'approved' | 'declined' | 'scarce';

export interface PlacedOrder {
  index: number;
  kind: OrderKind;
  customerId: string;
  productId: string;
  quantity: number;
  orderId?: string;
  error?: string;
}

export interface HttpStats {
  requests: number;
  retried: number;
  served503: number;
  /** 5xx other than 503 + Retry-After, and statuses a well-formed request should never get. */
  violations: string[];
  /** Per API URL, when it last answered 2xx. */
  lastSuccess: Map<string, number>;
}

export interface FinalStage {
  stage: string;
  reason: string | null;
}

const FINAL = new Set(['COMPLETED', 'CANCELLED']);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Of every 20 orders: 3 with a declined card, 4 for the scarce product, 13 approved for the ample one. */
export function orderKind(index: number): OrderKind {
  const slot = index % 20;
  return slot < 3 ? 'declined' : slot < 7 ? 'scarce' : 'approved';
}

export async function loadDriver(
  cluster: Cluster,
  options: { jwtSecret: string; requestBudgetMs: number; products: { ample: string; scarce: string } }
) {
  const db: Db = createDb(cluster.config.DATABASE_URL);
  const token = await mintToken(options.jwtSecret, 'operator', 'failover-test');
  const http: HttpStats = { requests: 0, retried: 0, served503: 0, violations: [], lastSuccess: new Map() };
  const urls = cluster.apiUrls;

  /** One logical request, retried with the same Idempotency-Key until it gets a final answer or the budget ends. */
  async function request(method: string, path: string, body: unknown, key: string, first: number) {
    const deadline = Date.now() + options.requestBudgetMs;
    for (let attempt = 0; Date.now() < deadline; attempt += 1) {
      const url = urls[(first + attempt) % urls.length]!;
      if (attempt > 0) http.retried += 1;
      http.requests += 1;
      let response: Response;
      try {
        response = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': key },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(20_000),
        });
      } catch {
        await sleep(250); // refused or cut: that instance is down, the next attempt goes to the other one
        continue;
      }
      const text = await response.text();
      if (response.ok) {
        http.lastSuccess.set(url, Date.now());
        return JSON.parse(text) as Record<string, unknown>;
      }
      const retryAfter = Number(response.headers.get('retry-after'));
      if (response.status === 503 && retryAfter > 0) {
        http.served503 += 1;
        await sleep(Math.min(retryAfter, 2) * 1000);
        continue;
      }
      if (response.status === 409 && text.includes('IDEMPOTENCY_KEY_IN_USE')) {
        await sleep(1_000); // the first attempt is still running (or died with its instance): wait for it
        continue;
      }
      http.violations.push(`${method} ${path} on ${url}: ${response.status} ${text.slice(0, 200)}`);
      if (response.status < 500) return undefined;
    }
    return undefined;
  }

  async function placeOrder(index: number): Promise<PlacedOrder> {
    const kind = orderKind(index);
    const order: PlacedOrder = {
      index,
      kind,
      customerId: randomUUID(),
      productId: kind === 'scarce' ? options.products.scarce : options.products.ample,
      quantity: kind === 'scarce' ? 1 : 1 + (index % 3),
    };
    const answer = await request(
      'POST',
      '/v1/orders',
      {
        customerId: order.customerId,
        currency: 'USD',
        items: [{ productId: order.productId, quantity: order.quantity }],
        shippingAddress: { street: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
        payment: { method: 'card', token: kind === 'declined' ? 'tok_chargeDeclined' : 'tok_visa' },
      },
      randomUUID(),
      index
    );
    if (typeof answer?.orderId === 'string') order.orderId = answer.orderId;
    else order.error = 'no answer within the retry budget';
    return order;
  }

  // The carrier: ships and delivers each order once it is in fulfilment, through the APIs like everything else.
  const shipping = new Map<string, Promise<void>>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const waiting = await db.order
        .findMany({ where: { stage: 'FULFILLING' }, select: { id: true, shipments: { select: { id: true } } } })
        .catch(() => []);
      for (const { id, shipments } of waiting) {
        if (shipments.length === 0 || shipping.has(id)) continue;
        shipping.set(
          id,
          (async () => {
            // One parcel per warehouse the order's stock came from: each is shipped, then delivered.
            for (const shipment of shipments) {
              for (const status of ['shipped', 'delivered']) {
                const key = `${shipment.id}-${status}`;
                await request('PUT', `/v1/shipments/${shipment.id}/status`, { status }, key, shipping.size);
              }
            }
          })()
        );
      }
      await sleep(500);
    }
  })();

  return {
    http,
    db,
    placeOrder,

    /** When the restarted `process` (or the system, for a worker or Temporal) first did useful work after `since`. */
    async firstProgressAfter(process: ManagedProcess, since: number, timeoutMs: number): Promise<number | undefined> {
      const deadline = Date.now() + timeoutMs;
      const api = cluster.apis.indexOf(process);
      while (Date.now() < deadline) {
        let at: number | undefined;
        if (api >= 0) {
          const last = http.lastSuccess.get(urls[api]!);
          at = last !== undefined && last > since ? last : undefined;
        } else if (cluster.relays.includes(process)) {
          const row = await db.outbox.findFirst({
            where: { publishedAt: { gt: new Date(since) } },
            orderBy: { publishedAt: 'asc' },
          });
          at = row?.publishedAt?.getTime();
        } else {
          const row = await db.orderStatusHistory.findFirst({
            where: { at: { gt: new Date(since) } },
            orderBy: { at: 'asc' },
          });
          at = row?.at.getTime();
        }
        if (at !== undefined) return at;
        await sleep(200);
      }
      return undefined;
    },

    /** Waits until every accepted order is completed or cancelled, or the time is up; returns where each is. */
    async settle(placed: PlacedOrder[], timeoutMs: number): Promise<Map<string, FinalStage>> {
      const ids = placed.flatMap((order) => (order.orderId ? [order.orderId] : []));
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const rows = await db.order.findMany({
          where: { id: { in: ids } },
          select: { id: true, stage: true, cancellationReason: true },
        });
        const stages = new Map(rows.map((row) => [row.id, { stage: row.stage, reason: row.cancellationReason }]));
        const open = ids.filter((id) => !FINAL.has(stages.get(id)?.stage ?? ''));
        if (open.length === 0 || Date.now() > deadline) {
          polling = false;
          await poller;
          await Promise.all(shipping.values());
          return stages;
        }
        await sleep(1_000);
      }
    },

    async close() {
      polling = false;
      await poller;
      await db.$disconnect();
    },
  };
}

export type LoadDriver = Awaited<ReturnType<typeof loadDriver>>;
