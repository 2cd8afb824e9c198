import type { ApplicationFailure } from '@temporalio/workflow';
import { ActivityFailure, condition, log } from '@temporalio/workflow';
import type { OutOfStockDetails } from '../domain/failures.js';
import { ActivityErrorType } from '../domain/failures.js';
import type { CancellationReason } from '../domain/order.js';
import { Stage } from '../domain/order.js';
import { ShipmentStatus } from '../domain/shipment.js';
import { steps } from './activity-proxies.js';
import { Amendments } from './amendments.js';
import { Cancellation } from './cancellation.js';
import { CarrierUpdates, meansDispatched } from './carrier-updates.js';
import type { WorkflowChanges } from './changes.js';
import { failureType, messageOf, StopOrder } from './failures.js';
import type { OrderView, OrderWorkflowInput, ShipmentUpdateInput } from './messages.js';
import { OperatorWait } from './operator-wait.js';
import { OrderRecord } from './order-record.js';
import { Parcels } from './parcels.js';
import { PaymentAuthorization } from './payment-authorization.js';
import { Saga } from './saga.js';

const PAYMENT_ACTIVITIES = new Set(['authorizePayment', 'capturePayment', 'voidPayment', 'refundPayment']);

/**
 * One order's checkout saga: the main flow and its steps. What the message handlers act on is one collaborator
 * each (amendments, cancellation, carrier updates, operator retries), all sharing the order's record and lock.
 */
export class OrderProcess {
  readonly record: OrderRecord;
  readonly operator: OperatorWait;
  readonly carrier: CarrierUpdates;
  readonly cancellation: Cancellation;
  readonly amendments: Amendments;
  private readonly payments: PaymentAuthorization;
  private readonly parcels: Parcels;
  private readonly saga = new Saga();
  private readonly state: OrderView;

  constructor(
    private readonly input: OrderWorkflowInput,
    private readonly changes: WorkflowChanges
  ) {
    this.record = new OrderRecord(input, changes);
    this.state = this.record.state;
    this.operator = new OperatorWait(this.record);
    this.payments = new PaymentAuthorization(this.record, this.operator);
    this.carrier = new CarrierUpdates(this.record);
    this.cancellation = new Cancellation(this.record, this.carrier);
    this.parcels = new Parcels(this.record, this.payments, this.cancellation, {
      step: (work) => this.step(work),
      nextUpdate: (timeoutMs) => this.nextShipmentUpdate(timeoutMs),
      complete: () => this.complete(),
    });
    this.amendments = new Amendments(this.record, this.payments, this.cancellation, this.carrier, this.parcels);
  }

  /**
   * Records the order under the saga's lock. Called before any message handler is registered, so an amendment or
   * cancellation that arrived with the start waits for the order to exist (`create-order-locked`).
   */
  createLocked(): Promise<void> {
    return this.record.lock.runExclusive(() => this.createOrder());
  }

  /** The checkout saga, read top to bottom; `created` when the order was already being recorded under the lock. */
  async run(created?: Promise<void>): Promise<OrderView> {
    await (created ?? this.createOrder());
    try {
      await this.reserveInventory();
      await this.authorizePayment();
      // Outside the lock, before the confirmation: while it is sent the order waits at PAYMENT_AUTHORIZED, where it can
      // still be amended or cancelled. (Sent after confirmOrder, checkout would go from authorization to CONFIRMED in
      // one workflow task, and that stage could never be acted on.)
      await this.record.notifyCustomer('order-confirmed');
      await this.step(() => this.confirm());
      await this.step(() => this.requestShipment());
      if (this.changes.splitFulfilment) {
        await this.parcels.deliver();
      } else {
        await this.awaitDispatch();
        await this.awaitDelivery();
      }
    } catch (error) {
      if (error instanceof StopOrder) await this.cancel(error.reason);
      else if (this.changes.compensateAnyFailure) await this.compensateFailure(error);
      else throw error;
    }
    return this.record.view();
  }

  private async createOrder(): Promise<void> {
    const order = {
      orderId: this.input.orderId,
      customerId: this.input.customerId,
      lines: this.input.lines,
      currency: this.input.currency,
      shippingAddress: this.input.shippingAddress,
      ...(this.input.billingAddress ? { billingAddress: this.input.billingAddress } : {}),
      paymentMethod: this.input.payment.method,
      ...(this.input.subscriptionId ? { subscriptionId: this.input.subscriptionId } : {}),
      ...this.record.cause(),
    };
    await this.record.forward('createOrder', (a) => a.createOrder(order));
    this.record.showProgress();
  }

