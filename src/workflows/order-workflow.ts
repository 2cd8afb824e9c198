// One file above 300 lines on purpose: the saga's steps, compensations and message handlers share one state
// object and its invariants; split, every part would need the whole class to be read.
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Activities } from '../activities/index.js';
import type { OutOfStockDetails } from '../domain/failures.js';
import { ActivityErrorType } from '../domain/failures.js';
import type { CancellationReason, OrderLine } from '../domain/order.js';
import { CANCELLATION_REASONS, canAmend, canCancel, orderTotal, Stage, statusOf } from '../domain/order.js';
import { ShipmentStatus } from '../domain/shipment.js';
import { Lock } from './lock.js';
import type {
  AmendOrderInput,
  CancelOrderInput,
  OrderView,
  OrderWorkflowInput,
  RejectedRequest,
  ShipmentUpdateInput,
} from './messages.js';
import {
  amendOrderSignal,
  amendOrderUpdate,
  cancelOrderSignal,
  cancelOrderUpdate,
  getOrderQuery,
  restockNoticeSignal,
  retryCompensationSignal,
  retryCompensationUpdate,
  shipmentUpdateSignal,
} from './messages.js';
import { Saga } from './saga.js';
import { CustomerIdKey, NeedsAttentionKey, OrderStageKey, OrderStatusKey, OrderTotalKey } from './search-attributes.js';

/** Failure types a workflow update may end with; callers map them to HTTP answers. */
export const OrderRejection = {
  AmendmentRejected: 'AmendmentRejected',
  CancellationRejected: 'CancellationRejected',
} as const;

// Forward steps: database writes that must eventually happen, so they retry until they do.
const steps = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' },
});

// Payments: a bounded number of tries, then the order fails with PAYMENT_FAILED instead of hanging at checkout.
const payments = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: {
    initialInterval: '500ms',
    backoffCoefficient: 2,
    maximumInterval: '10s',
    maximumAttempts: 5,
    nonRetryableErrorTypes: [ActivityErrorType.PaymentDeclined],
  },
});

// Notifications are best effort: a few tries, and a failure never fails the order.
const notifications = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  heartbeatTimeout: '10s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumAttempts: 3 },
});

// Local activities: short, idempotent bookkeeping (stage history rows, catalog reads) that does not need its
// own history events; they make each transition one workflow task instead of three.
const bookkeeping = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '10s' },
});

/** Raised inside the main flow when the order must stop and compensate. */
class StopOrder extends Error {
  constructor(readonly reason: CancellationReason) {
    super(`order stopped: ${reason}`);
  }
}

function failureType(error: unknown): string | undefined {
  if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure)
    return error.cause.type ?? undefined;
  return undefined;
}

class OrderProcess {
  private readonly lock = new Lock();
  private readonly saga = new Saga();
  private readonly state: OrderView;
  private seq = 1;
  private authorizations = 0;
  private cancelRequest?: CancelOrderInput;
  private cancelled = false;
  private operatorRetries = 0;
  private readonly amendments = new Map<string, OrderView>();
  private readonly seenShipmentEvents = new Set<string>();
  private readonly shipmentEvents: ShipmentUpdateInput[] = [];
  private restockNoticed = false;
  private dispatching = false;
  private lastCause: string;

  constructor(private readonly input: OrderWorkflowInput) {
    this.lastCause = input.causationId;
    this.state = {
      orderId: input.orderId,
      customerId: input.customerId,
      stage: Stage.PENDING,
      status: statusOf(Stage.PENDING),
      revision: 1,
      currency: input.currency,
      lines: input.lines,
      totalAmount: orderTotal(input.lines),
      heldStock: {},
      needsAttention: false,
      rejectedRequests: [],
    };
  }

  view(): OrderView {
    // A copy, so a caller never holds a reference into live workflow state.
    return JSON.parse(JSON.stringify(this.state)) as OrderView;
  }

