// One file above 300 lines on purpose: the saga's steps, compensations and message handlers share one state
// object and its invariants; split, every part would need the whole class to be read.
import { RetryState } from '@temporalio/common';
import type { ActivityInterfaceFor } from '@temporalio/workflow';
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
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
import type { WorkflowChanges } from './changes.js';
import { adoptedChanges } from './changes.js';
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
  ShipmentUpdateStatus,
} from './messages.js';
import { Saga } from './saga.js';
import { CustomerIdKey, NeedsAttentionKey, OrderStageKey, OrderStatusKey, OrderTotalKey } from './search-attributes.js';

/** Failure types a workflow update may end with; callers map them to HTTP answers. */
export const OrderRejection = {
  AmendmentRejected: 'AmendmentRejected',
  CancellationRejected: 'CancellationRejected',
} as const;

type ActivityProxy = ActivityInterfaceFor<Activities>;

const FORWARD_RETRY = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' };

// Forward steps: database writes that must eventually happen, so they retry until they do.
const steps = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: FORWARD_RETRY });
// One fenced transaction takes well under Prisma's 5 s transaction limit: after 10 s the attempt (or its worker) is
// gone, and retrying it is safe.
const quickSteps = proxyActivities<Activities>({ startToCloseTimeout: '10s', retry: FORWARD_RETRY });

const PAYMENT_RETRY = {
  initialInterval: '500ms',
  backoffCoefficient: 2,
  maximumInterval: '10s',
  maximumAttempts: 5,
  nonRetryableErrorTypes: [ActivityErrorType.PaymentDeclined],
};
// Payments: a bounded number of tries, then the order fails with PAYMENT_FAILED instead of hanging at checkout.
const payments = proxyActivities<Activities>({ startToCloseTimeout: '30s', retry: PAYMENT_RETRY });
// Every gateway call carries an idempotency key, so an attempt that outlives 15 s is retried without harm.
const quickPayments = proxyActivities<Activities>({ startToCloseTimeout: '15s', retry: PAYMENT_RETRY });

const PAYMENT_ACTIVITIES = new Set(['authorizePayment', 'capturePayment', 'voidPayment', 'refundPayment']);

/** How many rejected requests and amendment outcomes an order remembers (history and queries stay bounded). */
const REMEMBERED = 20;

/** The request id a workflow cancellation (Web UI "Cancel", `temporal workflow cancel`) is recorded under. */
const WORKFLOW_CANCELLATION = 'workflow-cancellation';

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

