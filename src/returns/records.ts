import type { Db, Tx } from '../db/client.js';
import type { Causation } from '../domain/causation.js';
import type { ReturnCondition, ReturnLine } from '../domain/returns.js';
import { fromStoredMoney } from '../domain/money.js';
import { refundOf, ReturnStatus } from '../domain/returns.js';
import { ShipmentStatus } from '../domain/shipment.js';
import type { DomainEvent } from '../events/envelope.js';
import type { OutboxWriter } from '../events/outbox.js';
import type { ReturnFacts } from '../events/return-events.js';
import { returnReceived, returnRejected, returnRequested } from '../events/return-events.js';
import { ReturnNotAllowedError, ReturnQuantityError } from './errors.js';

/** The returns ledger: who may return what, and what each return changed. */

const DISPATCHED: readonly string[] = [ShipmentStatus.SHIPPED, ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED];

export interface ReturnRequest extends Causation {
  returnId: string;
  orderId: string;
  items: { productId: string; quantity: number }[];
  reason: string;
  /** RETURN_WINDOW: how long after delivery a return may be asked for. */
  windowMs: number;
}

/** What the ReturnWorkflow needs to start, read from the order in the transaction that recorded the return. */
export interface RecordedReturn extends ReturnFacts {
  captureId: string;
  paymentMethod: string;
}

/**
 * Records a return request, once per `returnId` (a retried request finds its return and changes nothing). The order
 * row is locked first, so two returns of one order are decided one after the other: the second sees the units and
 * the money the first took, and is refused when none are left (422). Rejected returns free their units.
 */
export async function requestReturn(db: Db, outbox: OutboxWriter, request: ReturnRequest): Promise<RecordedReturn> {
  return db.$transaction(async (tx) => {
    const [order] = await tx.$queryRaw<{ id: string }[]>`
      SELECT id FROM orders WHERE id = ${request.orderId}::uuid FOR UPDATE`;
    if (!order) throw new ReturnNotAllowedError(`order ${request.orderId} does not exist`);
    const row = await tx.order.findUniqueOrThrow({
      where: { id: request.orderId },
      include: { items: true, shipments: true, payments: { where: { status: 'SUCCEEDED' } } },
    });
    const capture = row.payments.find((payment) => payment.kind === 'CAPTURE');
    const facts = (lines: ReturnLine[]): RecordedReturn => ({
      returnId: request.returnId,
      orderId: row.id,
      customerId: row.customerId,
      currency: row.currency,
      lines,
      refundAmount: refundOf(lines),
      captureId: capture!.id,
      paymentMethod: row.paymentMethod,
    });
    const existing = await tx.return.findUnique({ where: { id: request.returnId }, include: { items: true } });
    if (existing) {
      return facts(
        existing.items.map(({ productId, quantity, unitPrice }) => ({
          productId,
          quantity,
          unitPrice: fromStoredMoney(unitPrice),
        }))
      );
    }

    const dispatched = row.shipments.filter((shipment) => DISPATCHED.includes(shipment.status));
    if (!capture || dispatched.length === 0) {
      throw new ReturnNotAllowedError('the order was not dispatched: cancel it instead of returning it');
    }
    // The window runs from the last parcel's delivery; while one is still on its way, returns stay open.
    const deliveredAt = Math.max(...row.shipments.map((shipment) => shipment.updatedAt.getTime()));
    const allDelivered = row.shipments.every((shipment) => shipment.status === ShipmentStatus.DELIVERED);
    if (allDelivered && Date.now() > deliveredAt + request.windowMs) {
      throw new ReturnNotAllowedError(`the return window closed (delivered ${new Date(deliveredAt).toISOString()})`);
    }
    // What left in a parcel can come back; a shipment from before orders shipped in parcels holds the whole order.
    const shipped = new Map<string, number>();
    for (const parcel of dispatched) {
      const items = (parcel.items as { productId: string; quantity: number }[] | null) ?? row.items;
      for (const { productId, quantity } of items) shipped.set(productId, (shipped.get(productId) ?? 0) + quantity);
    }
    const taken = await returnedQuantities(tx, row.id);
    const remaining = new Map(
      row.items.map((item) => [item.productId, (shipped.get(item.productId) ?? 0) - (taken.get(item.productId) ?? 0)])
    );
    if ([...remaining.values()].every((quantity) => quantity <= 0)) {
      throw new ReturnNotAllowedError('nothing returnable remains: every shipped unit is already returned');
    }
    const problems: ReturnQuantityError['problems'] = [];
    request.items.forEach((item, index) => {
      const left = remaining.get(item.productId);
      if (left === undefined) problems.push({ index, field: 'productId', message: 'not a line of this order' });
      else if (item.quantity > left)
        problems.push({ index, field: 'quantity', message: `only ${Math.max(left, 0)} unit(s) can still be returned` });
    });
    if (problems.length > 0) throw new ReturnQuantityError(problems);

    const prices = new Map(row.items.map((item) => [item.productId, fromStoredMoney(item.unitPrice)]));
    const lines = request.items.map((item) => ({ ...item, unitPrice: prices.get(item.productId)! }));
    const recorded = facts(lines);
    // Refunded plus promised never exceeds the capture; with the lines checked above this holds by construction, and
    // this is the check that would catch a capture smaller than the lines (it says so instead of over-refunding).
    const [money] = await tx.$queryRaw<{ promised: bigint; refunded: bigint }[]>`
      SELECT
        (SELECT coalesce(sum(refund_amount - refunded_amount), 0) FROM returns
          WHERE order_id = ${row.id}::uuid AND status <> 'REJECTED')::bigint AS promised,
        (SELECT coalesce(sum(amount), 0) FROM payments
          WHERE order_id = ${row.id}::uuid AND kind = 'REFUND' AND status = 'SUCCEEDED')::bigint AS refunded`;
    const left = fromStoredMoney(capture.amount) - Number(money!.promised) - Number(money!.refunded);
    if (recorded.refundAmount > left) {
      throw new ReturnNotAllowedError(`only ${left} minor units of the capture are left to refund`);
    }
    await tx.return.create({
      data: {
        id: request.returnId,
        orderId: row.id,
        status: ReturnStatus.REQUESTED,
        reason: request.reason,
        refundAmount: recorded.refundAmount,
        items: { create: lines },
      },
    });
    await outbox.append(tx, [returnRequested(recorded, request, request.reason)]);
    return recorded;
  });
}

