import { fromStoredMoney } from '../domain/money.js';
import type { Address, CancellationReason } from '../domain/order.js';
import type { OrderRow } from '../orders/queries.js';
import type { ReturnRow } from '../returns/commands.js';
import type { Order, Return } from './schemas.js';

/** How an order row reads over HTTP: the `Order` schema of the API. */

/** The payment as a person reads it: the last authorization and what happened to it. */
function paymentSummary(row: OrderRow): Order['payment'] {
  const succeeded = row.payments.filter((payment) => payment.status === 'SUCCEEDED');
  const authorization = succeeded.filter((payment) => payment.kind === 'AUTHORIZATION').at(-1);
  const followUps = succeeded.filter((payment) => payment.authorizationId === authorization?.id);
  // A split order captures each parcel's share as it leaves: what was captured is their sum.
  const captures = followUps.filter((payment) => payment.kind === 'CAPTURE');
  const capture = captures[0];
  const capturedAmount = captures.reduce((sum, payment) => sum + fromStoredMoney(payment.amount), 0);
  // Returns refund against the first capture; any refund of one of the captures counts.
  const refundedAmount = succeeded
    .filter((payment) => payment.kind === 'REFUND' && captures.some((c) => c.id === payment.authorizationId))
    .reduce((sum, payment) => sum + fromStoredMoney(payment.amount), 0);
  // Partly refunded (some lines returned) is still captured: the customer keeps the rest.
  const refunded = capture && refundedAmount >= capturedAmount;
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
    capturedAmount: capture ? capturedAmount : null,
    refundedAmount,
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

export function toReturnDto(row: ReturnRow): Return {
  return {
    returnId: row.id,
    orderId: row.orderId,
    status: row.status.toLowerCase() as Return['status'],
    condition: (row.condition as Return['condition']) ?? null,
    reason: row.reason,
    items: row.items.map((item) => ({
      productId: item.productId,
      quantity: item.quantity,
      unitPrice: fromStoredMoney(item.unitPrice),
      lineTotal: fromStoredMoney(item.unitPrice) * item.quantity,
    })),
    refundAmount: fromStoredMoney(row.refundAmount),
    refundedAmount: fromStoredMoney(row.refundedAmount),
    needsAttention: row.needsAttention,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
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
    shipment: shipments[0] ?? null,
    shipments,
    returns: row.returns.map(toReturnDto),
    cancellationReason: (row.cancellationReason as CancellationReason | null) ?? null,
    needsAttention: row.needsAttention,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}
