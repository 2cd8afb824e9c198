import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Address, CancellationReason, OrderLine, OrderStatus, PaymentDetails, Stage } from '../domain/order.js';
import type { Parcel, ShipmentStatus } from '../domain/shipment.js';

/**
 * The workflow's public contract: its input, its messages and the view it answers with. The API imports this
 * module, never the workflow code.
 */

export const ORDER_WORKFLOW_TYPE = 'OrderWorkflow';
export const orderWorkflowId = (orderId: string) => `order-${orderId}`;

/** Repairs an order whose workflow closed before a terminal stage; its id makes it run once per order. */
export const RECOVER_ORDER_WORKFLOW_TYPE = 'RecoverOrderWorkflow';
export const recoverWorkflowId = (orderId: string) => `recover-${orderId}`;

export interface RecoverOrderInput {
  orderId: string;
  /** How the order workflow closed, as Temporal reports it (TERMINATED, FAILED, TIMED_OUT, ...). */
  closedAs: string;
}

export interface RecoveryOutcome {
  orderId: string;
  action: 'cancelled' | 'flagged' | 'none';
  reason: string;
}

export interface OrderTimings {
  reservationHoldMs: number;
  authorizationHoldMs: number;
  reauthorizeBeforeMs: number;
  backorderWindowMs: number;
  dispatchDeadlineMs: number;
  compensationMaxAttempts: number;
}

export interface OrderWorkflowInput {
  orderId: string;
  customerId: string;
  lines: OrderLine[];
  currency: string;
  shippingAddress: Address;
  billingAddress?: Address;
  payment: PaymentDetails;
  shippingMethod: 'standard' | 'express';
  subscriptionId?: string;
  timings: OrderTimings;
  /** The request that placed the order: the causation of the first events. */
  causationId: string;
  traceparent?: string;
}

export interface AmendOrderInput {
  /** Identifies the request; a second delivery with the same id returns the first outcome. */
  requestId: string;
  items?: { productId: string; quantity: number }[];
  shippingAddress?: Address;
}

export interface CancelOrderInput {
  requestId: string;
  reason: CancellationReason;
}

export const ShipmentUpdateStatus = {
  shipped: 'shipped',
  in_transit: 'in_transit',
  delivered: 'delivered',
  failed: 'failed',
  returned: 'returned',
} as const;
export type ShipmentUpdateStatus = (typeof ShipmentUpdateStatus)[keyof typeof ShipmentUpdateStatus];

export interface ShipmentUpdateInput {
  /** The inbound message or request id; duplicates are ignored. */
  eventId: string;
  status: ShipmentUpdateStatus;
  /**
   * The shipment (parcel) it is about. An update naming one an amendment replaced is ignored; one naming none is about
   * the order's first parcel still short of it.
   */
  shipmentId?: string;
}

/** One parcel of a split order: what leaves one warehouse, and the share of the payment captured when it does. */
export interface ParcelView extends Parcel {
  status: ShipmentStatus;
  amount: number;
  captureId?: string;
}

export interface RestockNoticeInput {
  productId: string;
}

export interface OperatorRetryInput {
  requestId: string;
}

export interface RejectedRequest {
  kind: 'amendOrder' | 'cancelOrder' | 'shipmentUpdate' | 'retryCompensation';
  requestId: string;
  reason: string;
}

export interface OrderView {
  orderId: string;
  customerId: string;
  stage: Stage;
  status: OrderStatus;
  revision: number;
  currency: string;
  lines: OrderLine[];
  totalAmount: number;
  heldStock: Record<string, number>;
  payment?: { paymentId: string; amount: number; expiresAt: number; captureId?: string; reauthorized: boolean };
  /** The first parcel, as before orders shipped in parcels. */
  shipment?: { shipmentId: string; status: string };
  shipments?: ParcelView[];
  cancellationReason?: CancellationReason;
  needsAttention: boolean;
  attentionReason?: string;
  rejectedRequests: RejectedRequest[];
}

export const amendOrderUpdate = defineUpdate<OrderView, [AmendOrderInput]>('amendOrder');
export const amendOrderSignal = defineSignal<[AmendOrderInput]>('amendOrder');
export const cancelOrderUpdate = defineUpdate<OrderView, [CancelOrderInput]>('cancelOrder');
export const cancelOrderSignal = defineSignal<[CancelOrderInput]>('cancelOrder');
export const shipmentUpdateSignal = defineSignal<[ShipmentUpdateInput]>('shipmentUpdate');
export const restockNoticeSignal = defineSignal<[RestockNoticeInput]>('restockNotice');
/** After a compensation kept failing and an operator fixed the cause. */
export const retryCompensationUpdate = defineUpdate<OrderView, [OperatorRetryInput]>('retryCompensation');
export const retryCompensationSignal = defineSignal<[OperatorRetryInput]>('retryCompensation');
export const getOrderQuery = defineQuery<OrderView>('getOrder');
/**
 * Answers once checkout has an outcome (SETTLED_STAGES: confirmed, backordered or cancelled), so the API can send it
 * with Update-with-Start in the answer to POST /v1/orders. Waits only: it changes nothing.
 */
export const awaitOutcomeUpdate = defineUpdate<OrderView>('awaitOutcome');
