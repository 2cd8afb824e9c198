import type { ActivityFailure } from '@temporalio/workflow';
import { ActivityErrorType } from '../domain/failures.js';
import type { OrderLine } from '../domain/order.js';
import { canAmend, orderTotal, quantitiesByProduct, Stage } from '../domain/order.js';
import { ShipmentStatus } from '../domain/shipment.js';
import { bookkeeping, pricing } from './activity-proxies.js';
import type { Cancellation } from './cancellation.js';
import type { CarrierUpdates } from './carrier-updates.js';
import { amendmentRejected, failureType, messageOf, requestIdOf } from './failures.js';
import type { AmendOrderInput, OrderView } from './messages.js';
import type { OrderRecord } from './order-record.js';
import { REMEMBERED } from './order-record.js';
import type { Parcels } from './parcels.js';
import type { PaymentAuthorization } from './payment-authorization.js';

/**
 * Amendments (new items, a new shipping address): validated, priced from the catalog, then applied under the lock
 * with the stock held and the card authorized for the new total first. With `amend-until-dispatch` they are
 * accepted until the carrier reports dispatch, as cancellations are; in FULFILLING the shipment request is replaced
 * too. Each request id is applied once; a repeat gets the outcome of the first.
 */
export class Amendments {
  private readonly outcomes = new Map<string, OrderView>();

  constructor(
    private readonly order: OrderRecord,
    private readonly payments: PaymentAuthorization,
    private readonly cancellation: Cancellation,
    private readonly carrier: CarrierUpdates,
    private readonly parcels: Parcels
  ) {}

  refusal(request: AmendOrderInput): string | undefined {
    if (this.outcomes.has(request.requestId)) return undefined;
    if (!request.items && !request.shippingAddress) return 'an amendment must change items or the shipping address';
    if (request.items) {
      if (request.items.length === 0) return 'an order needs at least one item: cancel it instead';
      const ids = new Set(request.items.map((item) => item.productId));
      if (ids.size !== request.items.length) return 'each product may appear once';
      if (request.items.some((item) => !Number.isInteger(item.quantity) || item.quantity < 1 || item.quantity > 1000)) {
        return 'quantities must be whole numbers from 1 to 1000';
      }
    }
    if (this.cancellation.requested || !this.amendable()) {
      return `the order can no longer be amended (stage ${this.order.state.stage})`;
    }
    if (this.fulfilling() && this.carrier.dispatchQueued()) {
      return 'the carrier reported the parcel dispatched: the order can no longer be amended';
    }
    return undefined;
  }

  /** Before fulfilment; with `amend-until-dispatch` also while the parcel waits for the carrier (as cancel). */
  private amendable(): boolean {
    return canAmend(this.order.state.stage) || (this.fulfilling() && !this.order.dispatching);
  }

  private fulfilling(): boolean {
    return this.order.changes.amendUntilDispatch && this.order.state.stage === Stage.FULFILLING;
  }

  async amend(request: AmendOrderInput): Promise<OrderView> {
    const known = this.outcomes.get(request.requestId);
    if (known) return known;
    return this.order.lock.runExclusive(async () => {
      const again = this.outcomes.get(request.requestId);
      if (again) return again;
      const reason = this.refusal(request);
      if (reason) throw amendmentRejected(reason);
      this.order.lastCause = request.requestId;
      const lines = request.items ? await this.price(request.items) : this.order.state.lines;
      // While the shipment is replaced, carrier updates wait: one about the old shipment must not dispatch the new.
      if (this.fulfilling()) await this.carrier.heldWhile(() => this.apply(lines, request));
      else await this.apply(lines, request);
      const result = this.order.view();
      this.outcomes.set(request.requestId, result);
      if (this.order.changes.honestAttention && this.outcomes.size > REMEMBERED) {
        this.outcomes.delete(this.outcomes.keys().next().value!);
      }
      return result;
    });
  }

  /** An amendment sent as a signal: whatever it holds, it is applied or recorded as rejected, never fails the run. */
  async bySignal(request: AmendOrderInput): Promise<void> {
    try {
      const reason = this.refusal(request);
      if (reason) return this.order.reject('amendOrder', request.requestId, reason);
      await this.amend(request);
    } catch (error) {
      this.order.reject('amendOrder', requestIdOf(request), messageOf(error));
    }
  }