/** Units of each product taken by returns that still count (requested or received). */
async function returnedQuantities(tx: Tx, orderId: string): Promise<Map<string, number>> {
  const rows = await tx.$queryRaw<{ product_id: string; quantity: bigint }[]>`
    SELECT i.product_id, sum(i.quantity)::bigint AS quantity FROM return_items i JOIN returns r ON r.id = i.return_id
    WHERE r.order_id = ${orderId}::uuid AND r.status <> 'REJECTED' GROUP BY i.product_id`;
  return new Map(rows.map((row) => [row.product_id, Number(row.quantity)]));
}

/**
 * The parcel came back: the return is received (once; a retried step finds it received and changes nothing). The
 * restock of resellable units is the inventory context's, composed with this by the return's activity.
 */
export async function receiveReturn(
  tx: Tx,
  facts: ReturnFacts,
  condition: ReturnCondition,
  cause: Causation
): Promise<DomainEvent[]> {
  const updated = await tx.return.updateMany({
    where: { id: facts.returnId, status: ReturnStatus.REQUESTED },
    data: { status: ReturnStatus.RECEIVED, condition, updatedAt: new Date() },
  });
  return updated.count === 0 ? [] : [returnReceived(facts, cause, condition)];
}

export async function rejectReturn(tx: Tx, facts: ReturnFacts, cause: Causation): Promise<DomainEvent[]> {
  const updated = await tx.return.updateMany({
    where: { id: facts.returnId, status: ReturnStatus.REQUESTED },
    data: { status: ReturnStatus.REJECTED, updatedAt: new Date() },
  });
  return updated.count === 0 ? [] : [returnRejected(facts, cause)];
}

/**
 * Marks the return refunded. A conditional UPDATE: only a received return, and only while the order's refunds stay
 * within its capture (the refund row of this step is already written when this runs). A return already refunded (an
 * operator's retry after an attempt that committed) is no conflict.
 */
export async function markRefunded(tx: Tx, returnId: string, orderId: string): Promise<boolean> {
  const updated = await tx.$executeRaw`
    UPDATE returns SET refunded_amount = refund_amount, updated_at = now()
    WHERE id = ${returnId}::uuid AND status = 'RECEIVED'
      AND (SELECT coalesce(sum(amount), 0) FROM payments
           WHERE order_id = ${orderId}::uuid AND kind = 'REFUND' AND status = 'SUCCEEDED')
        <= (SELECT coalesce(sum(amount), 0) FROM payments
            WHERE order_id = ${orderId}::uuid AND kind = 'CAPTURE' AND status = 'SUCCEEDED')`;
  return updated === 1;
}
