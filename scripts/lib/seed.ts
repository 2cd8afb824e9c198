import { adjustStock } from '../../src/inventory/adjust.js';
import type { Db } from '../../src/db/client.js';
import type { OutboxWriter } from '../../src/events/outbox.js';

/** A small catalog with fixed ids, so the README's curl examples work on every machine. */
export const SEED_PRODUCTS = [
  {
    id: '11111111-1111-4111-8111-111111111111',
    sku: 'TSHIRT-BLK-M',
    name: 'FlowMart T-shirt, black, M',
    unitPrice: 1999,
    stock: 100,
  },
  {
    id: '22222222-2222-4222-8222-222222222222',
    sku: 'MUG-WHT',
    name: 'FlowMart mug, white',
    unitPrice: 1250,
    stock: 50,
  },
  {
    id: '33333333-3333-4333-8333-333333333333',
    sku: 'HOODIE-GRY-L',
    name: 'FlowMart hoodie, grey, L',
    unitPrice: 4999,
    stock: 20,
  },
  {
    id: '44444444-4444-4444-8444-444444444444',
    sku: 'STICKERS-10',
    name: 'Sticker pack (10)',
    unitPrice: 399,
    stock: 500,
  },
  {
    id: '55555555-5555-4555-8555-555555555555',
    sku: 'PRINT-LTD',
    name: 'Limited edition print',
    unitPrice: 9900,
    stock: 1,
  },
] as const;

export const SEED_WAREHOUSE = 'WH-MAIN';

/** Inserts the catalog products that are missing and gives each its initial stock once. */
export async function seedCatalog(db: Db, outbox: OutboxWriter): Promise<number> {
  let added = 0;
  for (const { stock, ...product } of SEED_PRODUCTS) {
    const created = await db.product.createMany({ data: [{ ...product, currency: 'USD' }], skipDuplicates: true });
    if (created.count === 0) continue;
    added += 1;
    await adjustStock(db, outbox, {
      productId: product.id,
      warehouseId: SEED_WAREHOUSE,
      quantityChange: stock,
      adjustmentId: `seed:${product.sku}`,
      causationId: 'seed',
      reason: 'initial stock',
    });
  }
  return added;
}