// Pricing an amendment reads the catalog with what the request holds: an id the database refuses (a SKU typed into the
// Web UI) must reject the amendment after a few tries, not retry forever while the order waits behind it.
const pricing = proxyLocalActivities<Activities>({
  startToCloseTimeout: '10s',
  retry: { initialInterval: '200ms', backoffCoefficient: 2, maximumAttempts: 3 },
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

/** The activity gave up because its attempts (or its schedule) ran out, not because it refused for good. */
function retriesExhausted(error: unknown): boolean {
  return (
    error instanceof ActivityFailure &&
    (error.retryState === RetryState.MAXIMUM_ATTEMPTS_REACHED || error.retryState === RetryState.TIMEOUT)
  );
}

function messageOf(error: unknown): string {
  if (error instanceof ActivityFailure) return `${error.activityType}: ${error.cause?.message ?? error.message}`;
  return error instanceof Error ? error.message : String(error);
}

/** The id a message carries, read defensively: a signal sent from the Web UI may hold anything. */
function requestIdOf(request: unknown): string {
  if (typeof request !== 'object' || request === null) return 'unknown';
  const { requestId, eventId } = request as { requestId?: unknown; eventId?: unknown };
  if (typeof requestId === 'string') return requestId;
  return typeof eventId === 'string' ? eventId : 'unknown';
}

function remember<T>(list: T[], item: T): void {
  list.push(item);
  if (list.length > REMEMBERED) list.splice(0, list.length - REMEMBERED);
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
  /** A workflow cancellation arrived after dispatch: flag it for operators once the parcel is on its way. */
  private lateCancel = false;
  private lastCause: string;

  constructor(
    private readonly input: OrderWorkflowInput,
    private readonly changes: WorkflowChanges
  ) {
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
    const order = {
      orderId: this.input.orderId,
      customerId: this.input.customerId,
      lines: this.input.lines,
      currency: this.input.currency,
      shippingAddress: this.input.shippingAddress,
      ...(this.input.billingAddress ? { billingAddress: this.input.billingAddress } : {}),
      paymentMethod: this.input.payment.method,
      ...(this.input.subscriptionId ? { subscriptionId: this.input.subscriptionId } : {}),
      ...this.cause(),
    };
    await this.forward('createOrder', (a) => a.createOrder(order));
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
      if (error instanceof StopOrder) await this.cancel(error.reason);
      else if (this.changes.compensateAnyFailure) await this.compensateFailure(error);
      else throw error;
    }
    return this.view();
  }

  /**
   * A step failed for good (a refusal no retry changes, attempts that kept timing out). Before dispatch the order is
   * undone like any cancellation and flagged; catalog reasons only: PAYMENT_FAILED when a payment step failed, else
   * OUT_OF_STOCK (the order could not be fulfilled). After dispatch nothing is undone: the parcel left.
   */
  private async compensateFailure(error: unknown): Promise<void> {
    const message = messageOf(error);
    log.error('the order failed', { error: message, dispatched: this.dispatching });
    if (this.dispatching) {
      await this.flagAttention(`failed after dispatch: ${message}`);
      throw error;
    }
    const payment = error instanceof ActivityFailure && PAYMENT_ACTIVITIES.has(error.activityType);
    await this.cancel(payment ? 'PAYMENT_FAILED' : 'OUT_OF_STOCK');
    await this.flagAttention(`cancelled after a failure: ${message}`);
  }

  // ---- the steps ----

  private async reserveInventory(): Promise<void> {
    const backorderUntil = Date.now() + this.input.timings.backorderWindowMs;
    for (;;) {
      // Cleared before the attempt, so a notice that arrives while it runs is not lost.
      if (this.changes.restockNoticeKept) this.restockNoticed = false;
      const shortage = await this.step(async () => {
        this.saga.add('release-stock', () => this.releaseStock());
        try {
          const hold = { ...this.next(), lines: this.state.lines, holdMs: this.reservationHold() };
          this.state.heldStock = await this.forward('holdStock', (a) => a.holdStock(hold));
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
        // Restocks signal BACKORDERED orders only: one that landed before this order showed as backordered woke
        // nobody, so look again now that it does.
        if (this.changes.restockNoticeKept) continue;
      }
      // Woken by restock notices (the inventory context signals backordered orders) or the window closing.
      if (!this.changes.restockNoticeKept) this.restockNoticed = false;
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
        // Attempts that all timed out are a failed payment too.
        const failed = this.changes.compensateAnyFailure && error instanceof ActivityFailure;
        if (failureType(error) === undefined && !failed) throw error;
        throw new StopOrder('PAYMENT_FAILED');
      }
      await this.transition(Stage.PAYMENT_AUTHORIZED);
    });
  }

  private async confirm(): Promise<void> {
    try {
      const step = this.next();
      await this.forward('confirmOrder', (a) => a.confirmOrder(step));
    } catch (error) {
      if (failureType(error) !== ActivityErrorType.ReservationExpired) throw error;
      // The hold lapsed (a slow payment, a paused worker): take the stock again, or give up if it is gone.
      await this.holdAgain();
      const step = this.next();
      await this.forward('confirmOrder', (a) => a.confirmOrder(step));
    }
    this.setStage(Stage.CONFIRMED);
  }

  private async holdAgain(): Promise<void> {
    try {
      const hold = { ...this.next(), lines: this.state.lines, holdMs: null };
      this.state.heldStock = await this.forward('holdStock', (a) => a.holdStock(hold));
    } catch (error) {
      if (failureType(error) !== ActivityErrorType.OutOfStock) throw error;
      throw new StopOrder('OUT_OF_STOCK');
    }
  }

  private async requestShipment(): Promise<void> {
    // A compensation: after COMPENSATION_MAX_ATTEMPTS it waits for an operator like the others.
    const undo = this.changes.forwardStepsFlagged ? this.compensating : steps;
    this.saga.add('cancel-shipment', () => undo.cancelShipment({ ...this.next(), reason: 'order cancelled' }));
    const request = { ...this.next(), method: this.input.shippingMethod };
    const shipmentId = await this.forward('requestShipment', (a) => a.requestShipment(request));
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
    const capture = {
      ...this.paymentStep(`capture:${payment.paymentId}`, payment.amount),
      targetPaymentId: payment.paymentId,
    };
    payment.captureId = await this.forward('capturePayment', (a) => a.capturePayment(capture));
    const commit = this.next();
    await this.forward('commitStock', (a) => a.commitStock(commit));
    this.state.heldStock = {};
    const shippedStatus = { ...this.next(), status: ShipmentStatus.SHIPPED };
    await this.forward('recordShipmentStatus', (a) => a.recordShipmentStatus(shippedStatus));
    this.state.shipment!.status = ShipmentStatus.SHIPPED;
    // Whatever was flagged while waiting for the carrier (deadline, a failed pick-up) is resolved by the dispatch.
    if (this.changes.honestAttention && this.state.needsAttention) await this.clearAttention();
    await this.transition(Stage.SHIPPED);
    await this.notifyCustomer('order-shipped');
  }

  private async awaitDelivery(): Promise<void> {
    for (;;) {
      const event = await this.nextShipmentEvent(undefined);
      if (event === 'delivered') break;
      if (event === 'in_transit') {
        await this.step(() => {
          const status = { ...this.next(), status: ShipmentStatus.IN_TRANSIT };
          return this.forward('recordShipmentStatus', (a) => a.recordShipmentStatus(status));
        });
        this.state.shipment!.status = ShipmentStatus.IN_TRANSIT;
      } else if (event === 'failed' || event === 'returned') {
        await this.step(() => this.flagAttention(`shipment ${event}`));
      }
    }
    await this.step(async () => {
      const delivered = { ...this.next(), status: ShipmentStatus.DELIVERED };
      await this.forward('recordShipmentStatus', (a) => a.recordShipmentStatus(delivered));
      this.state.shipment!.status = ShipmentStatus.DELIVERED;
      // The parcel arrived: trouble reported on the way (an early `returned`, a `failed` scan) is settled.
      if (this.changes.honestAttention && this.state.needsAttention) await this.clearAttention();
      const complete = this.next();
      await this.forward('completeOrder', (a) => a.completeOrder(complete));
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
      const cancellation = { ...this.next(), reason };
      await this.forward('cancelOrder', (a) => a.cancelOrder(cancellation));
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
      startToCloseTimeout: this.changes.shorterTimeouts ? '15s' : '30s',
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

  /**
   * Runs a forward step. With `forward-steps-flagged` it gets COMPENSATION_MAX_ATTEMPTS tries; if they all fail the
   * order is flagged NeedsAttention (a capture the gateway keeps refusing, a database that stays down) and the step
   * keeps retrying without limit, clearing the flag once it succeeds. `call` must reuse one input (one step seq).
   */
  private async forward<T>(name: string, call: (activities: ActivityProxy) => Promise<T>): Promise<T> {
    if (!this.changes.forwardStepsFlagged) return call(this.unboundedSteps);
    try {
      return await call(this.boundedSteps);
    } catch (error) {
      if (!retriesExhausted(error)) throw error;
      const reason = `${name} keeps failing, still retrying: ${messageOf(error)}`;
      log.error('a forward step keeps failing', { step: name, error: messageOf(error) });
      await this.flagAttention(reason);
      const result = await call(this.unboundedSteps);
      if (this.state.attentionReason === reason) await this.clearAttention();
      return result;
    }
  }

  private get unboundedSteps(): ActivityProxy {
    return this.changes.shorterTimeouts ? quickSteps : steps;
  }

  private get boundedSteps(): ActivityProxy {
    return proxyActivities<Activities>({
      startToCloseTimeout: this.changes.shorterTimeouts ? '10s' : '30s',
      retry: { ...FORWARD_RETRY, maximumAttempts: this.input.timings.compensationMaxAttempts },
    });
  }

  /** Retries `work` until it succeeds, waiting for an operator each time it exhausts its attempts. */
  private async untilDone(name: string, work: () => Promise<void>): Promise<void> {
    let flagged = false;
    for (;;) {
      try {
        await work();
        if (flagged) await this.clearAttention();
        return;
      } catch (error) {
        flagged = true;
        await this.waitForOperator(name, error);
      }
    }
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

  private async newAuthorization(amount: number) {
    this.authorizations += 1;
    return (this.changes.shorterTimeouts ? quickPayments : payments).authorizePayment({
      ...this.paymentStep(`authorize:${this.authorizations}`, amount),
      token: this.input.payment.token,
      holdMs: this.input.timings.authorizationHoldMs,
    });
  }

  private async authorize(amount: number): Promise<void> {
    const authorization = await this.newAuthorization(amount);
    this.state.payment = { ...authorization, amount, reauthorized: this.state.payment?.reauthorized ?? false };
  }

  /**
   * Replaces the authorization with a fresh one for `amount`; the old one is voided only once the new one holds.
   * With `payment-after-money-moved` the order's payment changes only once the old hold is voided: if that void
   * fails, the old hold stays the order's and the fresh one is voided (an operator is asked if even that fails).
   */
  private async reauthorize(amount: number): Promise<void> {
    const previous = this.state.payment!;
    if (!this.changes.paymentAfterMoneyMoved) {
      await this.authorize(amount);
      await this.voidAuthorization(previous.paymentId, previous.amount);
      return;
    }
    const fresh = await this.newAuthorization(amount);
    try {
      await this.voidAuthorization(previous.paymentId, previous.amount);
    } catch (error) {
      await this.untilDone('void-replacement-authorization', () => this.voidAuthorization(fresh.paymentId, amount));
      throw error;
    }
    this.state.payment = { ...fresh, amount, reauthorized: previous.reauthorized };
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
      const lines = request.items ? await this.priceAmendment(request.items) : this.state.lines;
      await this.applyAmendment(lines, request);
      const result = this.view();
      this.amendments.set(request.requestId, result);
      if (this.changes.honestAttention && this.amendments.size > REMEMBERED) {
        this.amendments.delete(this.amendments.keys().next().value!);
      }
      return result;
    });
  }

  /** Prices an amendment's items; with `messages-never-fail` items that cannot be priced reject the amendment. */
  private async priceAmendment(items: { productId: string; quantity: number }[]): Promise<OrderLine[]> {
    if (!this.changes.messagesNeverFail) return bookkeeping.priceLines(items, this.input.currency);
    try {
      return await pricing.priceLines(items, this.input.currency);
    } catch (error) {
      throw ApplicationFailure.create({
        type: OrderRejection.AmendmentRejected,
        message: `the items could not be priced: ${messageOf(error)}`,
        nonRetryable: true,
      });
    }
  }

  /** An amendment sent as a signal: whatever it holds, it is applied or recorded as rejected, never fails the run. */
  async amendBySignal(request: AmendOrderInput): Promise<void> {
    try {
      const reason = this.amendRefusal(request);
      if (reason) return this.reject('amendOrder', request.requestId, reason);
      await this.amend(request);
    } catch (error) {
      this.reject('amendOrder', requestIdOf(request), messageOf(error));
    }
  }

  /** Holds the new quantities and authorizes the new total before recording; a refusal leaves the order as it was. */
  private async applyAmendment(lines: OrderLine[], request: AmendOrderInput): Promise<void> {
    const previousLines = this.state.lines;
    const stockHeld = Object.keys(this.state.heldStock).length > 0;
    if (stockHeld) {
      try {
        const hold = { ...this.next(), lines, holdMs: this.reservationHold() };
        this.state.heldStock = await this.forward('holdStock', (a) => a.holdStock(hold));
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
        // Whatever failed (a decline, a void refused, attempts timing out), the stock goes back to the old lines.
        if (failureType(error) === undefined && !this.changes.paymentAfterMoneyMoved) throw error;
        if (stockHeld) {
          const hold = { ...this.next(), lines: previousLines, holdMs: this.reservationHold() };
          this.state.heldStock = await this.forward('holdStock', (a) => a.holdStock(hold));
        }
        throw ApplicationFailure.create({
          type: OrderRejection.AmendmentRejected,
          message:
            failureType(error) === ActivityErrorType.PaymentDeclined
              ? 'the card was declined for the new total'
              : `the payment could not be moved to the new total: ${messageOf(error)}`,
          nonRetryable: true,
        });
      }
    }
    this.state.revision += 1;
    this.state.lines = lines;
    this.state.totalAmount = total;
    // A backordered order may fit the stock with its new lines: try again now rather than at the next restock.
    if (this.state.stage === Stage.BACKORDERED) this.restockNoticed = true;
    const amendment = {
      ...this.next(),
      lines,
      revision: this.state.revision,
      ...(request.shippingAddress ? { shippingAddress: request.shippingAddress } : {}),
    };
    await this.forward('applyAmendment', (a) => a.applyAmendment(amendment));
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
    const unknownReason = CANCELLATION_REASONS.includes(request.reason)
      ? undefined
      : `unknown cancellation reason ${request.reason}`;
    // Already being cancelled (a decline, a stock-out): the honest answer is that cancellation, once it is done.
    if (this.changes.honestAttention && this.state.stage === Stage.CANCELLING) return unknownReason;
    if (!canCancel(this.state.stage) || this.dispatching) {
      return `the order was dispatched (stage ${this.state.stage}); start a return instead`;
    }
    if (this.changes.queuedDispatchWins && this.dispatchQueued()) {
      return 'the carrier reported the parcel dispatched; start a return instead';
    }
    return unknownReason;
  }

  /** A carrier update that means the parcel left is waiting to be processed: it came first, so it wins. */
  private dispatchQueued(): boolean {
    return this.shipmentEvents.some((event) => ['shipped', 'in_transit', 'delivered'].includes(event.status));
  }

  /** Asks the main flow to stop at its next step boundary and waits until the order is cancelled. */
  async requestCancel(request: CancelOrderInput): Promise<OrderView> {
    this.acceptCancel(request);
    await condition(() => this.cancelled || this.state.stage === Stage.COMPLETED);
    return this.view();
  }

  private acceptCancel(request: CancelOrderInput): void {
    if (this.cancelRequest) return;
    if (this.changes.honestAttention && this.state.stage === Stage.CANCELLING) return;
    this.cancelRequest = request;
    this.lastCause = request.requestId;
  }

  /** A cancellation sent as a signal: accepted (the main flow stops at its next step) or recorded as rejected. */
  cancelBySignal(request: CancelOrderInput): void {
    try {
      const reason = this.cancelRefusal(request);
      if (reason) return this.reject('cancelOrder', request.requestId, reason);
      this.acceptCancel(request);
    } catch (error) {
      this.reject('cancelOrder', requestIdOf(request), messageOf(error));
    }
  }

  /**
   * Temporal Web UI "Cancel", `temporal workflow cancel`, `handle.cancel()`: a customer-requested cancellation
   * before dispatch; after dispatch it cannot recall the parcel, so it is recorded as rejected and flagged.
   */
  workflowCancelRequested(): void {
    const settled: Stage[] = [Stage.CANCELLING, Stage.CANCELLED, Stage.COMPLETED];
    if (this.cancelRequest || this.cancelled || settled.includes(this.state.stage)) return;
    const request: CancelOrderInput = { requestId: WORKFLOW_CANCELLATION, reason: 'CUSTOMER_REQUESTED' };
    const refusal = this.cancelRefusal(request);
    if (!refusal) return this.acceptCancel(request);
    this.reject('cancelOrder', WORKFLOW_CANCELLATION, refusal);
    this.lateCancel = true;
  }

  shipmentUpdate(update: ShipmentUpdateInput): void {
    if (this.changes.messagesNeverFail && !this.validShipmentUpdate(update)) {
      return this.reject('shipmentUpdate', requestIdOf(update), `not a shipment update: ${JSON.stringify(update)}`);
    }
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

  private validShipmentUpdate(update: ShipmentUpdateInput): boolean {
    const statuses: unknown[] = Object.values(ShipmentUpdateStatus);
    return (
      typeof update === 'object' &&
      update !== null &&
      typeof update.eventId === 'string' &&
      statuses.includes(update.status)
    );
  }

  reject(kind: RejectedRequest['kind'], requestId: string, reason: string): void {
    log.warn('request rejected', { kind, requestId, reason });
    if (this.changes.honestAttention) remember(this.state.rejectedRequests, { kind, requestId, reason });
    else this.state.rejectedRequests.push({ kind, requestId, reason });
  }

  // ---- plumbing ----

  /** The next carrier update; before dispatch a cancellation request also ends the wait. */
  private async nextShipmentEvent(timeoutMs: number | undefined) {
    const lateCancel = () => this.lateCancel && this.state.stage === Stage.SHIPPED;
    const arrived = () =>
      this.shipmentEvents.length > 0 || (this.cancelRequest !== undefined && !this.dispatching) || lateCancel();
    if (timeoutMs === undefined) await condition(arrived);
    else await condition(arrived, timeoutMs);
    if (lateCancel()) {
      this.lateCancel = false;
      await this.lock.runExclusive(() =>
        this.flagAttention('cancelled as a workflow after dispatch: ignored; start a return if the customer wants one')
      );
    }
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
    await this.unboundedSteps.setNeedsAttention({ ...this.next(), needsAttention: true, reason });
    this.state.needsAttention = true;
    this.state.attentionReason = reason;
    this.publishProgress();
  }

  private async clearAttention(): Promise<void> {
    await this.unboundedSteps.setNeedsAttention({ ...this.next(), needsAttention: false });
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
  const changes = adoptedChanges();
  const order = new OrderProcess(input, changes);
  // With `compensate-any-failure` no step or handler is interrupted by a workflow cancellation: it becomes a
  // cancellation request that the main flow honours at its next step boundary, like the cancelOrder update.
  const shielded = <T>(work: () => Promise<T>): Promise<T> =>
    changes.compensateAnyFailure ? CancellationScope.nonCancellable(work) : work();

  setHandler(getOrderQuery, () => order.view());

  setHandler(amendOrderUpdate, (request) => shielded(() => order.amend(request)), {
    validator: (request: AmendOrderInput) => {
      const reason = order.amendRefusal(request);
      if (reason) throw new Error(reason);
    },
  });
  setHandler(amendOrderSignal, async (request: AmendOrderInput) => {
    if (changes.messagesNeverFail) return shielded(() => order.amendBySignal(request));
    const reason = order.amendRefusal(request);
    if (reason) return order.reject('amendOrder', request.requestId, reason);
    try {
      await order.amend(request);
    } catch (error) {
      if (!(error instanceof ApplicationFailure)) throw error;
      order.reject('amendOrder', request.requestId, error.message);
    }
  });

  setHandler(cancelOrderUpdate, (request) => shielded(() => order.requestCancel(request)), {
    validator: (request: CancelOrderInput) => {
      const reason = order.cancelRefusal(request);
      if (reason) throw new Error(reason);
    },
  });
  setHandler(cancelOrderSignal, async (request: CancelOrderInput) => {
    if (changes.messagesNeverFail) return order.cancelBySignal(request);
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

  if (!changes.compensateAnyFailure) {
    const result = await order.run();
    // Callers of amend/cancel updates still waiting get their answer before the run closes.
    await condition(allHandlersFinished);
    return result;
  }
  let cancellation: Error | undefined;
  CancellationScope.current().cancelRequested.catch((error: unknown) => {
    cancellation = error instanceof Error ? error : new CancelledFailure(String(error));
    order.workflowCancelRequested();
  });
  const result = await CancellationScope.nonCancellable(async () => {
    const view = await order.run();
    await condition(allHandlersFinished);
    return view;
  });
  // An honoured workflow cancellation closes the run as Canceled, as the operator asked; the order is CANCELLED.
  if (cancellation && result.stage === Stage.CANCELLED) throw cancellation;
  return result;
}
