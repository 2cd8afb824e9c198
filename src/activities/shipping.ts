import type { StepInput } from '../domain/causation.js';
import type { ShipmentStatus } from '../domain/shipment.js';
import type { FencedStep } from '../events/fenced-step.js';
import {
  cancelShipment,
  currentShipmentId,
  recordShipmentStatus,
  replaceShipment,
  requestShipment,
  shipmentIdFor,
} from '../shipping/shipments.js';

export function createShippingActivities(step: FencedStep) {
  return {
    /** Records the shipment and sends the CreateShipment command to the shipping context. */
    async requestShipment(input: StepInput & { method: 'standard' | 'express' }): Promise<string> {
      await step(input, (tx) => requestShipment(tx, input));
      return shipmentIdFor(input.orderId);
    },

    /**
     * Replaces the requested shipment after an amendment (CancelShipment + CreateShipment) and returns the order's
     * shipment id as it stands after the step, so a retried attempt answers the same.
     */
    async replaceShipment(input: StepInput & { revision: number; reason: string }): Promise<string | undefined> {
      return step(
        input,
        (tx) => replaceShipment(tx, input),
        (tx) => currentShipmentId(tx, input.orderId)
      );
    },

    async recordShipmentStatus(input: StepInput & { status: ShipmentStatus }): Promise<void> {
      await step(input, (tx) => recordShipmentStatus(tx, input));
    },

    async cancelShipment(input: StepInput & { reason: string }): Promise<void> {
      await step(input, (tx) => cancelShipment(tx, input));
    },
  };
}
