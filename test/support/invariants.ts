import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import proto from '@temporalio/proto';
import { ROOT } from '../../scripts/lib/database.js';
import { EVENT_CONTEXTS } from '../../src/config/config.js';
import { orderWorkflowId, recoverWorkflowId } from '../../src/workflows/messages.js';
import type { TestSystem } from './system.js';
import { streamMessages } from './system.js';

/** One invariant of the system and the cases that break it (empty when it holds). */
export interface InvariantResult {
  name: string;
  violations: string[];
}

/** What the driver knows that the database cannot tell: the stock it put in and the HTTP answers it saw. */
export interface Observed {
  /** Per product: units added at creation and by accepted adjustments. */
  stockAdded: Map<string, number>;
  /**
   * Every HTTP answer seen: status and whether it carried Retry-After; for a problem answer, its code and message and
   * the request id, which names the request in the API's log.
   */
  responses: { what: string; status: number; retryAfter: boolean; problem?: string }[];
  /** Orders of this run (the database may hold other tests' orders). */
  orderIds: string[];
}

const DISPATCHED_SHIPMENT = new Set(['SHIPPED', 'IN_TRANSIT', 'DELIVERED', 'RETURNED']);
const TERMINAL = new Set(['COMPLETED', 'CANCELLED']);

/**
 * Where an unbalanced product's units went: orders whose committed units of it differ from their line (the balance
 * counts a captured order's lines as dispatched), or that committed units without a capture.
 */
async function unbalancedOrders(db: TestSystem['resources']['db'], productId: string): Promise<string> {
  const rows = await db.$queryRaw<{ order_id: string; committed: bigint; ordered: bigint; captured: boolean }[]>`
    SELECT r.order_id, sum(r.quantity)::bigint AS committed,
      coalesce((SELECT i.quantity FROM order_items i WHERE i.order_id = r.order_id AND i.product_id = r.product_id), 0)::bigint AS ordered,
      EXISTS (SELECT 1 FROM payments p WHERE p.order_id = r.order_id AND p.kind = 'CAPTURE' AND p.status = 'SUCCEEDED') AS captured
    FROM reservations r WHERE r.product_id = ${productId}::uuid AND r.status = 'COMMITTED'
    GROUP BY r.order_id, r.product_id`;
  const odd = rows.filter((row) => !row.captured || row.committed !== row.ordered);
  if (odd.length === 0) return '';
  const described = odd.map(
    (row) => `${row.order_id} committed ${row.committed}, ordered ${row.ordered}${row.captured ? '' : ', no capture'}`
  );
  return ` [${described.join('; ')}]`;
}

interface StockChangeData {
  warehouseId: string;
  adjustmentType: string;
  onHand: number;
  orderId?: string;
}

/**
 * The product's on hand as its recorded stock changes tell it: every change of on hand writes an InventoryAdjusted
 * event in its own transaction, and the outbox numbers one product's events in commit order, so the events replay
 * the product's on hand step by step. Each step is put to its cause: adjustments (compared with what the driver
 * counted), restocked returns, and the units each order's dispatch took (compared with what the balance counts for
 * it: its line if it has a capture, else nothing). Unlike the COMMITTED reservation rows, which a later hold of the
 * same order and product takes over again, the events keep every commit; a move of on hand that no event records is
 * reported too.
 */
