import { ApplicationFailure } from '@temporalio/activity';
import type { Db, Tx } from '../db/client.js';
import { toJson } from '../db/json.js';
import type { Causation, StepInput } from '../domain/causation.js';
import { ActivityErrorType } from '../domain/failures.js';
import type { Address, CancellationReason, OrderLine } from '../domain/order.js';
import { fromStoredMoney } from '../domain/money.js';
import { orderTotal, Stage, statusOf } from '../domain/order.js';
import type { DomainEvent } from '../events/envelope.js';
import type { OrderWorkflowInput } from '../workflows/messages.js';
import type { OrderSnapshot } from '../events/order-events.js';
import { Prisma } from '../generated/prisma/client.js';
import { orderAmended, orderCancelled, orderCompleted, orderConfirmed, orderCreated } from '../events/order-events.js';

/**
 * The order's own rows (order, lines, stage history) as the saga's steps change them. Each function runs inside
 * a fenced step's transaction and returns the events that report the change.
 */

/** What the workflow knows of a new order when it persists it. */
export type CreateOrderInput = Pick<
  OrderWorkflowInput,
  'orderId' | 'customerId' | 'lines' | 'currency' | 'shippingAddress' | 'billingAddress' | 'subscriptionId'
> &
  Causation & { paymentMethod: string };

export interface StageChange extends StepInput {
  to: Stage;
  reason?: string;
}

export interface AmendmentInput extends StepInput {
  lines: OrderLine[];
  shippingAddress?: Address;
  revision: number;
}

export async function loadSnapshot(tx: Tx | Db, orderId: string): Promise<OrderSnapshot & { stage: Stage }> {
  const order = await tx.order.findUnique({ where: { id: orderId }, include: { items: true } });
  if (!order) throw ApplicationFailure.nonRetryable(`order ${orderId} does not exist`, ActivityErrorType.OrderNotFound);
  return snapshotOf(
    order.id,
    order,
    order.stage as Stage,
    order.items.map((item) => ({ ...item, name: item.productName, unitPrice: fromStoredMoney(item.unitPrice) }))
  );
}

async function insertLines(tx: Tx, orderId: string, lines: readonly OrderLine[]) {
  await tx.orderItem.createMany({
    data: lines.map((line) => ({
      orderId,
      productId: line.productId,
      sku: line.sku,
      productName: line.name,
      quantity: line.quantity,
      unitPrice: line.unitPrice,
    })),
  });
}

/** The order's own columns an event's snapshot needs, as a transition leaves them. */
interface TransitionedOrder {
  customerId: string;
  currency: string;
  totalAmount: bigint;
}

/**
 * Moves the order to `change.to` and records the stage history row from the stage it leaves, in one statement: the
 * self-join reads the row as it was before the update (the step's claim already locked it). `cancellation` also sets
 * the cancellation reason and clears the attention flag.
 */
async function recordTransition(
  tx: Tx,
  change: StageChange,
  cancellation?: { reason: CancellationReason }
): Promise<TransitionedOrder> {
  const status = statusOf(change.to);
  const cancelled = cancellation
    ? Prisma.sql`, cancellation_reason = ${cancellation.reason}, needs_attention = false`
    : Prisma.empty;
  const [order] = await tx.$queryRaw<{ customer_id: string; currency: string; total_amount: bigint }[]>`
    WITH changed AS (
      UPDATE orders o SET stage = ${change.to}, status = ${status} ${cancelled}
      FROM orders previous
      WHERE o.id = ${change.orderId}::uuid AND previous.id = o.id
      RETURNING previous.stage AS from_stage, previous.revision, o.customer_id, o.currency, o.total_amount),
    recorded AS (
      INSERT INTO order_status_history (order_id, seq, from_stage, to_stage, status, reason, revision, at)
      SELECT ${change.orderId}::uuid, ${change.seq}, from_stage, ${change.to}, ${status}, ${change.reason ?? null},
        revision, ${new Date()}
      FROM changed)
    SELECT customer_id, currency, total_amount FROM changed`;
  if (!order) {
    throw ApplicationFailure.nonRetryable(`order ${change.orderId} does not exist`, ActivityErrorType.OrderNotFound);
  }
  return { customerId: order.customer_id, currency: order.currency, totalAmount: order.total_amount };
}

/** An order's lines as its events list them. */
function snapshotLines(lines: readonly OrderLine[]): OrderLine[] {
  return lines
    .map(({ productId, sku, name, quantity, unitPrice }) => ({ productId, sku, name, quantity, unitPrice }))
    .sort((a, b) => a.sku.localeCompare(b.sku));
}

function snapshotOf(orderId: string, order: TransitionedOrder, stage: Stage, lines: readonly OrderLine[]) {
  return {
    orderId,
    customerId: order.customerId,
    currency: order.currency,
    totalAmount: fromStoredMoney(order.totalAmount),
    status: statusOf(stage),
    stage,
    lines: snapshotLines(lines),
  };
}

