import type { Causation } from '../domain/causation.js';
import { toDecimal } from '../domain/money.js';
import type { ReturnCondition, ReturnLine } from '../domain/returns.js';
import type { DomainEvent } from './envelope.js';

/** The return as the orders context publishes it: on the order's channel, subject and correlation the order. */
export interface ReturnFacts {
  returnId: string;
  orderId: string;
  customerId: string;
  currency: string;
  lines: readonly ReturnLine[];
  refundAmount: number;
}

function returnEvent(type: string, facts: ReturnFacts, cause: Causation, data: object): DomainEvent {
  return {
    context: 'orders',
    type,
    version: '0.0.1',
    subject: facts.orderId,
    idempotencyKey: `${facts.orderId}:return:${facts.returnId}:${type}`,
    correlationId: facts.orderId,
    causationId: cause.causationId,
    ...(cause.traceparent ? { traceparent: cause.traceparent } : {}),
    data: {
      returnId: facts.returnId,
      orderId: facts.orderId,
      userId: facts.customerId,
      items: facts.lines.map((line) => ({
        productId: line.productId,
        quantity: line.quantity,
        unitPrice: toDecimal(line.unitPrice, facts.currency),
        totalPrice: toDecimal(line.unitPrice * line.quantity, facts.currency),
      })),
      refundAmount: toDecimal(facts.refundAmount, facts.currency),
      currency: facts.currency,
      ...data,
      timestamp: new Date().toISOString(),
    },
  };
}

export const returnRequested = (facts: ReturnFacts, cause: Causation, reason: string) =>
  returnEvent('ReturnRequested', facts, cause, { reason });

export const returnReceived = (facts: ReturnFacts, cause: Causation, condition: ReturnCondition) =>
  returnEvent('ReturnReceived', facts, cause, { condition, restocked: condition === 'resellable' });

export const returnRejected = (facts: ReturnFacts, cause: Causation) => returnEvent('ReturnRejected', facts, cause, {});
