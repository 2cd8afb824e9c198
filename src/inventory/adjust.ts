import type { Db, Tx } from '../db/client.js';
import type { Causation } from '../domain/causation.js';
import type { StockChange, StockLevel } from '../events/inventory-events.js';
import { AdjustmentType, stockChangeEvents } from '../events/inventory-events.js';
import type { OutboxWriter } from '../events/outbox.js';
import { level, lockLevel, shiftLevel } from './levels.js';

/** Stock added or removed by an operator or an external InventoryAdjusted message. */
export interface StockAdjustment extends Causation {
  productId: string;
  warehouseId: string;
  quantityChange: number;
  /** Identifies the adjustment, so the same request or message applied twice changes stock once. */
  adjustmentId: string;
  reason?: string;
  /** The order the units came back from (a return's restock). */
  orderId?: string;
}

export class InsufficientStockError extends Error {
  readonly code = 'INSUFFICIENT_STOCK';
  constructor(message: string) {
    super(message);
    this.name = 'InsufficientStockError';
  }
}

/**
 * Applies a stock adjustment once per `adjustmentId`: the id is claimed in the transaction that changes the stock, so
 * a retry of an adjustment that was applied (its answer lost to a 503 or a timeout) changes nothing and returns the
 * level as it is now. Removing more than is available (reserved units included) is refused.
 */
export async function adjustStock(db: Db, outbox: OutboxWriter, adjustment: StockAdjustment): Promise<StockLevel> {
  return db.$transaction((tx) => applyStockAdjustment(tx, outbox, adjustment));
}

/** The adjustment inside a caller's transaction (a return's fenced step restocks with it). */
export async function applyStockAdjustment(
  tx: Tx,
  outbox: OutboxWriter,
  adjustment: StockAdjustment
): Promise<StockLevel> {
  const { productId, warehouseId, quantityChange } = adjustment;
  await tx.$executeRaw`
    INSERT INTO inventory_items (product_id, warehouse_id) VALUES (${productId}::uuid, ${warehouseId})
    ON CONFLICT DO NOTHING`;
  const before = await lockLevel(tx, productId, warehouseId);
  if (!before) throw new InsufficientStockError(`product ${productId} does not exist`);
  const claimed = await tx.$executeRaw`
    INSERT INTO stock_adjustments (adjustment_id, product_id, warehouse_id, quantity_change)
    VALUES (${adjustment.adjustmentId}, ${productId}::uuid, ${warehouseId}, ${quantityChange})
    ON CONFLICT (adjustment_id) DO NOTHING`;
  if (claimed === 0) return level(before);
  if (before.on_hand - before.reserved + quantityChange < 0) {
    throw new InsufficientStockError(
      `cannot remove ${-quantityChange} units: only ${before.on_hand - before.reserved} are available`
    );
  }
  const after = await shiftLevel(tx, productId, warehouseId, { onHand: quantityChange, reserved: 0 });
  const change: StockChange = {
    before: level(before),
    after: level(after!),
    adjustmentType: quantityChange >= 0 ? AdjustmentType.RESTOCKED : AdjustmentType.ADJUSTED,
    ...(adjustment.reason ? { reason: adjustment.reason } : {}),
    ...(adjustment.orderId ? { orderId: adjustment.orderId } : {}),
  };
  await outbox.append(
    tx,
    stockChangeEvents(
      change,
      `stock:${adjustment.adjustmentId}`,
      adjustment.orderId ?? adjustment.adjustmentId,
      adjustment
    )
  );
  return change.after;
}

/**
 * Returned units back on hand in the warehouse they left from, one adjustment per line keyed by the return, so a
 * retried step restocks once.
 */
export async function restockReturned(
  tx: Tx,
  outbox: OutboxWriter,
  returned: { returnId: string; orderId: string; lines: readonly { productId: string; quantity: number }[] },
  cause: Causation
): Promise<void> {
  for (const line of returned.lines) {
    const shippedFrom = await tx.reservation.findFirst({
      where: { orderId: returned.orderId, productId: line.productId, status: 'COMMITTED' },
      orderBy: { warehouseId: 'asc' },
    });
    if (!shippedFrom) continue;
    await applyStockAdjustment(tx, outbox, {
      productId: line.productId,
      warehouseId: shippedFrom.warehouseId,
      quantityChange: line.quantity,
      adjustmentId: `return:${returned.returnId}:${line.productId}`,
      reason: `return ${returned.returnId}`,
      orderId: returned.orderId,
      causationId: cause.causationId,
      ...(cause.traceparent ? { traceparent: cause.traceparent } : {}),
    });
  }
}
