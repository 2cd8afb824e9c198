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

// The catalog's AddInventory and UpdateInventory say `format: uuid`; short codes such as WH-MAIN stay accepted. The
// column is TEXT: the limits are the request's (a UUID's 36 characters, or a code of at most 32).
const WarehouseId = z
  .string()
  .regex(
    /^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|[A-Za-z0-9_-]{1,32})$/,
    'a UUID, or a code of up to 32 letters, digits, dashes or underscores'
  )
  .openapi({
    description: 'The warehouse: a UUID as in the catalog, or a short code such as WH-MAIN',
    example: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  });

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
