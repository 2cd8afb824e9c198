import { ApplicationFailure } from '@temporalio/activity';
import type { Db } from '../db/client.js';
import type { PaymentDeclinedDetails } from '../domain/failures.js';
import { ActivityErrorType } from '../domain/failures.js';
import { toDecimal } from '../domain/money.js';
import { uuidFromKey } from '../events/envelope.js';
import type { FencedStep } from '../events/fenced-step.js';
import type { Payment } from '../generated/prisma/client.js';
import { paymentEvent } from '../events/payment-events.js';
import type { FollowUpRequest, GatewayResult, PaymentGateway } from '../payments/gateway.js';
import { GatewayUnavailableError } from '../payments/gateway.js';
import type { Kind, PaymentStep } from '../payments/ledger.js';
import { paymentFacts, recordPayment } from '../payments/ledger.js';

export interface AuthorizeInput extends PaymentStep {
  token: string;
  holdMs: number;
}

export interface FollowUpInput extends PaymentStep {
  /** Our payment id of the authorization (capture, void) or capture (refund) this follows. */
  targetPaymentId: string;
  reason?: string;
  /** The parcel a capture pays for, when the order ships in several (split fulfilment). */
  shipmentId?: string;
}

export interface Authorization {
  paymentId: string;
  expiresAt: number;
}

function declined(code: string, message: string): ApplicationFailure {
  const details: PaymentDeclinedDetails = { code, message };
  return ApplicationFailure.create({
    message,
    type: ActivityErrorType.PaymentDeclined,
    nonRetryable: true,
    details: [details],
  });
}

/** Processor outages are retried by Temporal under the same key; the gateway's own answer is final. */
async function callGateway(call: () => Promise<GatewayResult>): Promise<GatewayResult> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof GatewayUnavailableError) {
      throw ApplicationFailure.retryable(err.message, ActivityErrorType.PaymentGatewayUnavailable);
    }
    throw err;
  }
}

/**
 * Asks the gateway to capture, void or refund a payment of ours under the step's idempotency key; a refusal is
 * retried (the same key returns the first answer once the processor has decided). Recording it is the caller's step.
 */
export async function gatewayFollowUp(
  db: Db,
  gateway: PaymentGateway,
  kind: Exclude<Kind, 'AUTHORIZATION'>,
  input: FollowUpInput
): Promise<GatewayResult> {
  const previous = await db.payment.findUnique({ where: { id: input.targetPaymentId } });
  if (!previous?.providerRef)
    throw ApplicationFailure.nonRetryable(`payment ${input.targetPaymentId} not found`, 'PaymentNotFound');
  const request = {
    idempotencyKey: input.idempotencyKey,
    reference: previous.providerRef,
    amount: input.amount,
    currency: input.currency,
  };
  const call = {
    CAPTURE: (r: FollowUpRequest) => gateway.capture(r),
    VOID: (r: FollowUpRequest) => gateway.void(r),
    REFUND: (r: FollowUpRequest) => gateway.refund(r),
  }[kind];
  const result = await callGateway(() => call(request));
  if (!result.ok) throw ApplicationFailure.retryable(`${kind} refused: ${result.message}`, 'PaymentFollowUpRefused');
  return result;
}

/** What PaymentRefunded says besides the payment facts. */
export function refundEventData(input: FollowUpInput, reason: string) {
  return {
    refundId: uuidFromKey(`${input.idempotencyKey}:refund`),
    reason: input.reason ?? reason,
    timestamp: new Date().toISOString(),
  };
}

export function createPaymentActivities(db: Db, step: FencedStep, gateway: PaymentGateway) {
  async function followUp(
    kind: Exclude<Kind, 'AUTHORIZATION'>,
    input: FollowUpInput,
    eventType: string,
    eventVersion: string,
    data: object
  ) {
    const result = await gatewayFollowUp(db, gateway, kind, input);
    await step(input, async (tx) => {
      await recordPayment(tx, kind, input, result, { authorizationId: input.targetPaymentId });
      return [paymentEvent(eventType, eventVersion, paymentFacts(input), input, data)];
    });
    return uuidFromKey(input.idempotencyKey);
  }

  return {
    /** Authorizes the amount; a decline is recorded, published and raised as a non-retryable PaymentDeclined. */
    async authorizePayment(input: AuthorizeInput): Promise<Authorization> {
      const result = await callGateway(() =>
        gateway.authorize({
          idempotencyKey: input.idempotencyKey,
          amount: input.amount,
          currency: input.currency,
          token: input.token,
        })
      );
      const expiresAt = new Date(Date.now() + input.holdMs);
      const facts = paymentFacts(input);
      let recorded: Payment | undefined;
      const stored = await step(
        input,
        async (tx) => {
          recorded = await recordPayment(tx, 'AUTHORIZATION', input, result, result.ok ? { expiresAt } : {});
          const timestamp = new Date().toISOString();
          const outcome = result.ok
            ? paymentEvent('PaymentProcessed', '1.0.0', facts, input, {
                transactionId: result.reference,
                paymentMethod: input.method,
                status: 'confirmed',
                confirmationDetails: { gatewayResponse: 'Approved', transactionId: result.reference },
                timestamp,
              })
            : {
                ...paymentEvent('PaymentFailed', '0.0.1', facts, input, {}),
                data: {
                  paymentId: facts.paymentId,
                  amount: toDecimal(input.amount, input.currency),
                  currency: input.currency,
                  failureReason: result.code,
                  failureMessage: result.message,
                  metadata: { customerId: input.customerId, orderId: input.orderId },
                  canRetry: false,
                  timestamp,
                },
              };
          return [
            paymentEvent('PaymentInitiated', '0.0.1', facts, input, { paymentMethod: input.method, timestamp }),
            outcome,
          ];
        },
        // The row this step inserted, else (a retried or stale step, or a key already recorded) read in the step's
        // transaction: one commit fewer per order than a read of its own.
        async (tx) => recorded ?? tx.payment.findUniqueOrThrow({ where: { idempotencyKey: input.idempotencyKey } })
      );
      if (stored.status === 'FAILED')
        throw declined(stored.failureCode ?? 'card_declined', stored.failureMessage ?? 'declined');
      return { paymentId: stored.id, expiresAt: (stored.expiresAt ?? expiresAt).getTime() };
    },

    async capturePayment(input: FollowUpInput): Promise<string> {
      return followUp('CAPTURE', input, 'PaymentComplete', '0.0.2', {
        ...(input.shipmentId ? { shipmentId: input.shipmentId } : {}),
        paymentMethod: input.method,
        status: 'Completed',
        timestamp: new Date().toISOString(),
      });
    },

    async voidPayment(input: FollowUpInput): Promise<string> {
      return followUp('VOID', input, 'PaymentVoided', '0.0.1', {
        reason: input.reason ?? 'order cancelled',
        timestamp: new Date().toISOString(),
      });
    },

    async refundPayment(input: FollowUpInput): Promise<string> {
      return followUp('REFUND', input, 'PaymentRefunded', '0.0.1', refundEventData(input, 'order cancelled'));
    },
  };
}
