import type { Prisma } from '../generated/prisma/client.js';
import { fromStoredMoney } from '../domain/money.js';
import type { Address, CancellationReason } from '../domain/order.js';
import type { Order } from './schemas.js';

/** How an order row reads over HTTP: the `Order` schema of the API. */

export const orderInclude = {
  items: { orderBy: { sku: 'asc' } },
  payments: { orderBy: { createdAt: 'asc' } },
  reservations: { orderBy: [{ productId: 'asc' }, { warehouseId: 'asc' }] },
  shipment: true,
} satisfies Prisma.OrderInclude;

export type OrderRow = Prisma.OrderGetPayload<{ include: typeof orderInclude }>;

/** The payment as a person reads it: the last authorization and what happened to it. */
function paymentSummary(row: OrderRow): Order['payment'] {
  const succeeded = row.payments.filter((payment) => payment.status === 'SUCCEEDED');
  const authorization = succeeded.filter((payment) => payment.kind === 'AUTHORIZATION').at(-1);
  const followUps = succeeded.filter((payment) => payment.authorizationId === authorization?.id);
  const capture = followUps.find((payment) => payment.kind === 'CAPTURE');
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
    authorizedAmount: authorization ? fromStoredMoney(authorization.amount) : null,
    capturedAmount: capture ? fromStoredMoney(capture.amount) : null,
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

export function toOrderDto(row: OrderRow): Order {
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
      price: fromStoredMoney(item.unitPrice),
      lineTotal: fromStoredMoney(item.unitPrice) * item.quantity,
    })),
    currency: row.currency,
    totalAmount: fromStoredMoney(row.totalAmount),
    total: { amount: fromStoredMoney(row.totalAmount), currency: row.currency },
    shippingAddress: row.shippingAddress as unknown as Address,
    billingAddress: (row.billingAddress as unknown as Address | null) ?? null,
    payment: paymentSummary(row),
    reservation: reservationSummary(row),
    shipment: row.shipment
      ? { shipmentId: row.shipment.id, status: row.shipment.status, method: row.shipment.method }
      : null,
    cancellationReason: (row.cancellationReason as CancellationReason | null) ?? null,
    needsAttention: row.needsAttention,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
