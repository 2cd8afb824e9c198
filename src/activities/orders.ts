import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../db/client.js';
import type { StepInput } from '../domain/causation.js';
import { ActivityErrorType } from '../domain/failures.js';
import { MAX_ORDER_TOTAL } from '../domain/money.js';
import type { CancellationReason, OrderLine } from '../domain/order.js';
import { orderTotal } from '../domain/order.js';
import type { FencedStep } from '../events/fenced-step.js';
import type { OutboxWriter } from '../events/outbox.js';
import type { LineRequest } from '../orders/pricing.js';
import { priceLines } from '../orders/pricing.js';
import type { AmendmentInput, CreateOrderInput, StageChange } from '../orders/records.js';
import type { RecoveryPlan } from '../orders/recovery.js';
import { recoveryPlan } from '../orders/recovery.js';
import { amend, cancel, complete, confirm, createOrder, flag, recordStage } from '../orders/records.js';

export type { AmendmentInput, CreateOrderInput, StageChange };

export function createOrderActivities(db: Db, outbox: OutboxWriter, step: FencedStep) {
  return {
    /**
     * Prices amended lines from the catalog, in the order's currency; a line that cannot be priced is refused, and so
     * is a total above MAX_ORDER_TOTAL (a signal reaches the workflow without the API's check).
     */
    async priceLines(items: LineRequest[], currency?: string): Promise<OrderLine[]> {
      const { lines, problems } = await priceLines(db, items, currency);
      const problem = problems[0];
      if (problem?.kind === 'unknown-product') {
        // The workflow records this message in rejectedRequests: the same words as holdStock's for a missing product.
        const { productId } = items[problem.index]!;
        throw ApplicationFailure.nonRetryable(`product ${productId} does not exist`, ActivityErrorType.UnknownProduct);
      }
      if (problem) {
        throw ApplicationFailure.nonRetryable(
          `items.${problem.index}: ${problem.message}`,
          ActivityErrorType.CurrencyMismatch
        );
      }
      const total = orderTotal(lines);
      if (total > MAX_ORDER_TOTAL) {
        throw ApplicationFailure.nonRetryable(
          `the total ${total} exceeds the maximum of ${MAX_ORDER_TOTAL} minor units`,
          ActivityErrorType.OrderTotalTooLarge
        );
      }
      return lines;
    },

    /** Persists the order and publishes OrderCreated; a second call for the same order changes nothing. */
    async createOrder(input: CreateOrderInput): Promise<void> {
      // Not fenced: creating the order is what starts its step sequence.
      await db.$transaction(async (tx) => outbox.append(tx, await createOrder(tx, input)));
    },

    async recordStage(change: StageChange): Promise<void> {
      await step(change, (tx) => recordStage(tx, change));
    },

    async confirmOrder(change: StepInput): Promise<void> {
      await step(change, (tx) => confirm(tx, change));
    },

    async applyAmendment(input: AmendmentInput): Promise<void> {
      await step(input, (tx) => amend(tx, input));
    },

    async cancelOrder(input: StepInput & { reason: CancellationReason }): Promise<void> {
      await step(input, (tx) => cancel(tx, input));
    },

    async completeOrder(input: StepInput): Promise<void> {
      await step(input, (tx) => complete(tx, input));
    },

    /** What an order whose workflow closed early still holds; null when the order was never persisted. */
    async planRecovery(orderId: string): Promise<RecoveryPlan | null> {
      return (await recoveryPlan(db, orderId)) ?? null;
    },

    /**
     * Sets or clears the flag as a step of its own. With `whilePending` it raises the flag for step `seq`, which keeps
     * failing, without taking that step's place in the sequence: the step's own retry must still apply when it
     * succeeds. The flag is then set only while that step has not applied.
     */
    async setNeedsAttention(
      input: StepInput & { needsAttention: boolean; reason?: string; whilePending?: boolean }
    ): Promise<void> {
      if (input.whilePending) {
        await db.order.updateMany({
          where: { id: input.orderId, stepSeq: { lt: input.seq } },
          data: { needsAttention: true },
        });
        return;
      }
      await step(input, (tx) => flag(tx, input));
    },
  };
}
