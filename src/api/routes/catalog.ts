import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Request, Response } from 'express';
import { z } from 'zod';
import type { StockAdjustment } from '../../inventory/adjust.js';
import { adjustStock, InsufficientStockError } from '../../inventory/adjust.js';
import type { Db } from '../../db/client.js';
import type { OutboxWriter } from '../../events/outbox.js';
import { wakeBackorderedOrders } from '../../orders/workflow-commands.js';
import { Prisma } from '../../generated/prisma/client.js';
import { ApiError, ErrorCode } from '../errors.js';
import type { RouteEnv } from '../route.js';
import { resource } from '../route.js';
import { AddInventory, InventoryStatus, Product, ProductCreate, UpdateInventory } from '../catalog-schemas.js';
import { Problem, Uuid } from '../schemas.js';
import { fromStoredMoney } from '../../domain/money.js';

const ProductIdParams = z.strictObject({ productId: Uuid });
const InventoryListQuery = z.strictObject({
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

/** One warehouse's part of a stock change, named by the adjustment id that applies it once. */
type StockChange = Pick<StockAdjustment, 'warehouseId' | 'quantityChange' | 'adjustmentId'>;

/** Every read of a product includes its stock, warehouse by warehouse. */
const withStock = { inventory: { orderBy: { warehouseId: 'asc' } } } satisfies Prisma.ProductInclude;
type ProductWithStock = Prisma.ProductGetPayload<{ include: typeof withStock }>;

/** A product row as the API shows it: the price (a BIGINT column) as a number, the time as ISO 8601. */
function productDto<T extends { unitPrice: bigint; createdAt: Date }>(product: T) {
  return { ...product, unitPrice: fromStoredMoney(product.unitPrice), createdAt: product.createdAt.toISOString() };
}

/** A product as the catalog shows it: with the stock available across warehouses. */
function withAvailable({ inventory, ...product }: ProductWithStock) {
  return {
    ...productDto(product),
    available: inventory.reduce((total, row) => total + row.onHand - row.reserved, 0),
  };
}

/** A product's stock per warehouse and in total: the InventoryStatus schema. */
function stockOf(product: ProductWithStock) {
  const locations = product.inventory.map((row) => ({
    warehouseId: row.warehouseId,
    onHand: row.onHand,
    reserved: row.reserved,
    available: row.onHand - row.reserved,
  }));
  const sum = (pick: (l: (typeof locations)[number]) => number) => locations.reduce((total, l) => total + pick(l), 0);
  return {
    productId: product.id,
    sku: product.sku,
    totalOnHand: sum((l) => l.onHand),
    totalReserved: sum((l) => l.reserved),
    totalAvailable: sum((l) => l.available),
    locations,
  };
}

export interface CatalogDeps {
  db: Db;
  outbox: OutboxWriter;
  temporal: Client;
}

export function catalogRoutes(routes: RouteEnv, { db, outbox, temporal }: CatalogDeps): void {
  async function inventoryStatus(productId: string) {
    const product = await db.product.findUnique({ where: { id: productId }, include: withStock });
    if (!product) throw ApiError.notFound(`product ${productId}`);
    return stockOf(product);
  }

  /** A list over the catalog: paged by InventoryListQuery in SKU order, each product shown by `show`, as `{ items }`. */
  function catalogList(description: string, item: z.ZodType, show: (product: ProductWithStock) => unknown) {
    return {
      query: InventoryListQuery,
      responses: { 200: { description, schema: z.object({ items: z.array(item) }) } },
      async handle({ query }: { query: z.infer<typeof InventoryListQuery> }, _req: Request, res: Response) {
        const rows = await db.product.findMany({
          include: withStock,
          orderBy: { sku: 'asc' },
          skip: (query.page - 1) * query.limit,
          take: query.limit,
        });
        res.json({ items: rows.map(show) });
      },
    };
  }

  /** Applies the change, then wakes backordered orders waiting for the product. */
  async function changeStock(productId: string, change: StockChange, requestId: string) {
    const { quantityChange } = change;
    await inventoryStatus(productId);
    try {
      await adjustStock(db, outbox, { productId, ...change, causationId: requestId });
    } catch (error) {
      if (error instanceof InsufficientStockError) throw ApiError.conflict(ErrorCode.CONFLICT, error.message);
      throw error;
    }
    if (quantityChange > 0) await wakeBackorderedOrders(db, temporal, productId);
    return inventoryStatus(productId);
  }

  const products = resource(routes, { tags: ['catalog'], roles: ['customer', 'operator', 'service'] });
  const inventory = resource(routes, { tags: ['inventory'], roles: ['operator', 'service'] });
  const unknownProduct = { 404: { description: 'Unknown product', schema: Problem } };
  const stock = resource(routes, {
    tags: ['inventory'],
    roles: ['operator', 'service'],
    params: ProductIdParams,
    responses: unknownProduct,
  });
  const stockAfter = (status: 200 | 201) => ({
    [status]: { description: 'Stock after the change', schema: InventoryStatus },
  });

  products.post('/products', {
    operationId: 'CreateProduct',
    summary: 'Add a product to the catalog (prices in minor units)',
    roles: ['operator'],
    body: ProductCreate,
    idempotent: true,
    responses: {
      201: { description: 'The product', schema: Product },
      409: { description: 'SKU exists', schema: Problem },
    },
    async handle({ body }, _req, res) {
      try {
        const product = await db.product.create({ data: { id: randomUUID(), ...body } });
        res
          .status(201)
          .location(`/v1/products/${product.id}`)
          .json({ ...productDto(product), available: 0 });
      } catch (error) {
        if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') {
          throw ApiError.conflict(ErrorCode.CONFLICT, `a product with SKU ${body.sku} exists`);
        }
        throw error;
      }
    },
  });

  products.get('/products', {
    operationId: 'ListProducts',
    summary: 'The product catalog with available stock',
    ...catalogList('Products', Product, withAvailable),
  });

  products.get('/products/:productId', {
    operationId: 'GetProduct',
    summary: 'One product with its available stock',
    params: ProductIdParams,
    responses: { 200: { description: 'The product', schema: Product }, ...unknownProduct },
    async handle({ params }, _req, res) {
      const product = await db.product.findUnique({ where: { id: params.productId }, include: withStock });
      if (!product) throw ApiError.notFound(`product ${params.productId}`);
      res.json(withAvailable(product));
    },
  });

  inventory.post('/inventory', {
    operationId: 'AddInventory',
    summary: 'Add stock of a product to a warehouse',
    body: AddInventory,
    idempotent: true,
    responses: { ...stockAfter(201), ...unknownProduct },
    async handle({ body }, req, res) {
      const change = { warehouseId: body.warehouseId, quantityChange: body.quantity, adjustmentId: req.operationId! };
      res.status(201).json(await changeStock(body.productId, change, res.locals.requestId as string));
    },
  });

  stock.put('/inventory/:productId', {
    operationId: 'UpdateInventory',
    summary: 'Change stock of a product in a warehouse by a signed quantity',
    body: UpdateInventory,
    idempotent: true,
    responses: { ...stockAfter(200), 409: { description: 'Would remove reserved or missing units', schema: Problem } },
    async handle({ params, body }, req, res) {
      const change = {
        warehouseId: body.warehouseId,
        quantityChange: body.quantityChange,
        adjustmentId: req.operationId!,
      };
      res.json(await changeStock(params.productId, change, res.locals.requestId as string));
    },
  });

  stock.delete('/inventory/:productId', {
    operationId: 'DeleteInventory',
    summary: 'Remove all unreserved stock of a product',
    roles: ['operator'],
    idempotent: true,
    responses: stockAfter(200),
    async handle({ params }, req, res) {
      const status = await inventoryStatus(params.productId);
      for (const location of status.locations.filter((l) => l.available > 0)) {
        const change = {
          warehouseId: location.warehouseId,
          quantityChange: -location.available,
          adjustmentId: `${req.operationId!}:${location.warehouseId}`,
        };
        await changeStock(params.productId, change, res.locals.requestId as string);
      }
      res.json(await inventoryStatus(params.productId));
    },
  });

  inventory.get('/inventory', {
    operationId: 'GetInventoryList',
    summary: 'Stock of every product',
    ...catalogList('Stock per product', InventoryStatus, stockOf),
  });

  stock.get('/inventory/:productId/status', {
    operationId: 'GetInventoryStatus',
    summary: 'Stock of one product per warehouse',
    roles: ['customer', 'operator', 'service'],
    responses: { 200: { description: 'Stock', schema: InventoryStatus } },
    async handle({ params }, _req, res) {
      res.json(await inventoryStatus(params.productId));
    },
  });
}
