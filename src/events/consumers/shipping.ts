import type { Client } from '@temporalio/client';
import type { Db } from '../../db/client.js';
import type { ShipmentUpdateStatus } from '../../workflows/messages.js';
import { shipmentUpdateSignal } from '../../workflows/messages.js';
import { processOnce } from '../inbox.js';
import { consumerName, inboundHandler, PoisonMessageError } from './runner.js';
import { signalOrder } from './signal.js';

export const SHIPPING_CONSUMER = consumerName('shipping');

export const SHIPMENT_STATUS_OF: Readonly<Record<string, ShipmentUpdateStatus>> = {
  ShipmentDispatched: 'shipped',
  ShipmentInTransit: 'in_transit',
  ShipmentDelivered: 'delivered',
  DeliveryFailed: 'failed',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Carrier updates: each becomes a shipment-update signal to the order's workflow, which decides what it means
 * (dispatch captures the payment, delivery completes the order). The signal names the shipment, so the workflow
 * ignores updates of one an amendment replaced. Our own CreateShipment and CancelShipment commands travel on the
 * same subject and are skipped by source.
 */
export function shippingConsumer(deps: { db: Db; temporal: Client }) {
  /**
   * The shipment we issued decides the order (and the parcel the update is about); a carrier id we never issued
   * falls back to the orderId. A UUID no row has any more may be one of ours an amendment replaced (its row went with
   * it): the update still names it, so the order's workflow ignores it instead of applying it to the new shipment.
   */
  async function orderOf(data: {
    shipmentId: string;
    orderId: string;
  }): Promise<{ orderId: string; shipmentId?: string }> {
    const shipment = UUID.test(data.shipmentId)
      ? await deps.db.shipment.findUnique({ where: { id: data.shipmentId }, select: { orderId: true } })
      : null;
    if (shipment) {
      if (shipment.orderId !== data.orderId) {
        throw new PoisonMessageError(
          `shipment ${data.shipmentId} belongs to order ${shipment.orderId}, not ${data.orderId}`
        );
      }
      return { orderId: shipment.orderId, shipmentId: data.shipmentId };
    }
    const order = await deps.db.order.findUnique({ where: { id: data.orderId }, select: { id: true } });
    if (!order) throw new PoisonMessageError(`unknown shipment ${data.shipmentId} and order ${data.orderId}`);
    return { orderId: order.id, ...(UUID.test(data.shipmentId) ? { shipmentId: data.shipmentId } : {}) };
  }

  const types = Object.keys(SHIPMENT_STATUS_OF);
  return inboundHandler<{ shipmentId: string; orderId: string }>('shipping', types, async (data, event, delivery) => {
    const status = SHIPMENT_STATUS_OF[event.type]!;
    const { orderId, shipmentId } = await orderOf(data);
    let finished = false;
    const applied = await processOnce(deps.db, delivery.consumer, event.id, async () => {
      finished = !(await signalOrder(deps.temporal, orderId, shipmentUpdateSignal, {
        eventId: event.id,
        status,
        ...(shipmentId ? { shipmentId } : {}),
      }));
    });
    if (finished) {
      delivery.logger.info({ eventId: event.id, orderId, status }, 'shipment update for a finished order; ignored');
    }
    return applied ? 'applied' : 'duplicate';
  });
}
