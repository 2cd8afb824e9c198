import type { Causation } from '../domain/causation.js';
import { toDecimal } from '../domain/money.js';
import type { DomainEvent } from './envelope.js';

export interface PaymentFacts {
  paymentId: string;
  orderId: string;
  customerId: string;
  amount: number;
  currency: string;
  method: string;
  key: string;
}

export function paymentEvent(
  type: string,
  version: string,
  facts: PaymentFacts,
  cause: Causation,
  data: object
): DomainEvent {
  return {
    context: 'payments',
    type,
    version,
    subject: facts.orderId,
    idempotencyKey: `${facts.key}:${type}`,
    correlationId: facts.orderId,
    causationId: cause.causationId,
    ...(cause.traceparent ? { traceparent: cause.traceparent } : {}),
    data: {
      paymentId: facts.paymentId,
      orderId: facts.orderId,
      userId: facts.customerId,
      amount: toDecimal(facts.amount, facts.currency),
      currency: facts.currency,
      ...data,
    },
  };
}
