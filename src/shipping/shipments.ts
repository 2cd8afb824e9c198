import { ApplicationFailure } from '@temporalio/activity';
import type { Tx } from '../db/client.js';
import { toJson } from '../db/json.js';
import type { StepInput } from '../domain/causation.js';
import type { Address } from '../domain/order.js';
import type { Parcel } from '../domain/shipment.js';
import { ShipmentStatus } from '../domain/shipment.js';
import type { DomainEvent } from '../events/envelope.js';
import { uuidFromKey } from '../events/envelope.js';
import { Prisma } from '../generated/prisma/client.js';

/** An order shipped as one parcel: its id is derived from the order so every retry names the same one. */
export function shipmentIdFor(orderId: string): string {
  return uuidFromKey(`${orderId}:shipment`);
}

/**
 * With split fulfilment an order ships one parcel per warehouse, named by the order and the warehouse. Parcels that
 * replace the requested ones after an amendment also carry the order's new revision, so a warehouse's parcel for the
 * new contents never takes the id of the one it replaces (warehouse ids hold no ':').
 */
export function parcelIdFor(orderId: string, warehouseId: string, revision?: number): string {
  return uuidFromKey(`${orderId}:shipment:${warehouseId}${revision === undefined ? '' : `:r${revision}`}`);
}

/**
 * An amendment in FULFILLING replaces the shipment with one named after the new revision: retries name the same
 * one, and the replaced shipment's id stays unknown to the order from then on.
 */
export function replacementShipmentIdFor(orderId: string, revision: number): string {
  return uuidFromKey(`${orderId}:shipment:r${revision}`);
}

/**
 * A command to the shipping context (the carrier integration), one per shipment and type. The order's single
 * first shipment keeps the key it always had, so the events of orders placed before parcels and replacements keep
 * their ids.
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
  return [createCommand(input, shipmentId, { address, items, method: input.method })];
}

/** What the order ships now: its current address and lines, as the CreateShipment command lists them. */
async function contents(tx: Tx, orderId: string) {
  const order = await tx.order.findUniqueOrThrow({ where: { id: orderId }, include: { items: true } });
  const address = order.shippingAddress as unknown as Address;
  return { address, items: order.items.map((item) => ({ itemId: item.productId, quantity: item.quantity })) };
}

interface ShipmentContents {
  address: Address;
  items: { itemId: string; quantity: number }[];
  method: string;
  /** The parcel's warehouse (split fulfilment). */
  warehouseId?: string;
}

function createCommand(input: StepInput, shipmentId: string, shipment: ShipmentContents): DomainEvent {
  const { address, items, method, warehouseId } = shipment;
  return command(input, 'CreateShipment', shipmentId, {
    shipmentId,
    orderId: input.orderId,
    address,
    items,
    shippingMethod: method,
    ...(warehouseId === undefined ? {} : { warehouseId }),
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
 * only requested (the workflow never asks after dispatch). An order shipped as one shipment, before parcels: its
 * only row.
 */
export async function replaceShipment(
  tx: Tx,
  input: StepInput & { revision: number; reason: string }
): Promise<DomainEvent[]> {
  const current = await tx.shipment.findFirst({ where: { orderId: input.orderId } });
  if (current?.status !== ShipmentStatus.REQUESTED) return [];
  const shipmentId = replacementShipmentIdFor(input.orderId, input.revision);
  const { address, items } = await contents(tx, input.orderId);
  await tx.shipment.update({
    where: { id: current.id },
    data: { id: shipmentId, status: ShipmentStatus.REQUESTED, address: toJson(address), updatedAt: new Date() },
  });
  return [
    cancelCommand(input, current.id, input.reason),
    createCommand(input, shipmentId, { address, items, method: current.method }),
  ];
}

/** The order's shipment now (the first one, or the one that replaced it), if one was requested. */
export async function currentShipmentId(tx: Tx, orderId: string): Promise<string | undefined> {
  const shipment = await tx.shipment.findFirst({ where: { orderId }, select: { id: true } });
  return shipment?.id;
}

/**
 * Records one shipment per warehouse the order's stock is held in, each with the units it holds there, and returns
 * a CreateShipment command for each, with the order's parcels as they stand afterwards (as `parcelsOf` reads them).
 * `revision` names parcels that replace earlier ones (`replaceParcels`).
 */
export async function requestParcels(
  tx: Tx,
  input: StepInput & { method: 'standard' | 'express'; revision?: number }
): Promise<{ events: DomainEvent[]; parcels: Parcel[] }> {
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
      shipmentId: parcelIdFor(input.orderId, warehouseId, input.revision),
      warehouseId,
      items: [],
    };
    parcel.items.push({ productId, quantity });
    byWarehouse.set(warehouseId, parcel);
  }
  const parcels = [...byWarehouse.values()];
  const now = new Date();
  const rows = parcels.map(
    (parcel) =>
      Prisma.sql`(${parcel.shipmentId}::uuid, ${input.orderId}::uuid, ${ShipmentStatus.REQUESTED}, ${input.method},
        ${JSON.stringify(address)}::jsonb, ${now}, ${now}, ${parcel.warehouseId}, ${JSON.stringify(parcel.items)}::jsonb)`
  );
  // The insert and the read of the order's parcels in one statement. Its snapshot predates the insert, so the
  // parcels are those the order had (a parcel already there is not inserted again) and those inserted now.
  const stored = await tx.$queryRaw<{ id: string; warehouse_id: string; items: Parcel['items'] }[]>`
    WITH inserted AS (
      INSERT INTO shipments (id, order_id, status, method, address, created_at, updated_at, warehouse_id, items)
      VALUES ${Prisma.join(rows)}
      ON CONFLICT DO NOTHING
      RETURNING id, warehouse_id, items)
    SELECT id, warehouse_id, items FROM shipments WHERE order_id = ${input.orderId}::uuid AND warehouse_id IS NOT NULL
    UNION ALL
    SELECT id, warehouse_id, items FROM inserted
    ORDER BY warehouse_id`;
  return {
    events: parcels.map((parcel) =>
      createCommand(input, parcel.shipmentId, {
        address,
        items: parcel.items.map((item) => ({ itemId: item.productId, quantity: item.quantity })),
        method: input.method,
        warehouseId: parcel.warehouseId,
      })
    ),
    parcels: stored.map((row) => ({ shipmentId: row.id, warehouseId: row.warehouse_id, items: row.items })),
  };
}

/**
 * An amendment changed what a split order ships before any parcel left: every parcel still requested is cancelled
 * (a CancelShipment each) and its row removed, and the parcels of the stock the order holds now are requested
 * (a CreateShipment each, ids with the new revision), in one transaction, so the warehouses never ship the old
 * contents. A carrier update naming a replaced parcel no longer finds it (404), as with `replaceShipment`.
 */
export async function replaceParcels(
  tx: Tx,
  input: StepInput & { method: 'standard' | 'express'; revision: number; reason: string }
): Promise<DomainEvent[]> {
  const replaced = await tx.shipment.findMany({
    where: { orderId: input.orderId, status: ShipmentStatus.REQUESTED },
    orderBy: { warehouseId: 'asc' },
  });
  await tx.shipment.deleteMany({ where: { id: { in: replaced.map((shipment) => shipment.id) } } });
  return [
    ...replaced.map((shipment) => cancelCommand(input, shipment.id, input.reason)),
    ...(await requestParcels(tx, input)).events,
  ];
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
  return waiting.map((shipment) => cancelCommand(input, shipment.id, input.reason));
}