async function stockAudit(
  db: TestSystem['resources']['db'],
  productId: string,
  onHand: number,
  counted: { added: number; returned: number }
): Promise<string> {
  const rows = await db.$queryRaw<{ data: StockChangeData }[]>`
    SELECT envelope->'data' AS data FROM outbox
    WHERE aggregate_id = ${productId} AND type = 'InventoryAdjusted' ORDER BY seq`;
  const last = new Map<string, number>();
  const taken = new Map<string, number>();
  let added = 0;
  let returned = 0;
  let other = 0;
  for (const { data } of rows) {
    const change = data.onHand - (last.get(data.warehouseId) ?? 0);
    last.set(data.warehouseId, data.onHand);
    if (change === 0) continue;
    if (data.adjustmentType === 'COMMITTED' && data.orderId) {
      taken.set(data.orderId, (taken.get(data.orderId) ?? 0) - change);
    } else if (data.adjustmentType === 'RESTOCKED' && data.orderId) returned += change;
    else if (['RESTOCKED', 'ADJUSTED'].includes(data.adjustmentType) && !data.orderId) added += change;
    else other += change;
  }
  const parts = [`adjustments +${added}${added === counted.added ? '' : ` (driver counted +${counted.added})`}`];
  if (returned !== 0 || counted.returned !== 0) {
    parts.push(
      `returns restocked +${returned}${returned === counted.returned ? '' : ` (counted +${counted.returned})`}`
    );
  }
  const orders = [...taken.keys()];
  const lines =
    orders.length === 0
      ? []
      : await db.$queryRaw<{ order_id: string; ordered: bigint; captured: boolean }[]>`
          SELECT o.id AS order_id,
            coalesce((SELECT sum(i.quantity) FROM order_items i WHERE i.order_id = o.id AND i.product_id = ${productId}::uuid), 0)::bigint AS ordered,
            EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id AND p.kind = 'CAPTURE' AND p.status = 'SUCCEEDED') AS captured
          FROM orders o WHERE o.id = ANY(${orders}::uuid[]) ORDER BY o.id`;
  for (const line of lines) {
    const units = taken.get(line.order_id)!;
    const ordered = Number(line.ordered);
    const dispatched = line.captured ? ordered : 0;
    if (units !== dispatched) {
      parts.push(
        `${line.order_id} took ${units}, counted ${dispatched} (ordered ${ordered}${line.captured ? '' : ', no capture'})`
      );
    }
  }
  if (other !== 0) parts.push(`other recorded changes ${other}`);
  const recorded = [...last.values()].reduce((sum, units) => sum + units, 0);
  if (recorded !== onHand) parts.push(`on hand moved ${onHand - recorded} with no recorded change`);
  return ` [recorded: ${parts.join('; ')}]`;
}

async function stock(system: TestSystem, observed: Observed): Promise<InvariantResult[]> {
  const db = system.resources.db;
  const products = [...observed.stockAdded.keys()];
  const balance: string[] = [];
  const reservedSum: string[] = [];
  const negative: string[] = [];
  for (const productId of products) {
    const items = await db.inventoryItem.findMany({ where: { productId } });
    const onHand = items.reduce((sum, item) => sum + item.onHand, 0);
    const reserved = items.reduce((sum, item) => sum + item.reserved, 0);
    const [shipped] = await db.$queryRaw<{ dispatched: bigint }[]>`
      SELECT coalesce(sum(i.quantity), 0)::bigint AS dispatched FROM order_items i
      WHERE i.product_id = ${productId}::uuid AND EXISTS (
        SELECT 1 FROM payments p WHERE p.order_id = i.order_id AND p.kind = 'CAPTURE' AND p.status = 'SUCCEEDED')`;
    // Resellable units of received returns came back on hand.
    const [returned] = await db.$queryRaw<{ restocked: bigint }[]>`
      SELECT coalesce(sum(i.quantity), 0)::bigint AS restocked FROM return_items i JOIN returns r ON r.id = i.return_id
      WHERE i.product_id = ${productId}::uuid AND r.status = 'RECEIVED' AND r.condition = 'resellable'`;
    const expected =
      observed.stockAdded.get(productId)! - Number(shipped?.dispatched ?? 0) + Number(returned?.restocked ?? 0);
    if (onHand !== expected) {
      const audit = await stockAudit(db, productId, onHand, {
        added: observed.stockAdded.get(productId)!,
        returned: Number(returned?.restocked ?? 0),
      });
      balance.push(
        `${productId}: on hand ${onHand}, expected ${expected}${await unbalancedOrders(db, productId)}${audit}`
      );
    }
    const [reservations] = await db.$queryRaw<{ held: bigint }[]>`
      SELECT coalesce(sum(quantity), 0)::bigint AS held FROM reservations
      WHERE product_id = ${productId}::uuid AND status = 'HELD'`;
    const held = Number(reservations?.held ?? 0);
    if (reserved !== held) reservedSum.push(`${productId}: reserved ${reserved}, held reservations ${held}`);
    for (const item of items) {
      if (item.onHand < 0 || item.reserved < 0 || item.reserved > item.onHand)
        negative.push(`${productId}@${item.warehouseId}: on hand ${item.onHand}, reserved ${item.reserved}`);
    }
  }
  return [
    { name: 'stock: on hand = initial + adjustments - dispatched + restocked returns', violations: balance },
    { name: 'stock: reserved = sum of held reservations', violations: reservedSum },
    { name: 'stock: nothing negative or over-reserved', violations: negative },
  ];
}

