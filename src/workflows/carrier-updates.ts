import { requestIdOf } from './failures.js';
import type { ShipmentUpdateInput } from './messages.js';
import { ShipmentUpdateStatus } from './messages.js';
import type { OrderRecord } from './order-record.js';

/** The carrier updates that mean the parcel left: the saga captures the payment on the first of them. */
export function meansDispatched(status: ShipmentUpdateStatus | undefined): boolean {
  return status === 'shipped' || status === 'in_transit' || status === 'delivered';
}

/** The carrier's shipment updates, in the order they arrived, each event once (carriers redeliver). */
export class CarrierUpdates {
  private readonly seen = new Set<string>();
  private readonly queue: ShipmentUpdateInput[] = [];

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
    this.queue.push(update);
  }

  get pending(): boolean {
    return this.queue.length > 0;
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
