import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { adjustStock, InsufficientStockError } from '../../inventory/adjust.js';
import type { Db } from '../../db/client.js';
import type { OutboxWriter } from '../../events/outbox.js';
import { wakeBackorderedOrders } from '../../orders/workflow-commands.js';
import { Prisma } from '../../generated/prisma/client.js';
import { ApiError, ErrorCode } from '../errors.js';
import type { RouteEnv } from '../route.js';
import { defineRoute } from '../route.js';
import { AddInventory, InventoryStatus, Problem, Product, ProductCreate, UpdateInventory, Uuid } from '../schemas.js';
import { fromStoredMoney } from '../../domain/money.js';

const ProductIdParams = z.strictObject({ productId: Uuid });
const InventoryListQuery = z.strictObject({
  page: z.coerce.number().int().min(1).max(100_000).default(1),
  limit: z.coerce.number().int().min(1).max(100).default(50),
});

export interface CatalogDeps {
  db: Db;
  outbox: OutboxWriter;
  temporal: Client;
}

/** A product row as the API shows it: the price (a BIGINT column) as a number, the time as ISO 8601. */
function productDto<T extends { unitPrice: bigint; createdAt: Date }>(product: T) {
  return { ...product, unitPrice: fromStoredMoney(product.unitPrice), createdAt: product.createdAt.toISOString() };
}

