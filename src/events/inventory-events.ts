import type { Causation } from '../domain/causation.js';
import type { DomainEvent } from './envelope.js';

export const AdjustmentType = {
  RESERVED: 'RESERVED',
  RELEASED: 'RELEASED',
  COMMITTED: 'COMMITTED',
  RESTOCKED: 'RESTOCKED',
  ADJUSTED: 'ADJUSTED',
} as const;
export type AdjustmentType = (typeof AdjustmentType)[keyof typeof AdjustmentType];

export interface StockLevel {
  productId: string;
  sku: string;
  productName: string;
  warehouseId: string;
  onHand: number;
  reserved: number;
}

export interface StockChange {
  before: StockLevel;
  after: StockLevel;
  adjustmentType: AdjustmentType;
  orderId?: string;
  reason?: string;
}

const available = (level: StockLevel) => level.onHand - level.reserved;

/** InventoryAdjusted for every change, plus OutOfStock when the change takes the last available unit. */
export function stockChangeEvents(change: StockChange, key: string, correlationId: string, cause: Causation) {
  const { before, after } = change;
  const common = {
    context: 'inventory' as const,
    subject: after.productId,
    correlationId,
    causationId: cause.causationId,
    ...(cause.traceparent ? { traceparent: cause.traceparent } : {}),
  };
  const timestamp = new Date().toISOString();
  const events: DomainEvent[] = [
    {
      ...common,
      type: 'InventoryAdjusted',
      version: '1.0.1',
      idempotencyKey: `${key}:adjusted`,
      data: {
        productId: after.productId,
        sku: after.sku,
        warehouseId: after.warehouseId,
        adjustmentType: change.adjustmentType,
        quantityChange: available(after) - available(before),
        previousAvailable: available(before),
        newAvailable: available(after),
        onHand: after.onHand,
        reserved: after.reserved,
        ...(change.orderId ? { orderId: change.orderId } : {}),
        ...(change.reason ? { reason: change.reason } : {}),
        timestamp,
      },
    },
  ];
  if (available(before) > 0 && available(after) === 0) {
    events.push({
      ...common,
      type: 'OutOfStock',
      version: '0.0.4',
      idempotencyKey: `${key}:out-of-stock`,
      data: {
        productId: after.productId,
        sku: after.sku,
        productName: after.productName,
        warehouseId: after.warehouseId,
        previousQuantity: available(before),
        currentQuantity: 0,
        ...(change.orderId ? { triggeredByOrderId: change.orderId } : {}),
        timestamp,
      },
    });
  }
  return events;
}