  /** The checkout saga, read top to bottom. */
  async run(): Promise<OrderView> {
    await steps.createOrder({
      orderId: this.input.orderId,
      customerId: this.input.customerId,
      lines: this.input.lines,
      currency: this.input.currency,
      shippingAddress: this.input.shippingAddress,
      ...(this.input.billingAddress ? { billingAddress: this.input.billingAddress } : {}),
      paymentMethod: this.input.payment.method,
      ...(this.input.subscriptionId ? { subscriptionId: this.input.subscriptionId } : {}),
      ...this.cause(),
    });
    this.publishProgress();
    try {
      await this.reserveInventory();
      await this.authorizePayment();
      await this.notifyCustomer('order-confirmed');
      await this.step(() => this.confirm());
      await this.step(() => this.requestShipment());
      await this.awaitDispatch();
      await this.awaitDelivery();
    } catch (error) {
      if (!(error instanceof StopOrder)) throw error;
      await this.cancel(error.reason);
    }
    return this.view();
  }

  // ---- the steps ----

  private async reserveInventory(): Promise<void> {
    const backorderUntil = Date.now() + this.input.timings.backorderWindowMs;
    for (;;) {
      const shortage = await this.step(async () => {
        this.saga.add('release-stock', () => this.releaseStock());
        try {
          this.state.heldStock = await steps.holdStock({
            ...this.next(),
            lines: this.state.lines,
            holdMs: this.reservationHold(),
          });
          await this.transition(Stage.INVENTORY_RESERVED);
          return undefined;
        } catch (error) {
          if (failureType(error) !== ActivityErrorType.OutOfStock) throw error;
          return error;
        }
      });
      if (!shortage) return;
      if (Date.now() >= backorderUntil) throw new StopOrder('OUT_OF_STOCK');
      if (this.state.stage !== Stage.BACKORDERED) {
        const details = (shortage as ActivityFailure).cause as ApplicationFailure;
        const [missing] = details.details as OutOfStockDetails[];
        await this.step(() => this.transition(Stage.BACKORDERED, `waiting for ${missing?.sku ?? 'stock'}`));
      }
      // Woken by restock notices (the inventory context signals backordered orders) or the window closing.
      this.restockNoticed = false;
      await condition(() => this.restockNoticed || this.cancelRequest !== undefined, backorderUntil - Date.now());
      this.checkpoint();
    }
  }

  private async authorizePayment(): Promise<void> {
    await this.step(async () => {
      this.saga.add('restore-payment', () => this.restorePayment());
      try {
        await this.authorize(this.state.totalAmount);
      } catch (error) {
        if (failureType(error) === undefined) throw error;
        throw new StopOrder('PAYMENT_FAILED');
      }
      await this.transition(Stage.PAYMENT_AUTHORIZED);
    });
  }

  private async confirm(): Promise<void> {
    try {
      await steps.confirmOrder(this.next());
    } catch (error) {
      if (failureType(error) !== ActivityErrorType.ReservationExpired) throw error;
      // The hold lapsed (a slow payment, a paused worker): take the stock again, or give up if it is gone.
      await this.holdAgain();
      await steps.confirmOrder(this.next());
    }
    this.setStage(Stage.CONFIRMED);
  }

  private async holdAgain(): Promise<void> {
    try {
      this.state.heldStock = await steps.holdStock({ ...this.next(), lines: this.state.lines, holdMs: null });
    } catch (error) {
      if (failureType(error) !== ActivityErrorType.OutOfStock) throw error;
      throw new StopOrder('OUT_OF_STOCK');
    }
  }

  private async requestShipment(): Promise<void> {
    this.saga.add('cancel-shipment', () => steps.cancelShipment({ ...this.next(), reason: 'order cancelled' }));
    const shipmentId = await steps.requestShipment({ ...this.next(), method: this.input.shippingMethod });
    this.state.shipment = { shipmentId, status: ShipmentStatus.REQUESTED };
    await this.transition(Stage.FULFILLING);
  }

