/** Order vocabulary shared by the workflow, activities and API. Pure: safe inside the workflow sandbox. */

export const Stage = {
  PENDING: 'PENDING',
  INVENTORY_RESERVED: 'INVENTORY_RESERVED',
  PAYMENT_AUTHORIZED: 'PAYMENT_AUTHORIZED',
  CONFIRMED: 'CONFIRMED',
  FULFILLING: 'FULFILLING',
  SHIPPED: 'SHIPPED',
  COMPLETED: 'COMPLETED',
  BACKORDERED: 'BACKORDERED',
  CANCELLING: 'CANCELLING',
  CANCELLED: 'CANCELLED',
} as const;
export type Stage = (typeof Stage)[keyof typeof Stage];

/** The catalog OpenAPI status enum. */
export const OrderStatus = {
  pending: 'pending',
  processing: 'processing',
  completed: 'completed',
  cancelled: 'cancelled',
} as const;
export type OrderStatus = (typeof OrderStatus)[keyof typeof OrderStatus];

const STATUS_OF_STAGE: Record<Stage, OrderStatus> = {
  PENDING: 'pending',
  INVENTORY_RESERVED: 'pending',
  PAYMENT_AUTHORIZED: 'pending',
  BACKORDERED: 'pending',
  CONFIRMED: 'processing',
  FULFILLING: 'processing',
  SHIPPED: 'processing',
  COMPLETED: 'completed',
  CANCELLING: 'cancelled',
  CANCELLED: 'cancelled',
};

export function statusOf(stage: Stage): OrderStatus {
  return STATUS_OF_STAGE[stage];
}

/** Stages at which amendments are always accepted; with `amend-until-dispatch` FULFILLING too (until dispatch). */
export const AMENDABLE_STAGES: readonly Stage[] = [
  Stage.PENDING,
  Stage.INVENTORY_RESERVED,
  Stage.PAYMENT_AUTHORIZED,
  Stage.CONFIRMED,
  Stage.BACKORDERED,
];

/** Cancellation is accepted until dispatch (catalog cancellation policy); after that it is a return. */
export const CANCELLABLE_STAGES: readonly Stage[] = [...AMENDABLE_STAGES, Stage.FULFILLING];

/** Stages at which checkout has an outcome the caller can act on (placed, waiting for stock, or cancelled). */
export const SETTLED_STAGES: readonly Stage[] = [
  Stage.CONFIRMED,
  Stage.FULFILLING,
  Stage.SHIPPED,
  Stage.COMPLETED,
  Stage.CANCELLED,
  Stage.BACKORDERED,
];

export function canAmend(stage: Stage): boolean {
  return AMENDABLE_STAGES.includes(stage);
}

export function canCancel(stage: Stage): boolean {
  return CANCELLABLE_STAGES.includes(stage);
}

export const CancellationReason = {
  CUSTOMER_REQUESTED: 'CUSTOMER_REQUESTED',
  PAYMENT_FAILED: 'PAYMENT_FAILED',
  OUT_OF_STOCK: 'OUT_OF_STOCK',
  FRAUD: 'FRAUD',
  /** The order's workflow closed without finishing (terminated, failed, timed out): the reconciler cancelled it. */
  WORKFLOW_CLOSED: 'WORKFLOW_CLOSED',
} as const;
export type CancellationReason = (typeof CancellationReason)[keyof typeof CancellationReason];

export const CANCELLATION_REASONS: readonly string[] = Object.values(CancellationReason);

export interface Address {
  street: string;
  city: string;
  state?: string;
  postalCode: string;
  country: string;
}

/** One priced line: prices come from the product catalog, in minor units. */
export interface OrderLine {
  productId: string;
  sku: string;
  name: string;
  quantity: number;
  unitPrice: number;
}

export interface PaymentDetails {
  method: string;
  token: string;
}

export function orderTotal(lines: readonly OrderLine[]): number {
  return lines.reduce((sum, line) => sum + line.quantity * line.unitPrice, 0);
}

/** Quantity per product, for diffing two versions of an order. */
export function quantitiesByProduct(lines: readonly OrderLine[]): Map<string, number> {
  return new Map(lines.map((line) => [line.productId, line.quantity]));
}
