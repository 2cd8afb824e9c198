import { ApplicationFailure } from '@temporalio/activity';
import type { Db, Tx } from '../db/client.js';
import { toJson } from '../db/json.js';
import type { Address, CancellationReason, OrderLine } from '../domain/order.js';
import { orderTotal, Stage, statusOf } from '../domain/order.js';
import type { OrderSnapshot } from '../events/order-events.js';
import { orderAmended, orderCancelled, orderCompleted, orderConfirmed, orderCreated } from '../events/order-events.js';
import type { OutboxWriter } from '../events/outbox.js';
import { ActivityErrorType } from '../domain/failures.js';
import type { Causation, StepInput } from './step.js';
import { claimStep } from './step.js';

export interface CreateOrderInput extends Causation {
  orderId: string;
  customerId: string;
  lines: OrderLine[];
  currency: string;
  shippingAddress: Address;
  billingAddress?: Address;
  paymentMethod: string;
  subscriptionId?: string;
}

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
    totalAmount: order.totalAmount,
    status: statusOf(order.stage as Stage),
    stage: order.stage as Stage,
    lines: order.items
      .map((item) => ({
        productId: item.productId,
        sku: item.sku,
        name: item.productName,
        quantity: item.quantity,
        unitPrice: item.unitPrice,
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

async function recordTransition(tx: Tx, change: StageChange, revision: number, extra: object = {}) {
  const previous = await tx.order.findUniqueOrThrow({ where: { id: change.orderId }, select: { stage: true } });
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
      revision,
    },
  });
}

export function createOrderActivities(db: Db, outbox: OutboxWriter) {
  /** Runs a fenced step in one transaction; a stale or repeated step is a no-op. */
  async function step(input: StepInput, apply: (tx: Tx) => Promise<void>): Promise<void> {
    await db.$transaction(async (tx) => {
      if (await claimStep(tx, input.orderId, input.seq)) await apply(tx);
    });
  }

  return {
    /** Prices lines from the product catalog; the workflow uses it for amendments sent without prices. */
    async priceLines(items: { productId: string; quantity: number }[]): Promise<OrderLine[]> {
      const products = await db.product.findMany({ where: { id: { in: items.map((item) => item.productId) } } });
      const byId = new Map(products.map((product) => [product.id, product]));
      return items.map((item) => {
        const product = byId.get(item.productId);
        if (!product) {
          throw ApplicationFailure.nonRetryable(
            `product ${item.productId} does not exist`,
            ActivityErrorType.UnknownProduct
          );
        }
        return {
          productId: product.id,
          sku: product.sku,
          name: product.name,
          quantity: item.quantity,
          unitPrice: product.unitPrice,
        };
      });
    },

    /** Persists the order and publishes OrderCreated; a second call for the same order changes nothing. */
    async createOrder(input: CreateOrderInput): Promise<void> {
      await db.$transaction(async (tx) => {
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
        if (inserted.count === 0) return;
        await insertLines(tx, input.orderId, input.lines);
        await tx.orderStatusHistory.create({
          data: { orderId: input.orderId, seq: 1, toStage: Stage.PENDING, status: 'pending', revision: 1 },
        });
        const snapshot = await loadSnapshot(tx, input.orderId);
        await outbox.append(tx, [orderCreated(snapshot, new Date(), input)]);
      });
    },

    /** A transition that publishes nothing of its own (the step's other activities do). */
    async recordStage(change: StageChange): Promise<void> {
      await step(change, async (tx) => {
        const { revision } = await tx.order.findUniqueOrThrow({ where: { id: change.orderId } });
        await recordTransition(tx, change, revision);
      });
    },

    /** Confirms only an order whose stock is still held: the sweeper may have released an expired hold. */
    async confirmOrder(change: StepInput): Promise<void> {
      await step(change, async (tx) => {
        const { revision } = await tx.order.findUniqueOrThrow({ where: { id: change.orderId } });
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
        await recordTransition(tx, { ...change, to: Stage.CONFIRMED }, revision);
        // A confirmed order keeps its stock until it ships: the 15-minute hold is for unconfirmed checkouts.
        await tx.reservation.updateMany({
          where: { orderId: change.orderId, status: 'HELD' },
          data: { expiresAt: null },
        });
        const snapshot = await loadSnapshot(tx, change.orderId);
        await outbox.append(tx, [orderConfirmed(snapshot, new Date(), 'confirmed', change)]);
      });
    },

    async applyAmendment(input: AmendmentInput): Promise<void> {
      await step(input, async (tx) => {
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
        await outbox.append(tx, [orderAmended(before, after, input.revision, new Date(), input)]);
      });
    },

    async cancelOrder(input: StepInput & { reason: CancellationReason }): Promise<void> {
      await step(input, async (tx) => {
        const { revision } = await tx.order.findUniqueOrThrow({ where: { id: input.orderId } });
        await recordTransition(tx, { ...input, to: Stage.CANCELLED }, revision, {
          cancellationReason: input.reason,
          needsAttention: false,
        });
        const snapshot = await loadSnapshot(tx, input.orderId);
        await outbox.append(tx, [orderCancelled(snapshot, input.reason, new Date(), input)]);
      });
    },

    async completeOrder(input: StepInput): Promise<void> {
      await step(input, async (tx) => {
        const { revision } = await tx.order.findUniqueOrThrow({ where: { id: input.orderId } });
        await recordTransition(tx, { ...input, to: Stage.COMPLETED }, revision);
        const snapshot = await loadSnapshot(tx, input.orderId);
        await outbox.append(tx, [orderCompleted(snapshot, new Date(), input)]);
      });
    },

    /** Operators find flagged orders by this column and the NeedsAttention search attribute. */
    async setNeedsAttention(input: StepInput & { needsAttention: boolean; reason?: string }): Promise<void> {
      await step(input, async (tx) => {
        await tx.order.update({ where: { id: input.orderId }, data: { needsAttention: input.needsAttention } });
      });
    },
  };
}
