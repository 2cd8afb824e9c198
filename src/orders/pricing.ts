import type { Db } from '../db/client.js';
import { fromStoredMoney } from '../domain/money.js';
import type { OrderLine } from '../domain/order.js';

export interface LineRequest {
  productId: string;
  quantity: number;
  /** The unit price the client expects; refused if the catalog says otherwise. */
  price?: number | undefined;
}

/** Why one requested line cannot be priced; `field` names the member of the line at fault. */
export interface PricingProblem {
  index: number;
  field: 'productId' | 'price';
  kind: 'unknown-product' | 'other-currency' | 'price-changed';
  message: string;
}

/**
 * Prices lines from the product catalog, the only source of prices. Every line of an order is in the order's
 * currency; without `currency` (an order's first lines fix it) any product is accepted.
 */
export async function priceLines(
  db: Db,
  items: readonly LineRequest[],
  currency?: string
): Promise<{ lines: OrderLine[]; problems: PricingProblem[] }> {
  const products = await db.product.findMany({ where: { id: { in: items.map((item) => item.productId) } } });
  const byId = new Map(products.map((product) => [product.id, product]));
  const problems: PricingProblem[] = [];
  const lines: OrderLine[] = [];
  items.forEach((item, index) => {
    const product = byId.get(item.productId);
    if (!product) {
      return problems.push({
        index,
        field: 'productId',
        kind: 'unknown-product',
        message: `unknown product ${item.productId}`,
      });
    }
    if (currency !== undefined && product.currency !== currency) {
      return problems.push({
        index,
        field: 'productId',
        kind: 'other-currency',
        message: `priced in ${product.currency}, not ${currency}`,
      });
    }
    const unitPrice = fromStoredMoney(product.unitPrice);
    if (item.price !== undefined && item.price !== unitPrice) {
      return problems.push({
        index,
        field: 'price',
        kind: 'price-changed',
        message: `the price is ${unitPrice}, not ${item.price}`,
      });
    }
    lines.push({
      productId: product.id,
      sku: product.sku,
      name: product.name,
      quantity: item.quantity,
      unitPrice,
    });
  });
  return { lines, problems };
}
