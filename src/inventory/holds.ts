import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Db, Tx } from '../db/client.js';
import type { StepInput } from '../domain/causation.js';
import type { OutOfStockDetails } from '../domain/failures.js';
import { ActivityErrorType } from '../domain/failures.js';
import type { DomainEvent } from '../events/envelope.js';
import type { StockChange } from '../events/inventory-events.js';
import { AdjustmentType, stockChangeEvents } from '../events/inventory-events.js';
import type { StockRow } from './levels.js';
import { level, lockLevel, shiftLevel } from './levels.js';

/** What an order should hold, per product; products left out are released. */
export interface HoldRequest {
  orderId: string;
  lines: { productId: string; quantity: number }[];
  /** How long an unconfirmed order may hold the stock; null once confirmed (it is then held until dispatch). */
  holdMs: number | null;
  /** A line may take its units from several warehouses when none holds them all (split fulfilment). */
  split?: boolean;
}

export type HeldStock = Record<string, number>;

/**
 * Moves `delta` units between available and reserved in one warehouse row. The WHERE clause is the oversell
 * guard: Postgres re-checks it after waiting for a concurrent writer's lock, so two orders can never both take
 * the last unit (and the table's CHECK constraints back it up).
 */
async function shiftReserved(tx: Tx, productId: string, warehouseId: string, delta: number) {
  const rows = await tx.$queryRaw<StockRow[]>`
    WITH changed AS (
      UPDATE inventory_items SET reserved = reserved + ${delta}, updated_at = now()
      WHERE product_id = ${productId}::uuid AND warehouse_id = ${warehouseId} AND on_hand - reserved >= ${delta}
      RETURNING product_id, warehouse_id, on_hand, reserved)
    SELECT c.*, p.sku, p.name FROM changed c JOIN products p ON p.id = c.product_id`;
  return rows[0];
}

/**
 * Where to take `quantity` units of a product from: the warehouse with the most available units if it has them all;
 * with `split`, else the warehouses with the most available units one after another until the quantity is covered.
 * Undefined when the stock is not there.
 */
async function pickWarehouses(tx: Tx, productId: string, quantity: number, split: boolean) {
  const rows = await tx.$queryRaw<{ warehouse_id: string; available: number }[]>`
    SELECT warehouse_id, on_hand - reserved AS available FROM inventory_items
    WHERE product_id = ${productId}::uuid AND on_hand - reserved > 0 ORDER BY on_hand - reserved DESC, warehouse_id`;
  const best = rows[0];
  if (best && best.available >= quantity) return [{ warehouseId: best.warehouse_id, quantity }];
  if (!split) return undefined;
  const parts: { warehouseId: string; quantity: number }[] = [];
  let missing = quantity;
  for (const row of rows) {
    if (missing === 0) break;
    const take = Math.min(missing, row.available);
    parts.push({ warehouseId: row.warehouse_id, quantity: take });
    missing -= take;
  }
  return missing === 0 ? parts : undefined;
}

async function outOfStock(tx: Tx, productId: string, requested: number, split: boolean): Promise<never> {
  const product = await tx.product.findUnique({ where: { id: productId }, include: { inventory: true } });
  if (!product) {
    throw ApplicationFailure.nonRetryable(`product ${productId} does not exist`, ActivityErrorType.UnknownProduct);
  }
  const availableIn = product.inventory.map((row) => Math.max(0, row.onHand - row.reserved));
  // What one request could have taken: every warehouse's stock when lines may split, else the best warehouse's.
  const available = split ? availableIn.reduce((sum, units) => sum + units, 0) : Math.max(0, ...availableIn);
  const details: OutOfStockDetails = { productId, sku: product.sku, requested, available };
  throw ApplicationFailure.create({
    message: `${product.sku}: ${requested} requested, ${available} available`,
    type: ActivityErrorType.OutOfStock,
    nonRetryable: true,
    details: [details],
  });
}

/** Units the order holds now, per product. */
export async function heldStock(tx: Tx | Db, orderId: string): Promise<HeldStock> {
  const rows = await tx.reservation.findMany({ where: { orderId, status: 'HELD' } });
  const held: HeldStock = {};
  for (const row of rows) held[row.productId] = (held[row.productId] ?? 0) + row.quantity;
  return held;
}

/**
 * The order's HELD reservations, locked until the transaction ends. The sweeper locks the rows it expires (SKIP
 * LOCKED): a step that locked them first keeps them, and a step that waited for a sweep re-reads them after it and
 * sees them EXPIRED, so a unit is never released twice nor counted as held after it was swept.
 */
async function lockHeld(tx: Tx, orderId: string) {
  return tx.$queryRaw<{ id: string; productId: string; warehouseId: string; quantity: number }[]>`
    SELECT id, product_id AS "productId", warehouse_id AS "warehouseId", quantity FROM reservations
    WHERE order_id = ${orderId}::uuid AND status = 'HELD' ORDER BY product_id, warehouse_id FOR UPDATE`;
}

