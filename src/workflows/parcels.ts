import { Stage } from '../domain/order.js';
import type { Parcel } from '../domain/shipment.js';
import { ShipmentStatus } from '../domain/shipment.js';
import type { Cancellation } from './cancellation.js';
import { meansDispatched, replacedReason } from './carrier-updates.js';
import type { ParcelView, ShipmentUpdateInput, ShipmentUpdateStatus } from './messages.js';
import type { OrderRecord } from './order-record.js';
import type { PaymentAuthorization } from './payment-authorization.js';

/** What the saga lends the parcels: its locked steps, its carrier-update wait and the order's completion. */
export interface ParcelHost {
  step<T>(work: () => Promise<T>): Promise<T>;
  nextUpdate(timeoutMs: number | undefined): Promise<ShipmentUpdateInput | undefined>;
  complete(): Promise<void>;
}

/** How far a parcel has come, and how far a carrier update takes it. */
const PROGRESS: Partial<Record<ShipmentStatus, number>> = { SHIPPED: 1, IN_TRANSIT: 2, DELIVERED: 3 };
const REACHES: Partial<Record<ShipmentUpdateStatus, number>> = { shipped: 1, in_transit: 2, delivered: 3 };
const progressOf = (parcel: ParcelView) => PROGRESS[parcel.status] ?? 0;
const left = (parcel: ParcelView) => parcel.status !== ShipmentStatus.REQUESTED;

/**
 * Split fulfilment (`split-fulfilment`): the order ships one parcel per warehouse its stock is held in. Each parcel
 * captures its share of the payment and commits its warehouse's stock when it leaves; the order is SHIPPED once every
 * parcel left and COMPLETED once every parcel arrived. An order held in one warehouse is one parcel, one capture.
 */
export class Parcels {
  constructor(
    private readonly order: OrderRecord,
    private readonly payments: PaymentAuthorization,
    private readonly cancellation: Cancellation,
    private readonly host: ParcelHost
  ) {}

  private get parcels(): ParcelView[] {
    return this.order.state.shipments ?? [];
  }

  /** Requests one shipment per warehouse and gives each its share of the authorized amount. */
  async request(request: ReturnType<OrderRecord['next']> & { method: 'standard' | 'express' }): Promise<void> {
    this.assign(await this.order.forward('requestParcels', (a) => a.requestParcels(request)));
  }

  /**
   * An amendment before any parcel left (`amend-until-dispatch`): every parcel still requested is cancelled and the
   * parcels of the stock held now are requested, in one step, each with its share of the new amount. Returns the ids
   * of the parcels replaced, whose carrier updates no longer concern the order.
   */
  async replace(
    request: ReturnType<OrderRecord['next']> & { method: 'standard' | 'express'; revision: number; reason: string }
  ): Promise<string[]> {
    const before = this.parcels.map((parcel) => parcel.shipmentId);
    this.assign(await this.order.forward('replaceParcels', (a) => a.replaceParcels(request)));
    return before.filter((shipmentId) => !this.parcels.some((parcel) => parcel.shipmentId === shipmentId));
  }

  /** An amendment moved the authorized amount but not what ships (a new catalog price): the shares follow it. */
  reshare(): void {
    this.assign(this.parcels);
  }

  /**
   * Gives each parcel, none of which has left, its share of the authorized amount: what its units cost at the order's
   * prices, the last parcel taking the remainder, so the captures add up to exactly the amount.
   */
  private assign(parcels: readonly Parcel[]): void {
    const { state } = this.order;
    const prices = new Map(state.lines.map((line) => [line.productId, line.unitPrice]));
    const total = state.payment!.amount;
    let shared = 0;
    state.shipments = parcels.map((parcel, index) => {
      const worth = parcel.items.reduce((sum, item) => sum + item.quantity * (prices.get(item.productId) ?? 0), 0);
      const amount = index === parcels.length - 1 ? total - shared : Math.min(worth, total - shared);
      shared += amount;
      return { ...parcel, status: ShipmentStatus.REQUESTED, amount };
    });
    state.shipment = { shipmentId: parcels[0]!.shipmentId, status: ShipmentStatus.REQUESTED };
  }

  /**
   * Follows every parcel until it arrives. Until all have left, the card authorization may near its expiry (renewed
   * once, while nothing is captured yet) and a missed dispatch deadline flags the order for operators.
   */
  async deliver(): Promise<void> {
    const dispatchDeadline = Date.now() + this.order.input.timings.dispatchDeadlineMs;
    while (!this.parcels.every((parcel) => parcel.status === ShipmentStatus.DELIVERED)) {
      const update = await this.host.nextUpdate(this.wait(dispatchDeadline));
      this.cancellation.checkpoint();
      if (update) await this.apply(update);
      else await this.host.step(() => this.timerFired(dispatchDeadline));
    }
    await this.order.notifyCustomer('order-delivered');
  }

  /** When the authorization is renewed: never once a share was captured, as a new hold would not carry that capture. */
  private renewAt(): number | undefined {
    if (this.parcels.some(left)) return undefined;
    return this.order.state.payment!.expiresAt - this.order.input.timings.reauthorizeBeforeMs;
  }

