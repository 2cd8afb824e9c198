import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Db, Tx } from '../db/client.js';
import type { StockChange, StockLevel } from '../events/inventory-events.js';
import { AdjustmentType, stockChangeEvents } from '../events/inventory-events.js';
import type { OutboxWriter } from '../events/outbox.js';
import type { OutOfStockDetails } from '../domain/failures.js';
import { ActivityErrorType } from '../domain/failures.js';
import type { Causation, StepInput } from './step.js';
import { claimStep } from './step.js';

export interface HoldStockInput extends StepInput {
  /** What the order should hold after this step, per product; products left out are released. */
  lines: { productId: string; quantity: number }[];
  /** How long an unconfirmed order may hold the stock; null once confirmed (it is then held until dispatch). */
  holdMs: number | null;
}

export type HeldStock = Record<string, number>;

interface StockRow {
  product_id: string;
  warehouse_id: string;
  on_hand: number;
  reserved: number;
  sku: string;
  name: string;
}

function level(row: StockRow): StockLevel {
  return {
    productId: row.product_id,
    warehouseId: row.warehouse_id,
    onHand: row.on_hand,
    reserved: row.reserved,
    sku: row.sku,
    productName: row.name,
  };
}

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

/** The warehouse with the most available units for a product, if any has `quantity` available. */
async function pickWarehouse(tx: Tx, productId: string, quantity: number) {
  const rows = await tx.$queryRaw<{ warehouse_id: string; available: number }[]>`
    SELECT warehouse_id, on_hand - reserved AS available FROM inventory_items
    WHERE product_id = ${productId}::uuid ORDER BY on_hand - reserved DESC, warehouse_id LIMIT 1`;
  const best = rows[0];
  return best && best.available >= quantity ? best.warehouse_id : undefined;
}

async function outOfStock(tx: Tx, productId: string, requested: number): Promise<never> {
  const product = await tx.product.findUnique({ where: { id: productId }, include: { inventory: true } });
  if (!product) {
    throw ApplicationFailure.nonRetryable(`product ${productId} does not exist`, ActivityErrorType.UnknownProduct);
  }
  const available = Math.max(0, ...product.inventory.map((row) => row.onHand - row.reserved));
  const details: OutOfStockDetails = { productId, sku: product.sku, requested, available };
  throw ApplicationFailure.create({
    message: `${product.sku}: ${requested} requested, ${available} available`,
    type: ActivityErrorType.OutOfStock,
    nonRetryable: true,
    details: [details],
  });
}

export function createInventoryActivities(db: Db, outbox: OutboxWriter) {
  async function heldStock(tx: Tx | Db, orderId: string): Promise<HeldStock> {
    const rows = await tx.reservation.findMany({ where: { orderId, status: 'HELD' } });
    const held: HeldStock = {};
    for (const row of rows) held[row.productId] = (held[row.productId] ?? 0) + row.quantity;
    return held;
  }

  async function publish(tx: Tx, changes: StockChange[], input: StepInput) {
    await outbox.append(
      tx,
      changes.flatMap((change) =>
        stockChangeEvents(change, `${input.orderId}:${input.seq}:${change.after.productId}`, input.orderId, input)
      )
    );
  }

  async function applyHold(tx: Tx, input: HoldStockInput): Promise<StockChange[]> {
    const target = new Map(input.lines.map((line) => [line.productId, line.quantity]));
    const reservations = await tx.reservation.findMany({
      where: { orderId: input.orderId, status: 'HELD' },
      orderBy: [{ productId: 'asc' }, { warehouseId: 'asc' }],
    });
    const changes: StockChange[] = [];
    const expiresAt = input.holdMs === null ? null : new Date(Date.now() + input.holdMs);
    // Releases first, so an amendment that moves units between lines can use what it frees.
    for (const reservation of reservations) {
      const wanted = target.get(reservation.productId) ?? 0;
      const alreadyKept = input.lines.length === 0 ? 0 : Math.min(wanted, reservation.quantity);
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
        orderId: input.orderId,
      });
    }
    for (const [productId, quantity] of [...target.entries()].sort()) {
      if (quantity <= 0) continue;
      const warehouseId = await pickWarehouse(tx, productId, quantity);
      const before = warehouseId && (await shiftReserved(tx, productId, warehouseId, 0));
      const after = warehouseId && (await shiftReserved(tx, productId, warehouseId, quantity));
      if (!before || !after) return outOfStock(tx, productId, quantity);
      await tx.$executeRaw`
        INSERT INTO reservations (id, order_id, product_id, warehouse_id, quantity, status, expires_at)
        VALUES (${randomUUID()}::uuid, ${input.orderId}::uuid, ${productId}::uuid, ${warehouseId}, ${quantity}, 'HELD', ${expiresAt})
        ON CONFLICT (order_id, product_id, warehouse_id)
        DO UPDATE SET quantity = CASE WHEN reservations.status = 'HELD' THEN reservations.quantity ELSE 0 END
                                 + EXCLUDED.quantity,
                      status = 'HELD', expires_at = EXCLUDED.expires_at, updated_at = now()`;
      changes.push({
        before: level(before),
        after: level(after),
        adjustmentType: AdjustmentType.RESERVED,
        orderId: input.orderId,
      });
    }
    return changes;
  }

  return {
    /**
     * Makes the order hold exactly `lines`: reserves what is missing, releases what is no longer wanted, in one
     * transaction. Out of stock is a non-retryable failure that leaves everything as it was.
     */
    async holdStock(input: HoldStockInput): Promise<HeldStock> {
      return db.$transaction(async (tx) => {
        if (await claimStep(tx, input.orderId, input.seq)) await publish(tx, await applyHold(tx, input), input);
        return heldStock(tx, input.orderId);
      });
    },

    async releaseStock(input: StepInput): Promise<HeldStock> {
      return db.$transaction(async (tx) => {
        if (await claimStep(tx, input.orderId, input.seq)) {
          await publish(tx, await applyHold(tx, { ...input, lines: [], holdMs: null }), input);
        }
        return heldStock(tx, input.orderId);
      });
    },

    /** At dispatch the reserved units leave the warehouse: on hand and reserved both drop. */
    async commitStock(input: StepInput): Promise<void> {
      await db.$transaction(async (tx) => {
        if (!(await claimStep(tx, input.orderId, input.seq))) return;
        const reservations = await tx.reservation.findMany({ where: { orderId: input.orderId, status: 'HELD' } });
        const changes: StockChange[] = [];
        for (const reservation of reservations) {
          const [before] = await tx.$queryRaw<StockRow[]>`
            SELECT i.product_id, i.warehouse_id, i.on_hand, i.reserved, p.sku, p.name
            FROM inventory_items i JOIN products p ON p.id = i.product_id
            WHERE i.product_id = ${reservation.productId}::uuid AND i.warehouse_id = ${reservation.warehouseId} FOR UPDATE`;
          const [after] = await tx.$queryRaw<StockRow[]>`
            WITH changed AS (
              UPDATE inventory_items SET on_hand = on_hand - ${reservation.quantity},
                reserved = reserved - ${reservation.quantity}, updated_at = now()
              WHERE product_id = ${reservation.productId}::uuid AND warehouse_id = ${reservation.warehouseId}
              RETURNING product_id, warehouse_id, on_hand, reserved)
            SELECT c.*, p.sku, p.name FROM changed c JOIN products p ON p.id = c.product_id`;
          await tx.reservation.update({
            where: { id: reservation.id },
            data: { status: 'COMMITTED', updatedAt: new Date() },
          });
          changes.push({
            before: level(before!),
            after: level(after!),
            adjustmentType: AdjustmentType.COMMITTED,
            orderId: input.orderId,
          });
        }
        await publish(tx, changes, input);
      });
    },
  };
}