  /** Prices an amendment's items; with `messages-never-fail` items that cannot be priced reject the amendment. */
  private async price(items: { productId: string; quantity: number }[]): Promise<OrderLine[]> {
    const { currency } = this.order.input;
    if (!this.order.changes.messagesNeverFail) return bookkeeping.priceLines(items, currency);
    try {
      return await pricing.priceLines(items, currency);
    } catch (error) {
      throw amendmentRejected(`the items could not be priced: ${messageOf(error)}`);
    }
  }

  /**
   * Holds the new quantities and authorizes the new total before recording; a refusal leaves the order as it was.
   * In FULFILLING a change of contents or address then replaces the shipment request.
   */
  private async apply(lines: OrderLine[], request: AmendOrderInput): Promise<void> {
    const { order } = this;
    const { state } = order;
    const previousLines = state.lines;
    const stockHeld = Object.keys(state.heldStock).length > 0;
    if (stockHeld) {
      try {
        await order.holdStock(lines, order.reservationHold());
      } catch (error) {
        if (failureType(error) !== ActivityErrorType.OutOfStock) throw error;
        throw amendmentRejected(`not enough stock for the amendment: ${(error as ActivityFailure).cause?.message}`);
      }
    }
    const total = orderTotal(lines);
    if (state.payment && total !== state.payment.amount) {
      try {
        await this.payments.reauthorize(total);
      } catch (error) {
        // Whatever failed (a decline, a void refused, attempts timing out), the stock goes back to the old lines.
        if (failureType(error) === undefined && !order.changes.paymentAfterMoneyMoved) throw error;
        if (stockHeld) await order.holdStock(previousLines, order.reservationHold());
        throw amendmentRejected(
          failureType(error) === ActivityErrorType.PaymentDeclined
            ? 'the card was declined for the new total'
            : `the payment could not be moved to the new total: ${messageOf(error)}`
        );
      }
    }
    state.revision += 1;
    state.lines = lines;
    state.totalAmount = total;
    // A backordered order may fit the stock with its new lines: try again now rather than at the next restock.
    if (state.stage === Stage.BACKORDERED) order.noticeRestock();
    const amendment = {
      ...order.next(),
      lines,
      revision: state.revision,
      ...(request.shippingAddress ? { shippingAddress: request.shippingAddress } : {}),
    };
    await order.forward('applyAmendment', (a) => a.applyAmendment(amendment));
    if (this.fulfilling()) {
      if (request.shippingAddress || !sameContents(previousLines, lines)) await this.replaceShipment();
      // Split fulfilment: the same parcels, but each parcel's share follows a total the catalog re-priced.
      else if (order.changes.splitFulfilment) this.parcels.reshare();
    }
    order.showProgress();
  }

  /**
   * CancelShipment + CreateShipment in one step; updates naming the replaced shipment are ignored from now on. With
   * `split-fulfilment` every parcel is replaced (none has left, or the amendment was refused).
   */
  private async replaceShipment(): Promise<void> {
    const { state } = this.order;
    const reason = `order amended (revision ${state.revision})`;
    if (this.order.changes.splitFulfilment) {
      const request = {
        ...this.order.next(),
        method: this.order.input.shippingMethod,
        revision: state.revision,
        reason,
      };
      for (const replaced of await this.parcels.replace(request)) this.carrier.shipmentReplaced(replaced);
      return;
    }
    const replaced = state.shipment?.shipmentId;
    const step = { ...this.order.next(), revision: state.revision, reason };
    const shipmentId = await this.order.forward('replaceShipment', (a) => a.replaceShipment(step));
    if (!shipmentId || shipmentId === replaced) return;
    state.shipment = { shipmentId, status: ShipmentStatus.REQUESTED };
    if (replaced) this.carrier.shipmentReplaced(replaced);
  }
}

/** The same products in the same quantities: the warehouse would ship the same parcel. */
function sameContents(before: readonly OrderLine[], after: readonly OrderLine[]): boolean {
  const previous = quantitiesByProduct(before);
  return before.length === after.length && after.every((line) => previous.get(line.productId) === line.quantity);
}
