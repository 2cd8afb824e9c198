import { requestIdOf } from './failures.js';
import type { ShipmentUpdateInput } from './messages.js';
import { ShipmentUpdateStatus } from './messages.js';
import type { OrderRecord } from './order-record.js';

/** The carrier updates that mean the parcel left: the saga captures the payment on the first of them. */
export function meansDispatched(status: ShipmentUpdateStatus | undefined): boolean {
  return status === 'shipped' || status === 'in_transit' || status === 'delivered';
}

/** Why an update about a shipment an amendment replaced is recorded as rejected. */
export function replacedReason(shipmentId: string, status: ShipmentUpdateStatus): string {
  return `shipment ${shipmentId} was replaced by an amendment: its ${status} is ignored`;
}

/** The carrier's shipment updates, in the order they arrived, each event once (carriers redeliver). */
export class CarrierUpdates {
  private readonly seen = new Set<string>();
  private readonly queue: ShipmentUpdateInput[] = [];
  /** Shipments an amendment cancelled and replaced: what the carrier says about them no longer concerns the order. */
  private readonly replaced = new Set<string>();
  /** An amendment is replacing the shipment: updates wait until it is known which shipment they are about. */
  private held = false;

  constructor(private readonly order: OrderRecord) {}

  receive(update: ShipmentUpdateInput): void {
    if (this.order.changes.messagesNeverFail && !this.valid(update)) {
      return this.order.reject(
        'shipmentUpdate',
        requestIdOf(update),
        `not a shipment update: ${JSON.stringify(update)}`
      );
    }
    if (this.seen.has(update.eventId)) return;
    this.seen.add(update.eventId);
    if (update.shipmentId !== undefined && this.replaced.has(update.shipmentId)) return this.ignoreReplaced(update);
    this.queue.push(update);
  }

  get pending(): boolean {
    return !this.held && this.queue.length > 0;
  }

  /** Runs an amendment that may replace the shipment; updates arriving meanwhile wait for its outcome. */
  async heldWhile<T>(work: () => Promise<T>): Promise<T> {
    this.held = true;
    try {
      return await work();
    } finally {
      this.held = false;
    }
  }

  /**
   * The shipment was cancelled and replaced by an amendment: its updates (queued while the amendment ran, or
   * arriving later) are recorded as rejected and never dispatch or deliver the order.
   */
  shipmentReplaced(shipmentId: string): void {
    this.replaced.add(shipmentId);
    const stale = this.queue.filter((update) => update.shipmentId === shipmentId);
    for (const update of stale) {
      this.queue.splice(this.queue.indexOf(update), 1);
      this.ignoreReplaced(update);
    }
  }

  /** The oldest update not yet processed, if any. */
  take(): ShipmentUpdateInput | undefined {
    return this.queue.shift();
  }

  /** A `delivered` that arrived before dispatch also stands for the delivery that follows it. */
  impliedDelivery(): void {
    this.queue.unshift({ eventId: 'implied-delivery', status: 'delivered' });
  }

  /** A carrier update that means the parcel left is waiting to be processed: it came first, so it wins. */
  dispatchQueued(): boolean {
    return this.queue.some((event) => meansDispatched(event.status));
  }

  private ignoreReplaced(update: ShipmentUpdateInput): void {
    this.order.reject('shipmentUpdate', update.eventId, replacedReason(update.shipmentId!, update.status));
  }

  private valid(update: ShipmentUpdateInput): boolean {
    const statuses: unknown[] = Object.values(ShipmentUpdateStatus);
    return (
      typeof update === 'object' &&
      update !== null &&
      typeof update.eventId === 'string' &&
      statuses.includes(update.status)
    );
  }
}
