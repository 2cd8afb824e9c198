import type { Tx } from '../db/client.js';
import type { StepInput } from '../domain/causation.js';
import { uuidFromKey } from '../events/envelope.js';
import type { PaymentFacts } from '../events/payment-events.js';
import type { Payment } from '../generated/prisma/client.js';
import type { GatewayResult } from './gateway.js';

/** The payments ledger: one row per gateway call, keyed by the workflow's idempotency key. */

export interface PaymentStep extends StepInput {
  /** Derived by the workflow from the order and the step, never from the attempt number. */
  idempotencyKey: string;
  customerId: string;
  amount: number;
  currency: string;
  method: string;
}

export type Kind = 'AUTHORIZATION' | 'CAPTURE' | 'VOID' | 'REFUND';

/** Records the gateway's answer once per key; returns the row when this call inserted it. */
export async function recordPayment(
  tx: Tx,
  kind: Kind,
  input: PaymentStep,
  result: GatewayResult,
  extra: { authorizationId?: string; expiresAt?: Date } = {}
): Promise<Payment | undefined> {
  const [inserted] = await tx.payment.createManyAndReturn({
    data: [
      {
        id: uuidFromKey(input.idempotencyKey),
        orderId: input.orderId,
        kind,
        status: result.ok ? 'SUCCEEDED' : 'FAILED',
        amount: input.amount,
        currency: input.currency,
        method: input.method,
        idempotencyKey: input.idempotencyKey,
        providerRef: result.ok ? result.reference : null,
        authorizationId: extra.authorizationId ?? null,
        failureCode: result.ok ? null : result.code,
        failureMessage: result.ok ? null : result.message,
        expiresAt: extra.expiresAt ?? null,
      },
    ],
    skipDuplicates: true,
  });
  return inserted;
}

export function paymentFacts(input: PaymentStep): PaymentFacts {
  return {
    paymentId: uuidFromKey(input.idempotencyKey),
    orderId: input.orderId,
    customerId: input.customerId,
    amount: input.amount,
    currency: input.currency,
    method: input.method,
    key: input.idempotencyKey,
  };
}
