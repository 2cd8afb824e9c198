import type { Tx } from '../db/client.js';
import { toJson } from '../db/json.js';
import type { StepInput } from '../domain/causation.js';
import type { Address } from '../domain/order.js';
import { ShipmentStatus } from '../domain/shipment.js';
import type { DomainEvent } from '../events/envelope.js';
import { uuidFromKey } from '../events/envelope.js';

/** An order has at most one shipment; its id is derived from the order so every retry names the same one. */
export function shipmentIdFor(orderId: string): string {
  return uuidFromKey(`${orderId}:shipment`);
}

/** A command to the shipping context (the carrier integration), one per order and type. */
function command(input: StepInput, type: string, data: object): DomainEvent {
  return {
    context: 'shipping',
    type,
    version: '0.0.1',
    subject: input.orderId,
    idempotencyKey: `${input.orderId}:${type}`,
    correlationId: input.orderId,
    causationId: input.causationId,
    ...(input.traceparent ? { traceparent: input.traceparent } : {}),
    data,
  };
}

/** Records the shipment and returns the CreateShipment command for the shipping context. */
export async function requestShipment(
  tx: Tx,
  input: StepInput & { method: 'standard' | 'express' }
): Promise<DomainEvent[]> {
  const shipmentId = shipmentIdFor(input.orderId);
  const order = await tx.order.findUniqueOrThrow({ where: { id: input.orderId }, include: { items: true } });
  const address = order.shippingAddress as unknown as Address;
  await tx.shipment.createMany({
    data: [
      {
        id: shipmentId,
        orderId: input.orderId,
        status: ShipmentStatus.REQUESTED,
        method: input.method,
        address: toJson(address),
      },
    ],
    skipDuplicates: true,
  });
  return [
    command(input, 'CreateShipment', {
      shipmentId,
      orderId: input.orderId,
      address,
      items: order.items.map((item) => ({ itemId: item.productId, quantity: item.quantity })),
      shippingMethod: input.method,
    }),
  ];
}

export async function recordShipmentStatus(
  tx: Tx,
  input: StepInput & { status: ShipmentStatus }
): Promise<DomainEvent[]> {
  await tx.shipment.updateMany({
    where: { orderId: input.orderId },
    data: { status: input.status, updatedAt: new Date() },
  });
  return [];
}

/** Cancels a shipment not yet dispatched; one already on its way is left to the return flow. */
export async function cancelShipment(tx: Tx, input: StepInput & { reason: string }): Promise<DomainEvent[]> {
  const updated = await tx.shipment.updateMany({
    where: { orderId: input.orderId, status: ShipmentStatus.REQUESTED },
    data: { status: ShipmentStatus.CANCELLED, updatedAt: new Date() },
  });
  if (updated.count === 0) return [];
  return [
    command(input, 'CancelShipment', {
      shipmentId: shipmentIdFor(input.orderId),
      orderId: input.orderId,
      reason: input.reason,
    }),
  ];
}