async function money(system: TestSystem, observed: Observed): Promise<InvariantResult[]> {
  const openOnClosed: string[] = [];
  const captureWithoutDispatch: string[] = [];
  const overRefunded: string[] = [];
  const cancelledCaptured: string[] = [];
  const valueKept: string[] = [];
  for (const orderId of observed.orderIds) {
    const order = await system.resources.db.order.findUnique({
      where: { id: orderId },
      include: { payments: { where: { status: 'SUCCEEDED' } }, shipments: true, returns: true },
    });
    if (!order) continue;
    const settled = new Set(
      order.payments.filter((p) => p.kind === 'CAPTURE' || p.kind === 'VOID').map((p) => p.authorizationId)
    );
    const open = order.payments.filter((p) => p.kind === 'AUTHORIZATION' && !settled.has(p.id));
    // A flagged order may still run (waiting for the carrier): only a finished one must have let go of the card.
    if (TERMINAL.has(order.stage) && open.length > 0)
      openOnClosed.push(`${orderId} (${order.stage}): ${open.length} open`);
    const captured = order.payments.filter((p) => p.kind === 'CAPTURE').reduce((sum, p) => sum + p.amount, 0n);
    const refunded = order.payments.filter((p) => p.kind === 'REFUND').reduce((sum, p) => sum + p.amount, 0n);
    // Each parcel's share is captured as it leaves: any capture needs a parcel on its way.
    const dispatched = order.shipments.some((shipment) => DISPATCHED_SHIPMENT.has(shipment.status));
    if (captured > 0 && !dispatched) {
      captureWithoutDispatch.push(`${orderId}: shipments ${order.shipments.map((s) => s.status).join(',') || 'none'}`);
    }
    if (refunded > captured) overRefunded.push(`${orderId}: refunded ${refunded} > captured ${captured}`);
    if (order.stage === 'CANCELLED' && !dispatched && captured > 0) cancelledCaptured.push(`${orderId}: ${captured}`);
    // What the customer keeps is paid for, and nothing else: the order's lines less the refunded returns (nothing
    // for a cancelled order). A rejected or still open return has refunded nothing.
    if (captured > 0) {
      const returned = order.returns.reduce((sum, r) => sum + r.refundedAmount, 0n);
      const kept = order.stage === 'CANCELLED' ? 0n : order.totalAmount - returned;
      if (captured - refunded !== kept)
        valueKept.push(
          `${orderId}: captured ${captured} - refunded ${refunded} = ${captured - refunded}, kept ${kept}`
        );
    }
  }
  return [
    { name: 'money: no open authorization on a closed order', violations: openOnClosed },
    { name: 'money: captured only for dispatched parcels', violations: captureWithoutDispatch },
    { name: 'money: refunded <= captured', violations: overRefunded },
    { name: 'money: cancelled before dispatch captured nothing', violations: cancelledCaptured },
    { name: 'money: captured - refunded = value kept (order total - refunded returns)', violations: valueKept },
  ];
}