/** Persists a new order (its step sequence starts at 1); nothing to report when it already exists. */
export async function createOrder(tx: Tx, input: CreateOrderInput): Promise<DomainEvent[]> {
  const inserted = await tx.order.createMany({
    data: [
      {
        id: input.orderId,
        customerId: input.customerId,
        subscriptionId: input.subscriptionId ?? null,
        status: statusOf(Stage.PENDING),
        stage: Stage.PENDING,
        currency: input.currency,
        totalAmount: orderTotal(input.lines),
        shippingAddress: toJson(input.shippingAddress),
        ...(input.billingAddress ? { billingAddress: toJson(input.billingAddress) } : {}),
        paymentMethod: input.paymentMethod,
        stepSeq: 1,
      },
    ],
    skipDuplicates: true,
  });
  if (inserted.count === 0) return [];
  await insertLines(tx, input.orderId, input.lines);
  await tx.orderStatusHistory.create({
    data: { orderId: input.orderId, seq: 1, toStage: Stage.PENDING, status: 'pending', revision: 1 },
  });
  // The snapshot is what was just written, so it is built from the input rather than read back.
  const created = {
    customerId: input.customerId,
    currency: input.currency,
    totalAmount: BigInt(orderTotal(input.lines)),
  };
  return [orderCreated(snapshotOf(input.orderId, created, Stage.PENDING, input.lines), new Date(), input)];
}

/** A transition that publishes nothing of its own (the step's other activities do). */
export async function recordStage(tx: Tx, change: StageChange): Promise<DomainEvent[]> {
  await recordTransition(tx, change);
  return [];
}

/**
 * Confirms only an order whose stock is still held: the sweeper may have released an expired hold. The HELD rows are
 * locked first (by clearing their expiry: a confirmed order keeps its stock until it ships, the 15-minute hold is for
 * unconfirmed checkouts), so a sweep cannot expire them between the check and the confirmation (it skips locked
 * rows), and a sweep already under way is waited for and its outcome seen. A refusal rolls the expiry back.
 */
export async function confirm(tx: Tx, change: StepInput): Promise<DomainEvent[]> {
  await tx.$executeRaw`UPDATE reservations SET expires_at = NULL WHERE order_id = ${change.orderId}::uuid AND status = 'HELD'`;
  // The lines with what is held of each, read after the lock: the check and the event's lines in one statement.
  const items = await tx.$queryRaw<
    { product_id: string; sku: string; product_name: string; quantity: number; unit_price: bigint; short: boolean }[]
  >`
    SELECT i.product_id, i.sku, i.product_name, i.quantity, i.unit_price,
      coalesce(sum(r.quantity), 0) < i.quantity AS short
    FROM order_items i
    LEFT JOIN reservations r ON r.order_id = i.order_id AND r.product_id = i.product_id AND r.status = 'HELD'
    WHERE i.order_id = ${change.orderId}::uuid
    GROUP BY i.product_id, i.sku, i.product_name, i.quantity, i.unit_price`;
  if (items.some((item) => item.short)) {
    throw ApplicationFailure.nonRetryable(
      'the stock hold expired before confirmation',
      ActivityErrorType.ReservationExpired
    );
  }
  const order = await recordTransition(tx, { ...change, to: Stage.CONFIRMED });
  const lines = items.map((item) => ({
    productId: item.product_id,
    sku: item.sku,
    name: item.product_name,
    quantity: item.quantity,
    unitPrice: fromStoredMoney(item.unit_price),
  }));
  return [orderConfirmed(snapshotOf(change.orderId, order, Stage.CONFIRMED, lines), new Date(), 'confirmed', change)];
}

export async function amend(tx: Tx, input: AmendmentInput): Promise<DomainEvent[]> {
  const before = await loadSnapshot(tx, input.orderId);
  await tx.orderItem.deleteMany({ where: { orderId: input.orderId } });
  await insertLines(tx, input.orderId, input.lines);
  await tx.order.update({
    where: { id: input.orderId },
    data: {
      revision: input.revision,
      totalAmount: orderTotal(input.lines),
      ...(input.shippingAddress ? { shippingAddress: toJson(input.shippingAddress) } : {}),
    },
  });
  await tx.orderStatusHistory.create({
    data: {
      orderId: input.orderId,
      seq: input.seq,
      fromStage: before.stage,
      toStage: before.stage,
      status: before.status,
      reason: 'AMENDED',
      revision: input.revision,
    },
  });
  const after = await loadSnapshot(tx, input.orderId);
  return [orderAmended(before, after, input.revision, new Date(), input)];
}

export async function cancel(tx: Tx, input: StepInput & { reason: CancellationReason }): Promise<DomainEvent[]> {
  await recordTransition(tx, { ...input, to: Stage.CANCELLED }, { reason: input.reason });
  return [orderCancelled(await loadSnapshot(tx, input.orderId), input.reason, new Date(), input)];
}

export async function complete(tx: Tx, input: StepInput): Promise<DomainEvent[]> {
  await recordTransition(tx, { ...input, to: Stage.COMPLETED });
  return [orderCompleted(await loadSnapshot(tx, input.orderId), new Date(), input)];
}

/** Operators find flagged orders by this column and the NeedsAttention search attribute. */
export async function flag(tx: Tx, input: StepInput & { needsAttention: boolean }): Promise<DomainEvent[]> {
  await tx.order.update({ where: { id: input.orderId }, data: { needsAttention: input.needsAttention } });
  return [];
}
