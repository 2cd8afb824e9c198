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
  return {
    orderId: order.id,
    customerId: order.customerId,
    currency: order.currency,
    totalAmount: fromStoredMoney(order.totalAmount),
    status: statusOf(order.stage as Stage),
    stage: order.stage as Stage,
    lines: order.items
      .map((item) => ({
        productId: item.productId,
        sku: item.sku,
        name: item.productName,
        quantity: item.quantity,
        unitPrice: fromStoredMoney(item.unitPrice),
      }))
      .sort((a, b) => a.sku.localeCompare(b.sku)),
  };
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

async function recordTransition(tx: Tx, change: StageChange, extra: object = {}) {
  const previous = await tx.order.findUniqueOrThrow({ where: { id: change.orderId } });
  await tx.order.update({
    where: { id: change.orderId },
    data: { stage: change.to, status: statusOf(change.to), ...extra },
  });
  await tx.orderStatusHistory.create({
    data: {
      orderId: change.orderId,
      seq: change.seq,
      fromStage: previous.stage,
      toStage: change.to,
      status: statusOf(change.to),
      reason: change.reason ?? null,
      revision: previous.revision,
    },
  });
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
  return [orderCreated(await loadSnapshot(tx, input.orderId), new Date(), input)];
}

/** A transition that publishes nothing of its own (the step's other activities do). */
export async function recordStage(tx: Tx, change: StageChange): Promise<DomainEvent[]> {
  await recordTransition(tx, change);
  return [];
}

/**
 * Confirms only an order whose stock is still held: the sweeper may have released an expired hold. The HELD rows are
 * locked first, so a sweep cannot expire them between the check and the confirmation (it skips locked rows), and a
 * sweep already under way is waited for and its outcome seen.
 */
export async function confirm(tx: Tx, change: StepInput): Promise<DomainEvent[]> {
  await tx.$queryRaw`SELECT 1 FROM reservations WHERE order_id = ${change.orderId}::uuid AND status = 'HELD' FOR UPDATE`;
  const missing = await tx.$queryRaw<{ product_id: string }[]>`
    SELECT i.product_id FROM order_items i
    LEFT JOIN reservations r ON r.order_id = i.order_id AND r.product_id = i.product_id AND r.status = 'HELD'
    WHERE i.order_id = ${change.orderId}::uuid
    GROUP BY i.product_id, i.quantity HAVING coalesce(sum(r.quantity), 0) < i.quantity`;
  if (missing.length > 0) {
    throw ApplicationFailure.nonRetryable(
      'the stock hold expired before confirmation',
      ActivityErrorType.ReservationExpired
    );
  }
  await recordTransition(tx, { ...change, to: Stage.CONFIRMED });
  // A confirmed order keeps its stock until it ships: the 15-minute hold is for unconfirmed checkouts.
  await tx.reservation.updateMany({ where: { orderId: change.orderId, status: 'HELD' }, data: { expiresAt: null } });
  return [orderConfirmed(await loadSnapshot(tx, change.orderId), new Date(), 'confirmed', change)];
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
  await recordTransition(
    tx,
    { ...input, to: Stage.CANCELLED },
    { cancellationReason: input.reason, needsAttention: false }
  );
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