  /**
   * Waits for the carrier to pick the parcel up. Meanwhile the card authorization may near its expiry (it is
   * renewed once; a second expiry fails the order) and a missed dispatch deadline flags the order for operators.
   */
  private async awaitDispatch(): Promise<void> {
    const dispatchDeadline = Date.now() + this.input.timings.dispatchDeadlineMs;
    for (;;) {
      const renewAt = this.state.payment!.expiresAt - this.input.timings.reauthorizeBeforeMs;
      const wakeAt = this.state.needsAttention ? renewAt : Math.min(renewAt, dispatchDeadline);
      const event = await this.nextShipmentEvent(Math.max(1, wakeAt - Date.now()));
      this.checkpoint();
      if (event === 'shipped' || event === 'in_transit' || event === 'delivered') {
        await this.step(() => this.dispatch());
        if (event === 'delivered') this.shipmentEvents.unshift({ eventId: 'implied-delivery', status: 'delivered' });
        return;
      }
      if (event === 'failed' || event === 'returned') {
        await this.step(() => this.flagAttention(`shipment ${event} before dispatch`));
      } else if (Date.now() >= renewAt) {
        await this.step(() => this.renewAuthorization());
      } else if (Date.now() >= dispatchDeadline && !this.state.needsAttention) {
        await this.step(() => this.flagAttention('not dispatched by the deadline'));
      }
    }
  }

  private async dispatch(): Promise<void> {
    // From here on the parcel has left: a cancellation arriving now is answered "start a return".
    this.dispatching = true;
    const payment = this.state.payment!;
    const captureId = await steps.capturePayment({
      ...this.paymentStep(`capture:${payment.paymentId}`, payment.amount),
      targetPaymentId: payment.paymentId,
    });
    payment.captureId = captureId;
    await steps.commitStock(this.next());
    this.state.heldStock = {};
    await steps.recordShipmentStatus({ ...this.next(), status: ShipmentStatus.SHIPPED });
    this.state.shipment!.status = ShipmentStatus.SHIPPED;
    await this.transition(Stage.SHIPPED);
    await this.notifyCustomer('order-shipped');
  }

  private async awaitDelivery(): Promise<void> {
    for (;;) {
      const event = await this.nextShipmentEvent(undefined);
      if (event === 'delivered') break;
      if (event === 'in_transit') {
        await this.step(() => steps.recordShipmentStatus({ ...this.next(), status: ShipmentStatus.IN_TRANSIT }));
        this.state.shipment!.status = ShipmentStatus.IN_TRANSIT;
      } else if (event === 'failed' || event === 'returned') {
        await this.step(() => this.flagAttention(`shipment ${event}`));
      }
    }
    await this.step(async () => {
      await steps.recordShipmentStatus({ ...this.next(), status: ShipmentStatus.DELIVERED });
      this.state.shipment!.status = ShipmentStatus.DELIVERED;
      await steps.completeOrder(this.next());
      this.setStage(Stage.COMPLETED);
    });
    await this.notifyCustomer('order-delivered');
  }

  /** Undo everything in reverse, then record the cancellation. Runs under the lock so no amendment interleaves. */
  private async cancel(reason: CancellationReason): Promise<void> {
    await this.lock.runExclusive(async () => {
      this.state.cancellationReason = reason;
      await this.transition(Stage.CANCELLING, reason);
      await this.saga.compensate((name, error) => this.waitForOperator(name, error));
      if (this.state.needsAttention) await this.clearAttention();
      await steps.cancelOrder({ ...this.next(), reason });
      this.setStage(Stage.CANCELLED);
      this.cancelled = true;
    });
    await this.notifyCustomer('order-cancelled');
  }

  // ---- compensations (each idempotent: safe to run when the step never happened or ran twice) ----

  private async releaseStock(): Promise<void> {
    this.state.heldStock = await this.compensating.releaseStock(this.next());
  }

  private async restorePayment(): Promise<void> {
    const payment = this.state.payment;
    if (!payment) return;
    if (payment.captureId) {
      await this.compensating.refundPayment({
        ...this.paymentStep(`refund:${payment.captureId}`, payment.amount),
        targetPaymentId: payment.captureId,
      });
    } else {
      await this.voidAuthorization(payment.paymentId, payment.amount);
    }
    this.state.payment = undefined;
  }

  private get compensating() {
    return proxyActivities<Activities>({
      startToCloseTimeout: '30s',
      retry: {
        initialInterval: '1s',
        backoffCoefficient: 2,
        maximumInterval: '30s',
        maximumAttempts: this.input.timings.compensationMaxAttempts,
      },
    });
  }

