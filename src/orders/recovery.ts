import type { Db } from '../db/client.js';
import { fromStoredMoney } from '../domain/money.js';
import { Stage } from '../domain/order.js';
import { ShipmentStatus } from '../domain/shipment.js';

/** What the reconciler finds left behind by an order workflow that closed before a terminal stage. */
export interface RecoveryPlan {
  orderId: string;
  stage: Stage;
  /** The last step applied to the order: the recovery's steps are numbered after it. */
  stepSeq: number;
  customerId: string;
  currency: string;
  method: string;
  /** Authorizations still holding money: neither captured nor voided. */
  openAuthorizations: { paymentId: string; amount: number }[];
  /** Only the carrier's `shipped` makes the workflow capture: a capture means the parcel left. */
  dispatched: boolean;
  holdsStock: boolean;
  shipmentRequested: boolean;
}

export const TERMINAL_STAGES: readonly Stage[] = [Stage.COMPLETED, Stage.CANCELLED];

export async function recoveryPlan(db: Db, orderId: string): Promise<RecoveryPlan | undefined> {
  const order = await db.order.findUnique({
    where: { id: orderId },
    include: {
      payments: { where: { status: 'SUCCEEDED' } },
      reservations: { where: { status: 'HELD' } },
      shipments: true,
    },
  });
  if (!order) return undefined;
  const settled = new Set(
    order.payments.filter((p) => p.kind === 'CAPTURE' || p.kind === 'VOID').map((p) => p.authorizationId)
  );
  return {
    orderId,
    stage: order.stage as Stage,
    stepSeq: order.stepSeq,
    customerId: order.customerId,
    currency: order.currency,
    method: order.paymentMethod,
    openAuthorizations: order.payments
      .filter((p) => p.kind === 'AUTHORIZATION' && !settled.has(p.id))
      .map((p) => ({ paymentId: p.id, amount: fromStoredMoney(p.amount) })),
    dispatched: order.payments.some((p) => p.kind === 'CAPTURE'),
    holdsStock: order.reservations.length > 0,
    shipmentRequested: order.shipments.some((shipment) => shipment.status === ShipmentStatus.REQUESTED),
  };
}

/** Orders the database still shows in flight, oldest change first: the reconciler asks Temporal about each. */
export async function ordersInFlight(db: Db, limit: number): Promise<string[]> {
  const rows = await db.order.findMany({
    where: { stage: { notIn: [...TERMINAL_STAGES] } },
    orderBy: { updatedAt: 'asc' },
    take: limit,
    select: { id: true },
  });
  return rows.map((row) => row.id);
}
