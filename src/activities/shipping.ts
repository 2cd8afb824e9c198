import type { StepInput } from '../domain/causation.js';
import type { Parcel, ShipmentStatus } from '../domain/shipment.js';
import type { FencedStep } from '../events/fenced-step.js';
import {
  cancelShipment,
  currentShipmentId,
  parcelsOf,
  recordShipmentStatus,
  replaceParcels,
  replaceShipment,
  requestParcels,
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

    /** Split fulfilment: one shipment per warehouse holding the order's stock, each with its CreateShipment. */
    async requestParcels(input: StepInput & { method: 'standard' | 'express' }): Promise<Parcel[]> {
      // The parcels as the step's own statement left them, else (a retried or stale step) read in its transaction.
      let requested: Parcel[] | undefined;
      return step(
        input,
        async (tx) => {
          const { events, parcels } = await requestParcels(tx, input);
          requested = parcels;
          return events;
        },
        (tx) => (requested ? Promise.resolve(requested) : parcelsOf(tx, input.orderId))
      );
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

    /**
     * Replaces a split order's requested parcels after an amendment (a CancelShipment each, then a CreateShipment per
     * warehouse of the stock held now) and returns the parcels as they stand after the step.
     */
    async replaceParcels(
      input: StepInput & { method: 'standard' | 'express'; revision: number; reason: string }
    ): Promise<Parcel[]> {
      return step(
        input,
        (tx) => replaceParcels(tx, input),
        (tx) => parcelsOf(tx, input.orderId)
      );
    },

    /** The status of one shipment (`shipmentId`), or of the order's only one. */
    async recordShipmentStatus(input: StepInput & { status: ShipmentStatus; shipmentId?: string }): Promise<void> {
      await step(input, (tx) => recordShipmentStatus(tx, input));
    },

    async cancelShipment(input: StepInput & { reason: string }): Promise<void> {
      await step(input, (tx) => cancelShipment(tx, input));
    },
  };
}