  private async voidAuthorization(paymentId: string, amount: number): Promise<void> {
    await this.compensating.voidPayment({
      ...this.paymentStep(`void:${paymentId}`, amount),
      targetPaymentId: paymentId,
    });
  }

  /** A compensation exhausted its retries: flag the order and wait for an operator to say "try again". */
  private async waitForOperator(name: string, error: unknown): Promise<void> {
    log.error('compensation keeps failing; waiting for an operator', { compensation: name, error: String(error) });
    const retriesBefore = this.operatorRetries;
    await this.flagAttention(`compensation ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    await condition(() => this.operatorRetries > retriesBefore);
  }

  /** The catalog's hold applies until confirmation; a confirmed order keeps its stock until dispatch. */
  private reservationHold(): number | null {
    return this.state.stage === Stage.CONFIRMED ? null : this.input.timings.reservationHoldMs;
  }

  // ---- payments ----

  private paymentStep(key: string, amount: number) {
    return {
      ...this.next(),
      idempotencyKey: `${this.input.orderId}:${key}`,
      customerId: this.input.customerId,
      amount,
      currency: this.input.currency,
      method: this.input.payment.method,
    };
  }

  private async authorize(amount: number): Promise<void> {
    this.authorizations += 1;
    const authorization = await payments.authorizePayment({
      ...this.paymentStep(`authorize:${this.authorizations}`, amount),
      token: this.input.payment.token,
      holdMs: this.input.timings.authorizationHoldMs,
    });
    this.state.payment = { ...authorization, amount, reauthorized: this.state.payment?.reauthorized ?? false };
  }

  /** Replaces the authorization with a fresh one for `amount`; the old one is voided only once the new one holds. */
  private async reauthorize(amount: number): Promise<void> {
    const previous = this.state.payment!;
    await this.authorize(amount);
    await this.voidAuthorization(previous.paymentId, previous.amount);
  }

  private async renewAuthorization(): Promise<void> {
    if (this.state.payment!.reauthorized) throw new StopOrder('PAYMENT_FAILED');
    try {
      await this.reauthorize(this.state.payment!.amount);
    } catch (error) {
      if (failureType(error) === undefined) throw error;
      throw new StopOrder('PAYMENT_FAILED');
    }
    this.state.payment!.reauthorized = true;
  }

  // ---- messages ----

  async amend(request: AmendOrderInput): Promise<OrderView> {
    const known = this.amendments.get(request.requestId);
    if (known) return known;
    return this.lock.runExclusive(async () => {
      const again = this.amendments.get(request.requestId);
      if (again) return again;
      const reason = this.amendRefusal(request);
      if (reason)
        throw ApplicationFailure.create({
          type: OrderRejection.AmendmentRejected,
          message: reason,
          nonRetryable: true,
        });
      this.lastCause = request.requestId;
      const lines = request.items ? await bookkeeping.priceLines(request.items, this.input.currency) : this.state.lines;
      await this.applyAmendment(lines, request);
      const result = this.view();
      this.amendments.set(request.requestId, result);
      return result;
    });
  }

  /** Holds the new quantities and authorizes the new total before recording; a refusal leaves the order as it was. */
  private async applyAmendment(lines: OrderLine[], request: AmendOrderInput): Promise<void> {
    const previousLines = this.state.lines;
    const stockHeld = Object.keys(this.state.heldStock).length > 0;
    if (stockHeld) {
      try {
        this.state.heldStock = await steps.holdStock({
          ...this.next(),
          lines,
          holdMs: this.reservationHold(),
        });
      } catch (error) {
        if (failureType(error) !== ActivityErrorType.OutOfStock) throw error;
        throw ApplicationFailure.create({
          type: OrderRejection.AmendmentRejected,
          message: `not enough stock for the amendment: ${(error as ActivityFailure).cause?.message}`,
          nonRetryable: true,
        });
      }
    }
    const total = orderTotal(lines);
    if (this.state.payment && total !== this.state.payment.amount) {
      try {
        await this.reauthorize(total);
      } catch (error) {
        if (failureType(error) === undefined) throw error;
        if (stockHeld) {
          this.state.heldStock = await steps.holdStock({
            ...this.next(),
            lines: previousLines,
            holdMs: this.reservationHold(),
          });
        }
        throw ApplicationFailure.create({
          type: OrderRejection.AmendmentRejected,
          message: 'the card was declined for the new total',
          nonRetryable: true,
        });
      }
    }
    this.state.revision += 1;
    this.state.lines = lines;
    this.state.totalAmount = total;
    // A backordered order may fit the stock with its new lines: try again now rather than at the next restock.
    if (this.state.stage === Stage.BACKORDERED) this.restockNoticed = true;
    await steps.applyAmendment({
      ...this.next(),
      lines,
      revision: this.state.revision,
      ...(request.shippingAddress ? { shippingAddress: request.shippingAddress } : {}),
    });
    this.publishProgress();
  }

  amendRefusal(request: AmendOrderInput): string | undefined {
    if (this.amendments.has(request.requestId)) return undefined;
    if (!request.items && !request.shippingAddress) return 'an amendment must change items or the shipping address';
    if (request.items) {
      if (request.items.length === 0) return 'an order needs at least one item: cancel it instead';
      const ids = new Set(request.items.map((item) => item.productId));
      if (ids.size !== request.items.length) return 'each product may appear once';
      if (request.items.some((item) => !Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > 1000)) {
        return 'quantities must be whole numbers from 1 to 1000';
      }
    }
    if (this.cancelRequest || !canAmend(this.state.stage)) {
      return `the order can no longer be amended (stage ${this.state.stage})`;
    }
    return undefined;
  }

  cancelRefusal(request: CancelOrderInput): string | undefined {
    if (this.cancelRequest || this.cancelled) return undefined;
    if (!canCancel(this.state.stage) || this.dispatching) {
      return `the order was dispatched (stage ${this.state.stage}); start a return instead`;
    }
    if (!CANCELLATION_REASONS.includes(request.reason)) {
      return `unknown cancellation reason ${request.reason}`;
    }
    return undefined;
  }

  /** Asks the main flow to stop at its next step boundary and waits until the order is cancelled. */
  async requestCancel(request: CancelOrderInput): Promise<OrderView> {
    if (!this.cancelRequest) {
      this.cancelRequest = request;
      this.lastCause = request.requestId;
    }
    await condition(() => this.cancelled || this.state.stage === Stage.COMPLETED);
    return this.view();
  }

  shipmentUpdate(update: ShipmentUpdateInput): void {
    if (this.seenShipmentEvents.has(update.eventId)) return;
    this.seenShipmentEvents.add(update.eventId);
    this.shipmentEvents.push(update);
  }

  restockNotice(): void {
    this.restockNoticed = true;
  }

  operatorRetry(): OrderView {
    this.operatorRetries += 1;
    return this.view();
  }

  reject(kind: RejectedRequest['kind'], requestId: string, reason: string): void {
    log.warn('request rejected', { kind, requestId, reason });
    this.state.rejectedRequests.push({ kind, requestId, reason });
  }

  // ---- plumbing ----

  /** The next carrier update; before dispatch a cancellation request also ends the wait. */
  private async nextShipmentEvent(timeoutMs: number | undefined) {
    const arrived = () => this.shipmentEvents.length > 0 || (this.cancelRequest !== undefined && !this.dispatching);
    if (timeoutMs === undefined) await condition(arrived);
    else await condition(arrived, timeoutMs);
    return this.shipmentEvents.shift()?.status;
  }

  /** One step of the main flow: never interleaved with a message handler's step, and not begun once cancelled. */
  private async step<T>(work: () => Promise<T>): Promise<T> {
    return this.lock.runExclusive(async () => {
      this.checkpoint();
      return work();
    });
  }

  private checkpoint(): void {
    if (this.cancelRequest) throw new StopOrder(this.cancelRequest.reason);
  }

  private next() {
    this.seq += 1;
    return { orderId: this.input.orderId, seq: this.seq, ...this.cause() };
  }

  private cause() {
    return { causationId: this.lastCause, ...(this.input.traceparent ? { traceparent: this.input.traceparent } : {}) };
  }

  private async notifyCustomer(template: 'order-confirmed' | 'order-cancelled' | 'order-shipped' | 'order-delivered') {
    try {
      await notifications.notifyCustomer({
        orderId: this.input.orderId,
        customerId: this.input.customerId,
        template,
        idempotencyKey: `${this.input.orderId}:${template}:r${this.state.revision}`,
        ...this.cause(),
      });
    } catch (error) {
      log.warn('notification failed; the order goes on', { template, error: String(error) });
    }
  }

  private async transition(stage: Stage, reason?: string): Promise<void> {
    await bookkeeping.recordStage({ ...this.next(), to: stage, ...(reason ? { reason } : {}) });
    this.setStage(stage);
  }

  private setStage(stage: Stage): void {
    this.state.stage = stage;
    this.state.status = statusOf(stage);
    this.publishProgress();
  }

  private async flagAttention(reason: string): Promise<void> {
    await steps.setNeedsAttention({ ...this.next(), needsAttention: true, reason });
    this.state.needsAttention = true;
    this.state.attentionReason = reason;
    this.publishProgress();
  }

  private async clearAttention(): Promise<void> {
    await steps.setNeedsAttention({ ...this.next(), needsAttention: false });
    this.state.needsAttention = false;
    this.state.attentionReason = undefined;
    this.publishProgress();
  }

  /** Keeps the Web UI current: search attributes to find the order, details to read it at a glance. */
  private publishProgress(): void {
    upsertSearchAttributes([
      { key: OrderStatusKey, value: this.state.status },
      { key: OrderStageKey, value: this.state.stage },
      { key: CustomerIdKey, value: this.state.customerId },
      { key: OrderTotalKey, value: this.state.totalAmount },
      { key: NeedsAttentionKey, value: this.state.needsAttention },
    ]);
    const lines = this.state.lines.map((line) => `- ${line.quantity} x ${line.sku} (${line.name})`).join('\n');
    setCurrentDetails(
      [
        `**${this.state.stage}** (${this.state.status}), revision ${this.state.revision}`,
        `Total ${this.state.totalAmount} ${this.state.currency} minor units, customer ${this.state.customerId}`,
        lines,
        this.state.needsAttention ? `**Needs attention:** ${this.state.attentionReason}` : '',
        this.state.cancellationReason ? `Cancellation reason: ${this.state.cancellationReason}` : '',
      ]
        .filter(Boolean)
        .join('\n')
    );
  }
}

/**
 * One checkout, from placing the order to delivery or cancellation. See SPEC section 2 for the lifecycle; every
 * message is accepted as an Update (the API's path: the caller learns the outcome) and as a Signal of the same name
 * (so operators can act from the Web UI or CLI, where an invalid request is recorded as rejected).
 */
export async function OrderWorkflow(input: OrderWorkflowInput): Promise<OrderView> {
  const order = new OrderProcess(input);

  setHandler(getOrderQuery, () => order.view());

  setHandler(amendOrderUpdate, (request) => order.amend(request), {
    validator: (request: AmendOrderInput) => {
      const reason = order.amendRefusal(request);
      if (reason) throw new Error(reason);
    },
  });
  setHandler(amendOrderSignal, async (request: AmendOrderInput) => {
    const reason = order.amendRefusal(request);
    if (reason) return order.reject('amendOrder', request.requestId, reason);
    try {
      await order.amend(request);
    } catch (error) {
      if (!(error instanceof ApplicationFailure)) throw error;
      order.reject('amendOrder', request.requestId, error.message);
    }
  });

  setHandler(cancelOrderUpdate, (request) => order.requestCancel(request), {
    validator: (request: CancelOrderInput) => {
      const reason = order.cancelRefusal(request);
      if (reason) throw new Error(reason);
    },
  });
  setHandler(cancelOrderSignal, async (request: CancelOrderInput) => {
    const reason = order.cancelRefusal(request);
    if (reason) return order.reject('cancelOrder', request.requestId, reason);
    await order.requestCancel(request);
  });

  setHandler(shipmentUpdateSignal, (update) => order.shipmentUpdate(update));
  setHandler(restockNoticeSignal, () => order.restockNotice());
  setHandler(retryCompensationUpdate, () => order.operatorRetry());
  setHandler(retryCompensationSignal, () => {
    order.operatorRetry();
  });

  const result = await order.run();
  // Callers of amend/cancel updates still waiting get their answer before the run closes.
  await condition(allHandlersFinished);
  return result;
}
