import { toJson } from '../db/json.js';
import type { StepInput } from '../domain/causation.js';
import type { Address } from '../domain/order.js';
import { ShipmentStatus } from '../domain/shipment.js';
import { uuidFromKey } from '../events/envelope.js';
import type { DomainEvent } from '../events/envelope.js';
import type { FencedStep } from '../events/fenced-step.js';

export function shipmentIdFor(orderId: string): string {
  return uuidFromKey(`${orderId}:shipment`);
}

export function createShippingActivities(step: FencedStep) {
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

  return {
    /** Records the shipment and sends the CreateShipment command to the shipping context. */
    async requestShipment(input: StepInput & { method: 'standard' | 'express' }): Promise<string> {
      const shipmentId = shipmentIdFor(input.orderId);
      await step(input, async (tx) => {
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
      });
      return shipmentId;
    },

    async recordShipmentStatus(input: StepInput & { status: ShipmentStatus }): Promise<void> {
      await step(input, async (tx) => {
        await tx.shipment.updateMany({
          where: { orderId: input.orderId },
          data: { status: input.status, updatedAt: new Date() },
        });
        return [];
      });
    },

    async cancelShipment(input: StepInput & { reason: string }): Promise<void> {
      await step(input, async (tx) => {
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
      });
    },
  };
}