async function statusOf(client: Client, workflowId: string): Promise<string | undefined> {
  try {
    return (await client.workflow.getHandle(workflowId).describe()).status.name;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

/** What a stuck order waits on, so a long run's report can be acted on: its pending activities and parcels. */
async function whyWaiting(system: TestSystem, orderId: string): Promise<string> {
  const workflow = system.resources.temporal.workflow.getHandle(orderWorkflowId(orderId));
  const description = await workflow.describe();
  const history = await workflow.fetchHistory();
  const { events } = history;
  const last = (events ?? [])
    .slice(-3)
    .map(
      (event) =>
        `${String(event.eventId)}:${proto.temporal.api.enums.v1.EventType[event.eventType ?? 0]?.replace('EVENT_TYPE_', '') ?? '?'}`
    );
  const task = description.raw.pendingWorkflowTask;
  // A workflow task failing again and again is most likely a replay that diverged: keep the history to replay it.
  let saved = '';
  if ((task?.attempt ?? 0) > 1) {
    saved = join(ROOT, '.data', `stuck-${workflow.workflowId}.json`);
    mkdirSync(dirname(saved), { recursive: true });
    writeFileSync(saved, historyToJSON(history));
    saved = `; history: ${relative(ROOT, saved)}`;
  }
  const activities = (description.raw.pendingActivities ?? []).map(
    (activity) =>
      `${activity.activityType?.name ?? '?'} attempt ${activity.attempt ?? 0}` +
      (activity.lastFailure?.message ? ` (${activity.lastFailure.message})` : '')
  );
  const shipments = await system.resources.db.shipment.findMany({ where: { orderId }, select: { status: true } });
  return (
    ` [activities: ${activities.join(', ') || 'none'}; shipments: ${shipments.map((s) => s.status).join(', ') || 'none'}` +
    `; workflow task: ${task ? `attempt ${task.attempt ?? 0}` : 'none'}; last events: ${last.join(' ')}${saved}]`
  );
}

async function state(system: TestSystem, observed: Observed): Promise<InvariantResult[]> {
  const unfinished: string[] = [];
  const stuck: string[] = [];
  const client = system.resources.temporal;
  for (const orderId of observed.orderIds) {
    const order = await system.resources.db.order.findUnique({ where: { id: orderId } });
    if (!order) continue;
    const workflow = await statusOf(client, orderWorkflowId(orderId));
    const recovery = await statusOf(client, recoverWorkflowId(orderId));
    const terminal = TERMINAL.has(order.stage);
    const repaired = recovery === 'COMPLETED' && order.needsAttention;
    if (workflow !== 'RUNNING' && !terminal && !repaired)
      unfinished.push(`${orderId}: workflow ${workflow}, stage ${order.stage}, recovery ${recovery ?? 'none'}`);
    if (workflow === 'RUNNING' && !terminal && !order.needsAttention)
      stuck.push(`${orderId}: ${order.stage}${await whyWaiting(system, orderId)}`);
  }
  return [
    { name: 'state: every workflow closed in a terminal stage or repaired', violations: unfinished },
    { name: 'state: no order stuck without NeedsAttention', violations: stuck },
  ];
}

/** The order's events as the outbox holds them: a valid lifecycle starts created and ends at most once. */
function lifecycleProblem(types: string[], stage: string): string | undefined {
  if (types[0] !== 'OrderCreated') return `starts with ${types[0]}`;
  const ends = types.filter((type) => type === 'OrderCancelled' || type === 'OrderCompleted');
  if (ends.length > 1) return `ends ${ends.length} times`;
  const end = ends[0];
  if (end && types.indexOf(end) !== types.length - 1) return `events after ${end}`;
  if (stage === 'CANCELLED' && end !== 'OrderCancelled') return `stage CANCELLED without OrderCancelled`;
  if (stage === 'COMPLETED' && end !== 'OrderCompleted') return `stage COMPLETED without OrderCompleted`;
  if (end === 'OrderCompleted' && !types.includes('OrderConfirmed')) return 'completed without confirmation';
  return undefined;
}

async function events(system: TestSystem, observed: Observed): Promise<InvariantResult[]> {
  const db = system.resources.db;
  // Every event's subject is its order or product: the run's own rows, whatever other tests left in the database.
  const rows = await db.outbox.findMany({
    where: { aggregateId: { in: [...observed.orderIds, ...observed.stockAdded.keys()] } },
    select: { id: true, publishedAt: true, deadLetteredAt: true },
  });
  const published = new Map<string, number>();
  for (const context of EVENT_CONTEXTS) {
    for (const message of await streamMessages(system, context)) {
      if (message.msgId) published.set(message.msgId, (published.get(message.msgId) ?? 0) + 1);
    }
  }
  // Exactly once after consumer dedup: each row reaches its stream under its id (Nats-Msg-Id). A copy sent again
  // after an ack lost to a NATS outage longer than the stream's duplicate window is a second message with the same
  // id, which every consumer's inbox applies once (processOnce keys on the event id); it is counted, not a violation.
  const notOnce = rows
    .filter((row) => !row.publishedAt || row.deadLetteredAt || (published.get(row.id) ?? 0) === 0)
    .map((row) => `${row.id}: published ${published.get(row.id) ?? 0} times${row.deadLetteredAt ? ', dead' : ''}`);
  const resent = rows.filter((row) => (published.get(row.id) ?? 0) > 1).length;
  const lifecycles: string[] = [];
  for (const orderId of observed.orderIds) {
    const order = await db.order.findUnique({ where: { id: orderId } });
    if (!order) continue;
    const orderEvents = await db.outbox.findMany({
      where: { aggregateId: orderId, type: { startsWith: 'Order' } },
      orderBy: { seq: 'asc' },
    });
    const problem = lifecycleProblem(
      orderEvents.map((row) => row.type),
      order.stage
    );
    if (problem) {
      // The whole story, so a violation can be understood from the run's output alone.
      const history = await db.orderStatusHistory.findMany({ where: { orderId }, orderBy: { seq: 'asc' } });
      const stages = history.map((row) => `${row.seq}:${row.toStage}${row.reason ? `(${row.reason})` : ''}`);
      lifecycles.push(
        `${orderId}: ${problem} [events ${orderEvents.map((row) => row.type).join(',')}; stages ${stages.join(',')}]`
      );
    }
  }
  const serverErrors = observed.responses
    .filter((r) => r.status >= 500 && !(r.status === 503 && r.retryAfter))
    .map((r) => `${r.what}: ${r.status}${r.problem ? ` ${r.problem}` : ''}`);
  return [
    {
      name: `events: every outbox row published exactly once after consumer dedup (${resent} sent again, deduplicated)`,
      violations: notOnce,
    },
    { name: "events: each order's events form a valid lifecycle", violations: lifecycles },
    { name: 'http: no 5xx other than 503 + Retry-After', violations: serverErrors },
  ];
}

/** Stock and money only: for runs that leave orders open on purpose (shipped, returns pending). */
export async function checkStockAndMoney(system: TestSystem, observed: Observed): Promise<InvariantResult[]> {
  return [...(await stock(system, observed)), ...(await money(system, observed))];
}

/** Every invariant of issue 9, checked once the system is quiet. */
export async function checkInvariants(system: TestSystem, observed: Observed): Promise<InvariantResult[]> {
  return [
    ...(await stock(system, observed)),
    ...(await money(system, observed)),
    ...(await state(system, observed)),
    ...(await events(system, observed)),
  ];
}