export function catalogRoutes(routes: RouteEnv, { db, outbox, temporal }: CatalogDeps): void {
  async function inventoryStatus(productId: string) {
    const product = await db.product.findUnique({
      where: { id: productId },
      include: { inventory: { orderBy: { warehouseId: 'asc' } } },
    });
    if (!product) throw ApiError.notFound(`product ${productId}`);
    const locations = product.inventory.map((row) => ({
      warehouseId: row.warehouseId,
      onHand: row.onHand,
      reserved: row.reserved,
      available: row.onHand - row.reserved,
    }));
    const sum = (pick: (l: (typeof locations)[number]) => number) => locations.reduce((total, l) => total + pick(l), 0);
    return {
      productId,
      sku: product.sku,
      totalOnHand: sum((l) => l.onHand),
      totalReserved: sum((l) => l.reserved),
      totalAvailable: sum((l) => l.available),
      locations,
    };
  }

  /** Applies the change, then wakes backordered orders waiting for the product. */
  async function changeStock(
    productId: string,
    warehouseId: string,
    quantityChange: number,
    adjustmentId: string,
    requestId: string
  ) {
    await inventoryStatus(productId);
    try {
      await adjustStock(db, outbox, { productId, warehouseId, quantityChange, adjustmentId, causationId: requestId });
    } catch (error) {
      if (error instanceof InsufficientStockError) throw ApiError.conflict(ErrorCode.CONFLICT, error.message);
      throw error;
    }
    if (quantityChange > 0) await wakeBackorderedOrders(db, temporal, productId);
    return inventoryStatus(productId);
  }

  defineRoute(
    routes,
    {
      method: 'post',
      path: '/products',
      operationId: 'CreateProduct',
      summary: 'Add a product to the catalog (prices in minor units)',
      tags: ['catalog'],
      roles: ['operator'],
      body: ProductCreate,
      idempotent: true,
      responses: {
        201: { description: 'The product', schema: Product },
        409: { description: 'SKU exists', schema: Problem },
      },
    },
    async ({ body }, _req, res) => {
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
    }
  );

  defineRoute(
    routes,
    {
      method: 'get',
      path: '/products',
      operationId: 'ListProducts',
      summary: 'The product catalog with available stock',
      tags: ['catalog'],
      roles: ['customer', 'operator', 'service'],
      query: InventoryListQuery,
      responses: { 200: { description: 'Products', schema: z.object({ items: z.array(Product) }) } },
    },
    async ({ query }, _req, res) => {
      const products = await db.product.findMany({
        include: { inventory: true },
        orderBy: { sku: 'asc' },
        skip: (query.page - 1) * query.limit,
        take: query.limit,
      });
      res.json({
        items: products.map(({ inventory, ...product }) => ({
          ...productDto(product),
          available: inventory.reduce((total, row) => total + row.onHand - row.reserved, 0),
        })),
      });
    }
  );

  defineRoute(
    routes,
    {
      method: 'get',
      path: '/products/:productId',
      operationId: 'GetProduct',
      summary: 'One product with its available stock',
      tags: ['catalog'],
      roles: ['customer', 'operator', 'service'],
      params: ProductIdParams,
      responses: {
        200: { description: 'The product', schema: Product },
        404: { description: 'Unknown product', schema: Problem },
      },
    },
    async ({ params }, _req, res) => {
      const product = await db.product.findUnique({ where: { id: params.productId }, include: { inventory: true } });
      if (!product) throw ApiError.notFound(`product ${params.productId}`);
      const { inventory, ...fields } = product;
      res.json({
        ...productDto(fields),
        available: inventory.reduce((total, row) => total + row.onHand - row.reserved, 0),
      });
    }
  );

  defineRoute(
    routes,
    {
      method: 'post',
      path: '/inventory',
      operationId: 'AddInventory',
      summary: 'Add stock of a product to a warehouse',
      tags: ['inventory'],
      roles: ['operator', 'service'],
      body: AddInventory,
      idempotent: true,
      responses: {
        201: { description: 'Stock after the change', schema: InventoryStatus },
        404: { description: 'Unknown product', schema: Problem },
      },
    },
    async ({ body }, req, res) => {
      const status = await changeStock(
        body.productId,
        body.warehouseId,
        body.quantity,
        req.operationId!,
        res.locals.requestId as string
      );
      res.status(201).json(status);
    }
  );

  defineRoute(
    routes,
    {
      method: 'put',
      path: '/inventory/:productId',
      operationId: 'UpdateInventory',
      summary: 'Change stock of a product in a warehouse by a signed quantity',
      tags: ['inventory'],
      roles: ['operator', 'service'],
      params: ProductIdParams,
      body: UpdateInventory,
      idempotent: true,
      responses: {
        200: { description: 'Stock after the change', schema: InventoryStatus },
        404: { description: 'Unknown product', schema: Problem },
        409: { description: 'Would remove reserved or missing units', schema: Problem },
      },
    },
    async ({ params, body }, req, res) => {
      res.json(
        await changeStock(
          params.productId,
          body.warehouseId,
          body.quantityChange,
          req.operationId!,
          res.locals.requestId as string
        )
      );
    }
  );

  defineRoute(
    routes,
    {
      method: 'delete',
      path: '/inventory/:productId',
      operationId: 'DeleteInventory',
      summary: 'Remove all unreserved stock of a product',
      tags: ['inventory'],
      roles: ['operator'],
      params: ProductIdParams,
      idempotent: true,
      responses: {
        200: { description: 'Stock after the change', schema: InventoryStatus },
        404: { description: 'Unknown product', schema: Problem },
      },
    },
    async ({ params }, req, res) => {
      const status = await inventoryStatus(params.productId);
      for (const location of status.locations.filter((l) => l.available > 0)) {
        await changeStock(
          params.productId,
          location.warehouseId,
          -location.available,
          `${req.operationId!}:${location.warehouseId}`,
          res.locals.requestId as string
        );
      }
      res.json(await inventoryStatus(params.productId));
    }
  );

  defineRoute(
    routes,
    {
      method: 'get',
      path: '/inventory',
      operationId: 'GetInventoryList',
      summary: 'Stock of every product',
      tags: ['inventory'],
      roles: ['operator', 'service'],
      query: InventoryListQuery,
      responses: { 200: { description: 'Stock per product', schema: z.object({ items: z.array(InventoryStatus) }) } },
    },
    async ({ query }, _req, res) => {
      const products = await db.product.findMany({
        select: { id: true },
        orderBy: { sku: 'asc' },
        skip: (query.page - 1) * query.limit,
        take: query.limit,
      });
      res.json({ items: await Promise.all(products.map((product) => inventoryStatus(product.id))) });
    }
  );

  defineRoute(
    routes,
    {
      method: 'get',
      path: '/inventory/:productId/status',
      operationId: 'GetInventoryStatus',
      summary: 'Stock of one product per warehouse',
      tags: ['inventory'],
      roles: ['customer', 'operator', 'service'],
      params: ProductIdParams,
      responses: {
        200: { description: 'Stock', schema: InventoryStatus },
        404: { description: 'Unknown product', schema: Problem },
      },
    },
    async ({ params }, _req, res) => {
      res.json(await inventoryStatus(params.productId));
    }
  );
}