  /** How long to wait for the carrier: with every parcel gone there is no deadline left to watch. */
  private wait(dispatchDeadline: number): number | undefined {
    if (this.parcels.every(left)) return undefined;
    const renewAt = this.renewAt() ?? Infinity;
    const wakeAt = this.order.state.needsAttention ? renewAt : Math.min(renewAt, dispatchDeadline);
    return wakeAt === Infinity ? undefined : Math.max(1, wakeAt - Date.now());
  }

  private async timerFired(dispatchDeadline: number): Promise<void> {
    const renewAt = this.renewAt();
    if (renewAt !== undefined && Date.now() >= renewAt) await this.payments.renew();
    else if (Date.now() >= dispatchDeadline && !this.order.state.needsAttention) {
      await this.order.flagAttention('not dispatched by the deadline');
    }
  }

  private async apply(update: ShipmentUpdateInput): Promise<void> {
    const parcel = this.parcelFor(update);
    if (!parcel) {
      return this.order.reject('shipmentUpdate', update.eventId, `shipment ${update.shipmentId} is not this order's`);
    }
    const { status } = update;
    if (meansDispatched(status) && !left(parcel)) {
      if (!(await this.whileCurrent(parcel, update, () => this.dispatch(parcel)))) return;
    }
    if (status === 'delivered' && parcel.status !== ShipmentStatus.DELIVERED) {
      await this.host.step(() => this.arrived(parcel));
    } else if (status === 'in_transit' && parcel.status === ShipmentStatus.SHIPPED) {
      await this.host.step(() => this.record(parcel, ShipmentStatus.IN_TRANSIT));
    } else if (status === 'failed' || status === 'returned') {
      const which = this.parcels.length > 1 ? ` ${parcel.shipmentId}` : '';
      const when = left(parcel) ? '' : ' before dispatch';
      await this.whileCurrent(parcel, update, () => this.order.flagAttention(`shipment${which} ${status}${when}`));
    }
  }

  /**
   * Runs a step on a parcel not yet left, unless an amendment replaced it while the update waited for the lock (the
   * update was taken before the amendment began): then the update is recorded as rejected, as one arriving later is.
   * False when it was.
   */
  private async whileCurrent(parcel: ParcelView, update: ShipmentUpdateInput, work: () => Promise<void>) {
    return this.host.step(async () => {
      if (!this.parcels.includes(parcel)) {
        this.order.reject('shipmentUpdate', update.eventId, replacedReason(parcel.shipmentId, update.status));
        return false;
      }
      await work();
      return true;
    });
  }

  /** The parcel an update names; one naming none (an operator's signal) is about the first parcel short of it. */
  private parcelFor(update: ShipmentUpdateInput): ParcelView | undefined {
    if (update.shipmentId) return this.parcels.find((parcel) => parcel.shipmentId === update.shipmentId);
    const reaches = REACHES[update.status] ?? PROGRESS.DELIVERED!;
    return this.parcels.find((parcel) => progressOf(parcel) < reaches) ?? this.parcels[0];
  }

  /** The parcel left: its share is captured and its warehouse's units committed. */
  private async dispatch(parcel: ParcelView): Promise<void> {
    // From the first parcel on, a cancellation is answered "start a return".
    this.order.dispatching = true;
    const { state } = this.order;
    const payment = state.payment!;
    const capture = {
      ...this.payments.step(`capture:${payment.paymentId}:${parcel.shipmentId}`, parcel.amount),
      targetPaymentId: payment.paymentId,
      shipmentId: parcel.shipmentId,
    };
    parcel.captureId = await this.order.forward('capturePayment', (a) => a.capturePayment(capture));
    const commit = { ...this.order.next(), warehouseId: parcel.warehouseId };
    await this.order.forward('commitStock', (a) => a.commitStock(commit));
    for (const item of parcel.items) {
      const held = (state.heldStock[item.productId] ?? 0) - item.quantity;
      if (held > 0) state.heldStock[item.productId] = held;
      else delete state.heldStock[item.productId];
    }
    await this.record(parcel, ShipmentStatus.SHIPPED);
    if (!this.parcels.every(left)) return;
    // Whatever was flagged while waiting for the carrier (deadline, a failed pick-up) is resolved by the dispatch.
    if (this.order.changes.honestAttention && state.needsAttention) await this.order.clearAttention();
    await this.order.transition(Stage.SHIPPED);
    await this.order.notifyCustomer('order-shipped');
  }

  private async arrived(parcel: ParcelView): Promise<void> {
    await this.record(parcel, ShipmentStatus.DELIVERED);
    if (this.parcels.every((each) => each.status === ShipmentStatus.DELIVERED)) await this.host.complete();
  }

  private async record(parcel: ParcelView, status: ShipmentStatus): Promise<void> {
    const update = { ...this.order.next(), status, shipmentId: parcel.shipmentId };
    await this.order.forward('recordShipmentStatus', (a) => a.recordShipmentStatus(update));
    parcel.status = status;
    const { shipment } = this.order.state;
    if (shipment?.shipmentId === parcel.shipmentId) shipment.status = status;
  }
}