/**
 * The events reporting a step's stock changes, keyed by step and product so a retry records them once. A product
 * changed in several warehouses in one step (a split line) numbers its further changes, so none replaces another.
 */
export function stockStepEvents(changes: readonly StockChange[], step: StepInput): DomainEvent[] {
  const seen = new Map<string, number>();
  return changes.flatMap((change) => {
    const { productId } = change.after;
    const earlier = seen.get(productId) ?? 0;
    seen.set(productId, earlier + 1);
    const key = `${step.orderId}:${step.seq}:${productId}${earlier === 0 ? '' : `:${earlier}`}`;
    return stockChangeEvents(change, key, step.orderId, step);
  });
}

/**
 * Makes the order hold exactly `request.lines`: reserves what is missing, releases what is no longer wanted.
 * Out of stock is a non-retryable failure; the caller's transaction rolls everything back.
 */
export async function hold(tx: Tx, request: HoldRequest): Promise<StockChange[]> {
  const target = new Map(request.lines.map((line) => [line.productId, line.quantity]));
  const reservations = await lockHeld(tx, request.orderId);
  const changes: StockChange[] = [];
  const expiresAt = request.holdMs === null ? null : new Date(Date.now() + request.holdMs);
  // Releases first, so an amendment that moves units between lines can use what it frees.
  for (const reservation of reservations) {
    const wanted = target.get(reservation.productId) ?? 0;
    const alreadyKept = request.lines.length === 0 ? 0 : Math.min(wanted, reservation.quantity);
    const release = reservation.quantity - alreadyKept;
    target.set(reservation.productId, wanted - alreadyKept);
    if (release === 0) continue;
    const before = await shiftReserved(tx, reservation.productId, reservation.warehouseId, 0);
    const after = await shiftReserved(tx, reservation.productId, reservation.warehouseId, -release);
    await tx.reservation.update({
      where: { id: reservation.id },
      data: { quantity: alreadyKept, status: alreadyKept === 0 ? 'RELEASED' : 'HELD', updatedAt: new Date() },
    });
    changes.push({
      before: level(before!),
      after: level(after!),
      adjustmentType: AdjustmentType.RELEASED,
      orderId: request.orderId,
    });
  }
  const split = request.split === true;
  for (const [productId, quantity] of [...target.entries()].sort()) {
    if (quantity <= 0) continue;
    const parts = await pickWarehouses(tx, productId, quantity, split);
    if (!parts) return outOfStock(tx, productId, quantity, split);
    for (const part of parts) {
      const before = await shiftReserved(tx, productId, part.warehouseId, 0);
      const after = before && (await shiftReserved(tx, productId, part.warehouseId, part.quantity));
      if (!before || !after) return outOfStock(tx, productId, quantity, split);
      await tx.$executeRaw`
        INSERT INTO reservations (id, order_id, product_id, warehouse_id, quantity, status, expires_at)
        VALUES (${randomUUID()}::uuid, ${request.orderId}::uuid, ${productId}::uuid, ${part.warehouseId}, ${part.quantity}, 'HELD', ${expiresAt})
        ON CONFLICT (order_id, product_id, warehouse_id)
        DO UPDATE SET quantity = CASE WHEN reservations.status = 'HELD' THEN reservations.quantity ELSE 0 END
                                 + EXCLUDED.quantity,
                      status = 'HELD', expires_at = EXCLUDED.expires_at, updated_at = now()`;
      changes.push({
        before: level(before),
        after: level(after),
        adjustmentType: AdjustmentType.RESERVED,
        orderId: request.orderId,
      });
    }
  }
  return changes;
}

/**
 * At dispatch the reserved units leave the warehouse: on hand and reserved both drop. With `fromWarehouse` only that
 * warehouse's parcel left; the order's units in other warehouses stay held.
 */
export async function commit(tx: Tx, orderId: string, fromWarehouse?: string): Promise<StockChange[]> {
  const reservations = await lockHeld(tx, orderId);
  const changes: StockChange[] = [];
  for (const reservation of reservations) {
    if (fromWarehouse !== undefined && reservation.warehouseId !== fromWarehouse) continue;
    const { productId, warehouseId, quantity } = reservation;
    const before = await lockLevel(tx, productId, warehouseId);
    const after = await shiftLevel(tx, productId, warehouseId, { onHand: -quantity, reserved: -quantity });
    await tx.reservation.update({
      where: { id: reservation.id },
      data: { status: 'COMMITTED', updatedAt: new Date() },
    });
    changes.push({
      before: level(before!),
      after: level(after!),
      adjustmentType: AdjustmentType.COMMITTED,
      orderId,
    });
  }
  return changes;
}
