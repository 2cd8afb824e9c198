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

/**
 * An amendment in FULFILLING replaces the shipment with one named after the new revision: retries name the same
 * one, and the replaced shipment's id stays unknown to the order from then on.
 */
export function replacementShipmentIdFor(orderId: string, revision: number): string {
  return uuidFromKey(`${orderId}:shipment:r${revision}`);
}

/**
 * A command to the shipping context (the carrier integration), one per shipment and type. The order's first
 * shipment keeps the key it always had, so the events of orders placed before replacements keep their ids.
 */
function command(input: StepInput, type: string, shipmentId: string, data: object): DomainEvent {
  const first = shipmentId === shipmentIdFor(input.orderId);
  return {
    context: 'shipping',
    type,
    version: '0.0.1',
    subject: input.orderId,
    idempotencyKey: first ? `${input.orderId}:${type}` : `${input.orderId}:${type}:${shipmentId}`,
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
  const { address, items } = await contents(tx, input.orderId);
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
  return [createCommand(input, shipmentId, address, items, input.method)];
}

/** What the order ships now: its current address and lines, as the CreateShipment command lists them. */
async function contents(tx: Tx, orderId: string) {
  const order = await tx.order.findUniqueOrThrow({ where: { id: orderId }, include: { items: true } });
  const address = order.shippingAddress as unknown as Address;
  return { address, items: order.items.map((item) => ({ itemId: item.productId, quantity: item.quantity })) };
}

function createCommand(
  input: StepInput,
  shipmentId: string,
  address: Address,
  items: { itemId: string; quantity: number }[],
  method: string
): DomainEvent {
  return command(input, 'CreateShipment', shipmentId, {
    shipmentId,
    orderId: input.orderId,
    address,
    items,
    shippingMethod: method,
  });
}

function cancelCommand(input: StepInput, shipmentId: string, reason: string): DomainEvent {
  return command(input, 'CancelShipment', shipmentId, { shipmentId, orderId: input.orderId, reason });
}

/**
 * An amendment changed what the order ships (its lines or address) before dispatch: the requested shipment is
 * cancelled and a new one requested with the current contents, in one transaction, so the warehouse is sent both
 * commands or neither and never ships the old contents. The order's shipment row becomes the new shipment (same
 * method); a carrier update naming the old id no longer finds it. Nothing happens unless the shipment is still
 * only requested (the workflow never asks after dispatch).
 */
export async function replaceShipment(
  tx: Tx,
  input: StepInput & { revision: number; reason: string }
): Promise<DomainEvent[]> {
  const current = await tx.shipment.findUnique({ where: { orderId: input.orderId } });
  if (current?.status !== ShipmentStatus.REQUESTED) return [];
  const shipmentId = replacementShipmentIdFor(input.orderId, input.revision);
  const { address, items } = await contents(tx, input.orderId);
  await tx.shipment.update({
    where: { id: current.id },
    data: { id: shipmentId, status: ShipmentStatus.REQUESTED, address: toJson(address), updatedAt: new Date() },
  });
  return [
    cancelCommand(input, current.id, input.reason),
    createCommand(input, shipmentId, address, items, current.method),
  ];
}

/** The order's shipment now (the first one, or the one that replaced it), if one was requested. */
export async function currentShipmentId(tx: Tx, orderId: string): Promise<string | undefined> {
  const shipment = await tx.shipment.findUnique({ where: { orderId }, select: { id: true } });
  return shipment?.id;
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
  const requested = await tx.shipment.findUnique({ where: { orderId: input.orderId } });
  if (requested?.status !== ShipmentStatus.REQUESTED) return [];
  await tx.shipment.update({
    where: { id: requested.id },
    data: { status: ShipmentStatus.CANCELLED, updatedAt: new Date() },
  });
  return [cancelCommand(input, requested.id, input.reason)];
}
