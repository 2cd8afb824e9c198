import { createHash, randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';

/** What the saga needs from a card processor. Every call carries an idempotency key (Stripe semantics). */
export interface PaymentGateway {
  authorize(request: AuthorizeRequest): Promise<GatewayResult>;
  capture(request: FollowUpRequest): Promise<GatewayResult>;
  void(request: FollowUpRequest): Promise<GatewayResult>;
  refund(request: FollowUpRequest): Promise<GatewayResult>;
}

export interface AuthorizeRequest {
  idempotencyKey: string;
  amount: number;
  currency: string;
  token: string;
}

export interface FollowUpRequest {
  idempotencyKey: string;
  /** The gateway's reference of the authorization (capture, void) or capture (refund). */
  reference: string;
  amount: number;
  currency: string;
}

export type GatewayResult = { ok: true; reference: string } | { ok: false; code: DeclineCode; message: string };

export type DeclineCode = 'card_declined' | 'insufficient_funds' | 'expired_card' | 'invalid_payment_method';

/** A transient processor failure: the caller retries with the same idempotency key. */
export class GatewayUnavailableError extends Error {
  readonly code = 'GATEWAY_UNAVAILABLE';
  constructor(message: string) {
    super(message);
    this.name = 'GatewayUnavailableError';
  }
}

export class IdempotencyKeyReusedError extends Error {
  readonly code = 'IDEMPOTENCY_KEY_REUSED';
  constructor(key: string) {
    super(`idempotency key ${key} was already used with different parameters`);
    this.name = 'IdempotencyKeyReusedError';
  }
}

/** Stripe's documented test tokens and what they do. */
const TEST_TOKENS: Record<string, { code: DeclineCode; message: string } | 'approve' | 'transient'> = {
  tok_visa: 'approve',
  tok_mastercard: 'approve',
  tok_chargeDeclined: { code: 'card_declined', message: 'Your card was declined.' },
  tok_chargeDeclinedInsufficientFunds: { code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
  tok_chargeDeclinedExpiredCard: { code: 'expired_card', message: 'Your card has expired.' },
  tok_chargeDeclinedProcessingError: 'transient',
};

export const PAYMENT_TEST_TOKENS = Object.keys(TEST_TOKENS);

/**
 * A built-in processor for development and tests. Like a real provider it remembers each idempotency key with its
 * request and answer, so a retried call returns the first answer and a reused key with other parameters is refused.
 */
export function createSimulatedGateway(db: Db): PaymentGateway {
  async function remembered(operation: string, key: string, request: object, decide: () => GatewayResult) {
    const requestHash = createHash('sha256').update(JSON.stringify({ operation, request })).digest('hex');
    // One statement (one commit): record this answer unless the key has one, and return the key's answer. A call
    // that raced this one and committed after the statement's snapshot is invisible to its SELECT: read it again.
    const [answer] = await db.$queryRaw<{ request_hash: string; response: unknown }[]>`
      WITH inserted AS (
        INSERT INTO gateway_ledger (idempotency_key, operation, request_hash, response)
        VALUES (${key}, ${operation}, ${requestHash}, ${JSON.stringify(decide())}::jsonb)
        ON CONFLICT (idempotency_key) DO NOTHING
        RETURNING request_hash, response)
      SELECT request_hash, response FROM inserted
      UNION ALL
      SELECT request_hash, response FROM gateway_ledger WHERE idempotency_key = ${key}
      LIMIT 1`;
    let stored = answer;
    if (!stored) {
      const row = await db.gatewayLedger.findUniqueOrThrow({ where: { idempotencyKey: key } });
      stored = { request_hash: row.requestHash, response: row.response };
    }
    if (stored.request_hash !== requestHash) throw new IdempotencyKeyReusedError(key);
    return stored.response as GatewayResult;
  }

  const approve = (prefix: string): GatewayResult => ({ ok: true, reference: `${prefix}_${randomUUID()}` });

  return {
    async authorize(request) {
      const outcome = TEST_TOKENS[request.token];
      if (outcome === 'transient') throw new GatewayUnavailableError('processing error, try again');
      return remembered('authorize', request.idempotencyKey, request, () => {
        if (outcome === 'approve') return approve('auth');
        if (outcome) return { ok: false, ...outcome };
        return { ok: false, code: 'invalid_payment_method', message: `unknown payment token ${request.token}` };
      });
    },
    capture: (request) => remembered('capture', request.idempotencyKey, request, () => approve('ch')),
    void: (request) => remembered('void', request.idempotencyKey, request, () => approve('void')),
    refund: (request) => remembered('refund', request.idempotencyKey, request, () => approve('re')),
  };
}
