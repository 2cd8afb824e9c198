import { z } from 'zod';
import { Currency, MinorUnits, text, Uuid } from './schemas.js';

/** Request and response shapes of the catalog and inventory routes; the shared pieces are in schemas.ts. */

export const ProductCreate = z
  .strictObject({
    sku: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'letters, digits, dot, dash or underscore'),
    name: text(200),
    unitPrice: MinorUnits,
    currency: Currency,
  })
  .openapi('ProductCreate');

export const Product = z
  .object({
    id: Uuid,
    sku: z.string(),
    name: z.string(),
    unitPrice: MinorUnits,
    currency: Currency,
    available: z.number().int(),
    createdAt: z.iso.datetime(),
  })
  .openapi('Product');

const WarehouseId = z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'letters, digits, dash or underscore');

export const AddInventory = z
  .strictObject({
    productId: Uuid,
    quantity: z.number().int().min(1).max(1_000_000),
    warehouseId: WarehouseId,
    timestamp: z.iso.datetime().optional(),
  })
  .openapi('AddInventory');

export const UpdateInventory = z
  .strictObject({
    quantityChange: z
      .number()
      .int()
      .min(-1_000_000)
      .max(1_000_000)
      .refine((n) => n !== 0, 'quantityChange must not be 0'),
    warehouseId: WarehouseId,
    timestamp: z.iso.datetime().optional(),
  })
  .openapi('UpdateInventory');

export const InventoryStatus = z
  .object({
    productId: Uuid,
    sku: z.string(),
    totalOnHand: z.number().int(),
    totalReserved: z.number().int(),
    totalAvailable: z.number().int(),
    locations: z.array(
      z.object({
        warehouseId: z.string(),
        onHand: z.number().int(),
        reserved: z.number().int(),
        available: z.number().int(),
      })
    ),
  })
  .openapi('InventoryStatus');
