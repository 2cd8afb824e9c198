import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../db/client.js';
import type { ReturnCondition } from '../domain/returns.js';
import type { ReturnStepInput } from '../events/fenced-step.js';
import { fencedReturnStep } from '../events/fenced-step.js';
import type { OutboxWriter } from '../events/outbox.js';
import { paymentEvent } from '../events/payment-events.js';
import type { ReturnFacts } from '../events/return-events.js';
import { uuidFromKey } from '../events/envelope.js';
import type { PaymentGateway } from '../payments/gateway.js';
import { paymentFacts, recordPayment } from '../payments/ledger.js';
import { restockReturned } from '../inventory/adjust.js';
import { markRefunded, receiveReturn, rejectReturn } from '../returns/records.js';
import type { FollowUpInput } from './payments.js';
import { gatewayFollowUp, refundEventData } from './payments.js';

export type ReturnSettlementInput = ReturnStepInput & { facts: ReturnFacts; condition?: ReturnCondition };
export type RefundReturnInput = FollowUpInput & { returnId: string };

/** The steps of a ReturnWorkflow, each fenced on the return's own step sequence. */
export function createReturnActivities(db: Db, outbox: OutboxWriter, gateway: PaymentGateway) {
  const step = fencedReturnStep(db, outbox);
  return {
    /** Received: resellable units restocked and ReturnReceived, in one transaction. */
    async receiveReturn(input: ReturnSettlementInput): Promise<void> {
      const condition = input.condition ?? 'resellable';
      await step(input, async (tx) => {
        const events = await receiveReturn(tx, input.facts, condition, input);
        if (events.length > 0 && condition === 'resellable') await restockReturned(tx, outbox, input.facts, input);
        return events;
      });
    },

    async rejectReturn(input: ReturnSettlementInput): Promise<void> {
      await step(input, (tx) => rejectReturn(tx, input.facts, input));
    },

    /**
     * Refunds the returned lines through the payment gateway (key derived from the return), then records the refund
     * and marks the return refunded in one transaction, only while the order's refunds stay within its capture.
     */
    async refundReturn(input: RefundReturnInput): Promise<string> {
      const result = await gatewayFollowUp(db, gateway, 'REFUND', input);
      await step(input, async (tx) => {
        await recordPayment(tx, 'REFUND', input, result, { authorizationId: input.targetPaymentId });
        if (!(await markRefunded(tx, input.returnId, input.orderId))) {
          throw ApplicationFailure.nonRetryable(
            `refunding return ${input.returnId} would exceed the order's capture`,
            'RefundExceedsCapture'
          );
        }
        const data = refundEventData(input, `return ${input.returnId}`);
        return [paymentEvent('PaymentRefunded', '0.0.1', paymentFacts(input), input, data)];
      });
      return uuidFromKey(input.idempotencyKey);
    },

    async setReturnAttention(input: ReturnStepInput & { needsAttention: boolean }): Promise<void> {
      await step(input, async (tx) => {
        await tx.return.update({ where: { id: input.returnId }, data: { needsAttention: input.needsAttention } });
        return [];
      });
    },
  };
}
