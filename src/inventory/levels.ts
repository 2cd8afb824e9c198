import type { Tx } from '../db/client.js';
import type { StockLevel } from '../events/inventory-events.js';

/** One warehouse row of a product joined with the product's name, as every stock query returns it. */
export interface StockRow {
  product_id: string;
  warehouse_id: string;
  on_hand: number;
  reserved: number;
  sku: string;
  name: string;
}

export function level(row: StockRow): StockLevel {
  return {
    productId: row.product_id,
    warehouseId: row.warehouse_id,
    onHand: row.on_hand,
    reserved: row.reserved,
    sku: row.sku,
    productName: row.name,
  };
}

/** Reads and locks one warehouse row, so the change that follows compares against what it replaces. */
export async function lockLevel(tx: Tx, productId: string, warehouseId: string): Promise<StockRow | undefined> {
  const [row] = await tx.$queryRaw<StockRow[]>`
    SELECT i.product_id, i.warehouse_id, i.on_hand, i.reserved, p.sku, p.name
    FROM inventory_items i JOIN products p ON p.id = i.product_id
    WHERE i.product_id = ${productId}::uuid AND i.warehouse_id = ${warehouseId} FOR UPDATE`;
  return row;
}

/** Changes on hand and reserved of one warehouse row by the given amounts and returns the row after. */
export async function shiftLevel(
  tx: Tx,
  productId: string,
  warehouseId: string,
  delta: { onHand: number; reserved: number }
): Promise<StockRow | undefined> {
  const [row] = await tx.$queryRaw<StockRow[]>`
    WITH changed AS (
      UPDATE inventory_items SET on_hand = on_hand + ${delta.onHand}, reserved = reserved + ${delta.reserved},
        updated_at = now()
      WHERE product_id = ${productId}::uuid AND warehouse_id = ${warehouseId}
      RETURNING product_id, warehouse_id, on_hand, reserved)
    SELECT c.*, p.sku, p.name FROM changed c JOIN products p ON p.id = c.product_id`;
  return row;
}
