import type { StepInput } from '../domain/causation.js';
import type { FencedStep } from '../events/fenced-step.js';
import type { HeldStock, HoldRequest } from '../inventory/holds.js';
import { commit, heldStock, hold, stockStepEvents } from '../inventory/holds.js';

export type HoldStockInput = StepInput & HoldRequest;

export function createInventoryActivities(step: FencedStep) {
  return {
    /**
     * Makes the order hold exactly `lines`: reserves what is missing, releases what is no longer wanted, in one
     * transaction. Out of stock is a non-retryable failure that leaves everything as it was.
     */
    async holdStock(input: HoldStockInput): Promise<HeldStock> {
      return step(
        input,
        async (tx) => stockStepEvents(await hold(tx, input), input),
        (tx) => heldStock(tx, input.orderId)
      );
    },

    async releaseStock(input: StepInput): Promise<HeldStock> {
      return step(
        input,
        async (tx) => stockStepEvents(await hold(tx, { ...input, lines: [], holdMs: null }), input),
        (tx) => heldStock(tx, input.orderId)
      );
    },

    /**
     * At dispatch the reserved units leave the warehouse: on hand and reserved both drop. With `warehouseId` only
     * that warehouse's parcel left (split fulfilment).
     */
    async commitStock(input: StepInput & { warehouseId?: string }): Promise<void> {
      await step(input, async (tx) => stockStepEvents(await commit(tx, input.orderId, input.warehouseId), input));
    },
  };
}
