import type { Prisma } from '../generated/prisma/client.js';
import type { Address, CancellationReason } from '../domain/order.js';
import type { Order } from './schemas.js';

/** How an order row reads over HTTP: the `Order` schema of the API. */

export const orderInclude = {
  items: { orderBy: { sku: 'asc' } },
  payments: { orderBy: { createdAt: 'asc' } },
  reservations: { orderBy: [{ productId: 'asc' }, { warehouseId: 'asc' }] },
  // The parcels in warehouse order, the order's single shipment (no warehouse) first: `shipment` is the first.
  shipments: { orderBy: [{ warehouseId: { sort: 'asc', nulls: 'first' } }, { id: 'asc' }] },
} satisfies Prisma.OrderInclude;

export type OrderRow = Prisma.OrderGetPayload<{ include: typeof orderInclude }>;

/** The payment as a person reads it: the last authorization and what happened to it. */
function paymentSummary(row: OrderRow): Order['payment'] {
  const succeeded = row.payments.filter((payment) => payment.status === 'SUCCEEDED');
  const authorization = succeeded.filter((payment) => payment.kind === 'AUTHORIZATION').at(-1);
  const followUps = succeeded.filter((payment) => payment.authorizationId === authorization?.id);
  // A split order captures each parcel's share as it leaves: what was captured is their sum.
  const captures = followUps.filter((payment) => payment.kind === 'CAPTURE');
  const capture = captures[0];
  const refunded =
    capture && succeeded.some((payment) => payment.kind === 'REFUND' && payment.authorizationId === capture.id);
  const voided = followUps.some((payment) => payment.kind === 'VOID');
  const failed = !authorization && row.payments.some((payment) => payment.status === 'FAILED');
  const status = refunded
    ? 'refunded'
    : capture
      ? 'captured'
      : voided
        ? 'voided'
        : authorization
          ? 'authorized'
          : failed
            ? 'failed'
            : 'none';
  return {
    method: row.paymentMethod,
    status,
    authorizedAmount: authorization?.amount ?? null,
    capturedAmount: capture ? captures.reduce((sum, payment) => sum + payment.amount, 0) : null,
    authorizationExpiresAt: authorization?.expiresAt?.toISOString() ?? null,
  };
}

function reservationSummary(row: OrderRow): Order['reservation'] {
  // Released and expired rows keep no quantity; they only tell that stock was held once.
  const live = row.reservations.filter(
    (reservation) => reservation.status === 'HELD' || reservation.status === 'COMMITTED'
  );
  const statuses = new Set(live.map((reservation) => reservation.status));
  const status = statuses.has('HELD')
    ? 'held'
    : statuses.has('COMMITTED')
      ? 'committed'
      : row.reservations.length
        ? 'released'
        : 'none';
  return {
    status,
    items: live.map(({ productId, warehouseId, quantity, status: s }) => ({
      productId,
      warehouseId,
      quantity,
      status: s,
    })),
  };
}

function shipmentSummaries(row: OrderRow): Order['shipments'] {
  return row.shipments.map((shipment) => ({
    shipmentId: shipment.id,
    status: shipment.status,
    method: shipment.method,
    warehouseId: shipment.warehouseId,
    // A shipment from before orders shipped in parcels holds the whole order.
    items:
      (shipment.items as { productId: string; quantity: number }[] | null) ??
      row.items.map(({ productId, quantity }) => ({ productId, quantity })),
  }));
}

export function toOrderDto(row: OrderRow): Order {
  const shipments = shipmentSummaries(row);
  return {
    id: row.id,
    orderId: row.id,
    customerId: row.customerId,
    status: row.status as Order['status'],
    stage: row.stage as Order['stage'],
    revision: row.revision,
    items: row.items.map((item) => ({
      productId: item.productId,
      sku: item.sku,
      name: item.productName,
      quantity: item.quantity,
      price: item.unitPrice,
      lineTotal: item.unitPrice * item.quantity,
    })),
    currency: row.currency,
    totalAmount: row.totalAmount,
    total: { amount: row.totalAmount, currency: row.currency },
    shippingAddress: row.shippingAddress as unknown as Address,
    billingAddress: (row.billingAddress as unknown as Address | null) ?? null,
    payment: paymentSummary(row),
    reservation: reservationSummary(row),
    shipment: shipments[0] ?? null,
    shipments,
    cancellationReason: (row.cancellationReason as CancellationReason | null) ?? null,
    needsAttention: row.needsAttention,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
