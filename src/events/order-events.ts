import { toDecimal } from '../domain/money.js';
import type { CancellationReason, OrderLine, OrderStatus } from '../domain/order.js';
import type { Causation } from '../domain/causation.js';
import type { DomainEvent } from './envelope.js';

/** The order as the orders context publishes it. */
export interface OrderSnapshot {
  orderId: string;
  customerId: string;
  currency: string;
  lines: readonly OrderLine[];
  totalAmount: number;
  status: OrderStatus;
}

function orderEvent<T>(type: string, version: string, order: OrderSnapshot, key: string, cause: Causation, data: T) {
  const event: DomainEvent<T> = {
    context: 'orders',
    type,
    version,
    subject: order.orderId,
    data,
    idempotencyKey: `${order.orderId}:${key}`,
    correlationId: order.orderId,
    causationId: cause.causationId,
    ...(cause.traceparent ? { traceparent: cause.traceparent } : {}),
  };
  return event;
}

function flowmartItems(order: OrderSnapshot) {
  return order.lines.map((line) => ({
    productId: line.productId,
    productName: line.name,
    quantity: line.quantity,
    unitPrice: toDecimal(line.unitPrice, order.currency),
    totalPrice: toDecimal(line.unitPrice * line.quantity, order.currency),
  }));
}

export function orderCreated(order: OrderSnapshot, createdAt: Date, cause: Causation) {
  return orderEvent('OrderCreated', '1.0.0', order, 'created', cause, {
    orderId: order.orderId,
    customerId: order.customerId,
    status: 'created',
    items: order.lines.map((line) => ({
      sku: line.sku,
      productId: line.productId,
      quantity: line.quantity,
      unitPrice: line.unitPrice,
    })),
    total: order.totalAmount,
    currency: order.currency,
    createdAt: createdAt.toISOString(),
  });
}

export function orderConfirmed(order: OrderSnapshot, at: Date, key: string, cause: Causation) {
  return orderEvent('OrderConfirmed', '0.0.1', order, key, cause, {
    orderId: order.orderId,
    userId: order.customerId,
    orderItems: flowmartItems(order),
    orderStatus: 'confirmed',
    totalAmount: toDecimal(order.totalAmount, order.currency),
    confirmationTimestamp: at.toISOString(),
  });
}

export function orderCancelled(order: OrderSnapshot, reason: CancellationReason, at: Date, cause: Causation) {
  return orderEvent('OrderCancelled', '0.0.1', order, 'cancelled', cause, {
    orderId: order.orderId,
    userId: order.customerId,
    orderItems: flowmartItems(order),
    orderStatus: 'cancelled',
    totalAmount: toDecimal(order.totalAmount, order.currency),
    cancellationReason: reason,
    timestamp: at.toISOString(),
  });
}

/** Lines added have oldQuantity 0, removed lines newQuantity 0, as the catalog's item shape has no other way. */
export function orderAmended(
  before: OrderSnapshot,
  after: OrderSnapshot,
  revision: number,
  at: Date,
  cause: Causation
) {
  const previous = new Map(before.lines.map((line) => [line.productId, line]));
  const current = new Map(after.lines.map((line) => [line.productId, line]));
  const productIds = [...new Set([...previous.keys(), ...current.keys()])];
  const amendedItems = productIds.flatMap((productId) => {
    const old = previous.get(productId);
    const now = current.get(productId);
    const line = (now ?? old)!;
    const oldQuantity = old?.quantity ?? 0;
    const newQuantity = now?.quantity ?? 0;
    if (oldQuantity === newQuantity) return [];
    return [
      {
        productId,
        productName: line.name,
        oldQuantity,
        newQuantity,
        unitPrice: toDecimal(line.unitPrice, after.currency),
        totalPrice: toDecimal(line.unitPrice * newQuantity, after.currency),
      },
    ];
  });
  return orderEvent('OrderAmended', '0.0.1', after, `amended:r${revision}`, cause, {
    orderId: after.orderId,
    userId: after.customerId,
    amendedItems,
    orderStatus: after.status,
    totalAmount: toDecimal(after.totalAmount, after.currency),
    timestamp: at.toISOString(),
  });
}

export function orderCompleted(order: OrderSnapshot, at: Date, cause: Causation) {
  return orderEvent('OrderCompleted', '1.0.0', order, 'completed', cause, {
    orderId: order.orderId,
    customerId: order.customerId,
    completedAt: at.toISOString(),
  });
}