  /**
   * A step failed for good (a refusal no retry changes, attempts that kept timing out). Before dispatch the order is
   * undone like any cancellation and flagged; catalog reasons only: PAYMENT_FAILED when a payment step failed, else
   * OUT_OF_STOCK (the order could not be fulfilled). After dispatch nothing is undone: the parcel left.
   */
  private async compensateFailure(error: unknown): Promise<void> {
    const message = messageOf(error);
    log.error('the order failed', { error: message, dispatched: this.record.dispatching });
    if (this.record.dispatching) {
      await this.record.flagAttention(`failed after dispatch: ${message}`);
      throw error;
    }
    const payment = error instanceof ActivityFailure && PAYMENT_ACTIVITIES.has(error.activityType);
    await this.cancel(payment ? 'PAYMENT_FAILED' : 'OUT_OF_STOCK');
    await this.record.flagAttention(`cancelled after a failure: ${message}`);
  }

  private async reserveInventory(): Promise<void> {
    const backorderUntil = Date.now() + this.input.timings.backorderWindowMs;
    for (;;) {
      // Cleared before the attempt, so a notice that arrives while it runs is not lost.
      if (this.changes.restockNoticeKept) this.record.restockNoticed = false;
      const shortage = await this.step(async () => {
        this.saga.add('release-stock', () => this.releaseStock());
        try {
          await this.record.holdStock(this.state.lines, this.record.reservationHold());
          await this.record.transition(Stage.INVENTORY_RESERVED);
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
        await this.step(() => this.record.transition(Stage.BACKORDERED, `waiting for ${missing?.sku ?? 'stock'}`));
        // Restocks signal BACKORDERED orders only: one that landed before this order showed as backordered woke
        // nobody, so look again now that it does.
        if (this.changes.restockNoticeKept) continue;
      }
      // Woken by restock notices (the inventory context signals backordered orders) or the window closing.
      if (!this.changes.restockNoticeKept) this.record.restockNoticed = false;
      await condition(
        () => this.record.restockNoticed || this.cancellation.requested !== undefined,
        backorderUntil - Date.now()
      );
      this.cancellation.checkpoint();
    }
  }

  private async authorizePayment(): Promise<void> {
    await this.step(async () => {
      this.saga.add('restore-payment', () => this.payments.restore());
      try {
        await this.payments.authorize(this.state.totalAmount);
      } catch (error) {
        // Attempts that all timed out are a failed payment too.
        const failed = this.changes.compensateAnyFailure && error instanceof ActivityFailure;
        if (failureType(error) === undefined && !failed) throw error;
        throw new StopOrder('PAYMENT_FAILED');
      }
      await this.record.transition(Stage.PAYMENT_AUTHORIZED);
    });
  }

  private async confirm(): Promise<void> {
    try {
      const step = this.record.next();
      await this.record.forward('confirmOrder', (a) => a.confirmOrder(step));
    } catch (error) {
      if (failureType(error) !== ActivityErrorType.ReservationExpired) throw error;
      // The hold lapsed (a slow payment, a paused worker): take the stock again, or give up if it is gone.
      await this.holdAgain();
      const step = this.record.next();
      await this.record.forward('confirmOrder', (a) => a.confirmOrder(step));
    }
    this.record.setStage(Stage.CONFIRMED);
  }

  private async holdAgain(): Promise<void> {
    try {
      await this.record.holdStock(this.state.lines, null);
    } catch (error) {
      if (failureType(error) !== ActivityErrorType.OutOfStock) throw error;
      throw new StopOrder('OUT_OF_STOCK');
    }
  }

  private async requestShipment(): Promise<void> {
    // A compensation: after COMPENSATION_MAX_ATTEMPTS it waits for an operator like the others.
    const undo = this.changes.forwardStepsFlagged ? this.record.activities.compensating : steps;
    this.saga.add('cancel-shipment', () => undo.cancelShipment({ ...this.record.next(), reason: 'order cancelled' }));
    const request = { ...this.record.next(), method: this.input.shippingMethod };
    if (this.changes.splitFulfilment) {
      await this.parcels.request(request);
    } else {
      const shipmentId = await this.record.forward('requestShipment', (a) => a.requestShipment(request));
      this.state.shipment = { shipmentId, status: ShipmentStatus.REQUESTED };
    }
    await this.record.transition(Stage.FULFILLING);
  }

  /**
   * Waits for the carrier to pick the parcel up. Meanwhile the card authorization may near its expiry (it is
   * renewed once; a second expiry fails the order) and a missed dispatch deadline flags the order for operators.
   */
  private async awaitDispatch(): Promise<void> {
    const dispatchDeadline = Date.now() + this.input.timings.dispatchDeadlineMs;
    // With `amend-until-dispatch` an amendment may replace the authorization while this waits: when the timer fires,
    // the hold the order has now decides whether it is time to renew.
    const renewalDue = () => this.state.payment!.expiresAt - this.input.timings.reauthorizeBeforeMs;
    for (;;) {
      const renewAt = renewalDue();
      const wakeAt = this.state.needsAttention ? renewAt : Math.min(renewAt, dispatchDeadline);
      const event = await this.nextShipmentEvent(Math.max(1, wakeAt - Date.now()));
      this.cancellation.checkpoint();
      if (meansDispatched(event)) {
        await this.step(() => this.dispatch());
        if (event === 'delivered') this.carrier.impliedDelivery();
        return;
      }
      if (event === 'failed' || event === 'returned') {
        await this.step(() => this.record.flagAttention(`shipment ${event} before dispatch`));
      } else if (Date.now() >= (this.changes.amendUntilDispatch ? renewalDue() : renewAt)) {
        await this.step(() => this.payments.renew());
      } else if (Date.now() >= dispatchDeadline && !this.state.needsAttention) {
        await this.step(() => this.record.flagAttention('not dispatched by the deadline'));
      }
    }
  }

  private async dispatch(): Promise<void> {
    // From here on the parcel has left: a cancellation arriving now is answered "start a return".
    this.record.dispatching = true;
    const payment = this.state.payment!;
    const capture = {
      ...this.payments.step(`capture:${payment.paymentId}`, payment.amount),
      targetPaymentId: payment.paymentId,
    };
    payment.captureId = await this.record.forward('capturePayment', (a) => a.capturePayment(capture));
    const commit = this.record.next();
    await this.record.forward('commitStock', (a) => a.commitStock(commit));
    this.state.heldStock = {};
    await this.recordShipment(ShipmentStatus.SHIPPED);
    // Whatever was flagged while waiting for the carrier (deadline, a failed pick-up) is resolved by the dispatch.
    if (this.changes.honestAttention && this.state.needsAttention) await this.record.clearAttention();
    await this.record.transition(Stage.SHIPPED);
    await this.record.notifyCustomer('order-shipped');
  }

  private async awaitDelivery(): Promise<void> {
    for (;;) {
      const event = await this.nextShipmentEvent(undefined);
      if (event === 'delivered') break;
      if (event === 'in_transit') {
        await this.step(() => this.recordShipment(ShipmentStatus.IN_TRANSIT));
      } else if (event === 'failed' || event === 'returned') {
        await this.step(() => this.record.flagAttention(`shipment ${event}`));
      }
    }
    await this.step(async () => {
      await this.recordShipment(ShipmentStatus.DELIVERED);
      await this.complete();
    });
    await this.record.notifyCustomer('order-delivered');
  }

  private async complete(): Promise<void> {
    // Every parcel arrived: trouble reported on the way (an early `returned`, a `failed` scan) is settled.
    if (this.changes.honestAttention && this.state.needsAttention) await this.record.clearAttention();
    const complete = this.record.next();
    await this.record.forward('completeOrder', (a) => a.completeOrder(complete));
    this.record.setStage(Stage.COMPLETED);
  }

  private async recordShipment(status: ShipmentStatus): Promise<void> {
    const update = { ...this.record.next(), status };
    await this.record.forward('recordShipmentStatus', (a) => a.recordShipmentStatus(update));
    this.state.shipment!.status = status;
  }

  /** Undo everything in reverse, then record the cancellation. Runs under the lock so no amendment interleaves. */
  private async cancel(reason: CancellationReason): Promise<void> {
    await this.record.lock.runExclusive(async () => {
      this.state.cancellationReason = reason;
      await this.record.transition(Stage.CANCELLING, reason);
      await this.saga.compensate((name, error) => this.operator.waitFor(name, error));
      if (this.state.needsAttention) await this.record.clearAttention();
      const cancellation = { ...this.record.next(), reason };
      await this.record.forward('cancelOrder', (a) => a.cancelOrder(cancellation));
      this.record.setStage(Stage.CANCELLED);
      this.cancellation.cancelled = true;
    });
    await this.record.notifyCustomer('order-cancelled');
  }

  // Compensations are idempotent: safe to run when the step never happened or ran twice.
  private async releaseStock(): Promise<void> {
    this.state.heldStock = await this.record.activities.compensating.releaseStock(this.record.next());
  }

  private async nextShipmentEvent(timeoutMs: number | undefined) {
    return (await this.nextShipmentUpdate(timeoutMs))?.status;
  }

  /** The next carrier update; before dispatch a cancellation request also ends the wait. */
  private async nextShipmentUpdate(timeoutMs: number | undefined): Promise<ShipmentUpdateInput | undefined> {
    const lateCancel = () => this.cancellation.lateCancel && this.state.stage === Stage.SHIPPED;
    const arrived = () =>
      this.carrier.pending || (this.cancellation.requested !== undefined && !this.record.dispatching) || lateCancel();
    if (timeoutMs === undefined) await condition(arrived);
    else await condition(arrived, timeoutMs);
    if (lateCancel()) {
      this.cancellation.lateCancel = false;
      await this.record.lock.runExclusive(() =>
        this.record.flagAttention(
          'cancelled as a workflow after dispatch: ignored; start a return if the customer wants one'
        )
      );
    }
    return this.carrier.take();
  }

  /** One step of the main flow: never interleaved with a message handler's step, and not begun once cancelled. */
  private async step<T>(work: () => Promise<T>): Promise<T> {
    return this.record.lock.runExclusive(async () => {
      this.cancellation.checkpoint();
      return work();
    });
  }
}