/** Stock added or removed by an operator or an external InventoryAdjusted message. */
export interface StockAdjustment extends Causation {
  productId: string;
  warehouseId: string;
  quantityChange: number;
  /** Identifies the adjustment, so the same request or message applied twice changes stock once. */
  adjustmentId: string;
  reason?: string;
}

export class InsufficientStockError extends Error {
  readonly code = 'INSUFFICIENT_STOCK';
  constructor(message: string) {
    super(message);
    this.name = 'InsufficientStockError';
  }
}

/** Applies a stock adjustment; removing more than is available (reserved units included) is refused. */
export async function adjustStock(db: Db, outbox: OutboxWriter, adjustment: StockAdjustment): Promise<StockLevel> {
  return db.$transaction(async (tx) => {
    await tx.$executeRaw`
      INSERT INTO inventory_items (product_id, warehouse_id) VALUES (${adjustment.productId}::uuid, ${adjustment.warehouseId})
      ON CONFLICT DO NOTHING`;
    const [before] = await tx.$queryRaw<StockRow[]>`
      SELECT i.product_id, i.warehouse_id, i.on_hand, i.reserved, p.sku, p.name
      FROM inventory_items i JOIN products p ON p.id = i.product_id
      WHERE i.product_id = ${adjustment.productId}::uuid AND i.warehouse_id = ${adjustment.warehouseId} FOR UPDATE`;
    if (!before) throw new InsufficientStockError(`product ${adjustment.productId} does not exist`);
    if (before.on_hand - before.reserved + adjustment.quantityChange < 0) {
      throw new InsufficientStockError(
        `cannot remove ${-adjustment.quantityChange} units: only ${before.on_hand - before.reserved} are available`
      );
    }
    const [after] = await tx.$queryRaw<StockRow[]>`
      WITH changed AS (
        UPDATE inventory_items SET on_hand = on_hand + ${adjustment.quantityChange}, updated_at = now()
        WHERE product_id = ${adjustment.productId}::uuid AND warehouse_id = ${adjustment.warehouseId}
        RETURNING product_id, warehouse_id, on_hand, reserved)
      SELECT c.*, p.sku, p.name FROM changed c JOIN products p ON p.id = c.product_id`;
    const change: StockChange = {
      before: level(before),
      after: level(after!),
      adjustmentType: adjustment.quantityChange >= 0 ? AdjustmentType.RESTOCKED : AdjustmentType.ADJUSTED,
      ...(adjustment.reason ? { reason: adjustment.reason } : {}),
    };
    await outbox.append(
      tx,
      stockChangeEvents(change, `stock:${adjustment.adjustmentId}`, adjustment.adjustmentId, adjustment)
    );
    return change.after;
  });
}

/** Releases holds of unconfirmed orders older than the reservation policy allows. Returns how many. */
export async function releaseExpiredReservations(db: Db, now = new Date()): Promise<number> {
  return db.$transaction(async (tx) => {
    const expired = await tx.$queryRaw<{ id: string; product_id: string; warehouse_id: string; quantity: number }[]>`
      SELECT id, product_id, warehouse_id, quantity FROM reservations
      WHERE status = 'HELD' AND expires_at < ${now} ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 500`;
    for (const row of expired) {
      await tx.$executeRaw`
        UPDATE inventory_items SET reserved = reserved - ${row.quantity}, updated_at = now()
        WHERE product_id = ${row.product_id}::uuid AND warehouse_id = ${row.warehouse_id}`;
      await tx.$executeRaw`UPDATE reservations SET status = 'EXPIRED', updated_at = now() WHERE id = ${row.id}::uuid`;
    }
    return expired.length;
  });
}
