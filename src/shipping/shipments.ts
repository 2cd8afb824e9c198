import { ApplicationFailure } from '@temporalio/activity';
import type { Tx } from '../db/client.js';
import { toJson } from '../db/json.js';
import type { StepInput } from '../domain/causation.js';
import type { Address } from '../domain/order.js';
import type { Parcel } from '../domain/shipment.js';
import { ShipmentStatus } from '../domain/shipment.js';
import type { DomainEvent } from '../events/envelope.js';
import { uuidFromKey } from '../events/envelope.js';

/** An order shipped as one parcel: its id is derived from the order so every retry names the same one. */
export function shipmentIdFor(orderId: string): string {
  return uuidFromKey(`${orderId}:shipment`);
}

/** With split fulfilment an order ships one parcel per warehouse, named by the order and the warehouse. */
export function parcelIdFor(orderId: string, warehouseId: string): string {
  return uuidFromKey(`${orderId}:shipment:${warehouseId}`);
}

/**
 * A command to the shipping context (the carrier integration), one per shipment and type; the order's single
 * shipment keeps the key it had before orders shipped in parcels.
 */
function command(input: StepInput, type: string, shipmentId: string, data: object): DomainEvent {
  const parcel = shipmentId === shipmentIdFor(input.orderId) ? '' : `:${shipmentId}`;
  return {
    context: 'shipping',
    type,
    version: '0.0.1',
    subject: input.orderId,
    idempotencyKey: `${input.orderId}:${type}${parcel}`,
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
    command(input, 'CreateShipment', shipmentId, {
      shipmentId,
      orderId: input.orderId,
      address,
      items: order.items.map((item) => ({ itemId: item.productId, quantity: item.quantity })),
      shippingMethod: input.method,
    }),
  ];
}

/**
 * Records one shipment per warehouse the order's stock is held in, each with the units it holds there, and returns
 * a CreateShipment command for each.
 */
export async function requestParcels(
  tx: Tx,
  input: StepInput & { method: 'standard' | 'express' }
): Promise<DomainEvent[]> {
  const order = await tx.order.findUniqueOrThrow({
    where: { id: input.orderId },
    include: { reservations: { where: { status: 'HELD' }, orderBy: [{ warehouseId: 'asc' }, { productId: 'asc' }] } },
  });
  if (order.reservations.length === 0) {
    throw ApplicationFailure.nonRetryable(`order ${input.orderId} holds no stock to ship`, 'NothingToShip');
  }
  const address = order.shippingAddress as unknown as Address;
  const byWarehouse = new Map<string, Parcel>();
  for (const { warehouseId, productId, quantity } of order.reservations) {
    const parcel = byWarehouse.get(warehouseId) ?? {
      shipmentId: parcelIdFor(input.orderId, warehouseId),
      warehouseId,
      items: [],
    };
    parcel.items.push({ productId, quantity });
    byWarehouse.set(warehouseId, parcel);
  }
  const parcels = [...byWarehouse.values()];
  await tx.shipment.createMany({
    data: parcels.map((parcel) => ({
      id: parcel.shipmentId,
      orderId: input.orderId,
      status: ShipmentStatus.REQUESTED,
      method: input.method,
      address: toJson(address),
      warehouseId: parcel.warehouseId,
      items: toJson(parcel.items),
    })),
    skipDuplicates: true,
  });
  return parcels.map((parcel) =>
    command(input, 'CreateShipment', parcel.shipmentId, {
      shipmentId: parcel.shipmentId,
      orderId: input.orderId,
      address,
      items: parcel.items.map((item) => ({ itemId: item.productId, quantity: item.quantity })),
      shippingMethod: input.method,
      warehouseId: parcel.warehouseId,
    })
  );
}

/** The order's parcels in warehouse order, so every read (a retried step's too) lists them alike. */
export async function parcelsOf(tx: Tx, orderId: string): Promise<Parcel[]> {
  const rows = await tx.shipment.findMany({
    where: { orderId, warehouseId: { not: null } },
    orderBy: { warehouseId: 'asc' },
  });
  return rows.map((row) => ({
    shipmentId: row.id,
    warehouseId: row.warehouseId!,
    items: row.items as unknown as Parcel['items'],
  }));
}

/** A carrier's status for one shipment of the order, or for all of them when none is named (one-shipment orders). */
export async function recordShipmentStatus(
  tx: Tx,
  input: StepInput & { status: ShipmentStatus; shipmentId?: string }
): Promise<DomainEvent[]> {
  await tx.shipment.updateMany({
    where: { orderId: input.orderId, ...(input.shipmentId ? { id: input.shipmentId } : {}) },
    data: { status: input.status, updatedAt: new Date() },
  });
  return [];
}

/** Cancels the order's shipments not yet dispatched; one already on its way is left to the return flow. */
export async function cancelShipment(tx: Tx, input: StepInput & { reason: string }): Promise<DomainEvent[]> {
  const waiting = await tx.shipment.findMany({
    where: { orderId: input.orderId, status: ShipmentStatus.REQUESTED },
    orderBy: { id: 'asc' },
  });
  await tx.shipment.updateMany({
    where: { id: { in: waiting.map((shipment) => shipment.id) } },
    data: { status: ShipmentStatus.CANCELLED, updatedAt: new Date() },
  });
  return waiting.map((shipment) =>
    command(input, 'CancelShipment', shipment.id, {
      shipmentId: shipment.id,
      orderId: input.orderId,
      reason: input.reason,
    })
  );
}
