import { createHash } from 'node:crypto';
import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { isDatabaseConnectionLost } from '../db/connection-errors.js';
import { ApiError, ErrorCode } from './errors.js';

declare module 'express-serve-static-core' {
  interface Request {
    /**
     * Identifies the operation to downstream systems (Temporal update ids, stock adjustment ids, shipment event ids):
     * the client's Idempotency-Key scoped to the caller, or a fresh random id when none was sent.
     */
    operationId?: string;
  }
}

/** A request still in flight after this long is taken to be abandoned (its process died) and may be retried. */
const ABANDONED_AFTER_MS = 60_000;

/**
 * Which answers are remembered for the key. Successes and business outcomes (404, 409) are, so a retry gets the same
 * answer. Requests the API refused before doing anything (401, 403, 413, 415, 422) and server errors (5xx) are not:
 * nothing happened, so the client may retry with the same key, corrected or later (Stripe: "results are only saved
 * if an API endpoint started executing").
 */
export function isRemembered(status: number): boolean {
  return (status >= 200 && status < 300) || status === 404 || status === 409;
}

/** JSON with object keys sorted, so `{a, b}` and `{b, a}` are the same request. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        )
      : v
  );
}

export function requestFingerprint(method: string, path: string, input: unknown): string {
  return createHash('sha256')
    .update(canonicalJson([method, path, input ?? null]))
    .digest('hex');
}

export interface IdempotencyStore {
  /**
   * Claims `key` for this request, or answers it: with the stored response (`Idempotent-Replayed: true`), 409 while
   * the first request with the key is still running, 422 when the key was used for a different request. Returns
   * whether the caller should go on and execute the request.
   */
  begin(req: Request, res: Response, key: string, input: unknown): Promise<'execute' | 'answered'>;
}

/**
 * Stripe-style idempotency for mutating routes. The key is claimed only once the request passed authentication,
 * authorization and validation, and the response is stored before it is sent, so a retry that arrives right after
 * it sees the stored answer. Keys are scoped to the caller and expire after `ttlMs`.
 */
export function idempotencyStore(db: Db, ttlMs: number, logger: Logger): IdempotencyStore {
  return {
    async begin(req, res, key, input) {
      const principal = `${req.principal?.role}:${req.principal?.subject}`;
      const path = req.baseUrl + req.path;
      const hash = requestFingerprint(req.method, path, input);
      const now = Date.now();
      const claimed = await db.$executeRaw`
        INSERT INTO idempotency_keys (principal, key, method, path, body_hash, state, expires_at)
        VALUES (${principal}, ${key}, ${req.method}, ${path}, ${hash}, 'IN_FLIGHT', ${new Date(now + ttlMs)})
        ON CONFLICT (principal, key) DO UPDATE SET
          method = EXCLUDED.method, path = EXCLUDED.path, body_hash = EXCLUDED.body_hash, state = 'IN_FLIGHT',
          response_status = NULL, response_headers = NULL, response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
        WHERE idempotency_keys.expires_at < now()
           OR (idempotency_keys.state = 'IN_FLIGHT' AND idempotency_keys.created_at < ${new Date(now - ABANDONED_AFTER_MS)})`;
      if (claimed === 0) {
        const stored = await db.idempotencyKey.findUnique({ where: { principal_key: { principal, key } } });
        // Released (the first request failed) between our insert and this read: the client should simply retry.
        if (!stored) throw ApiError.conflict(ErrorCode.IDEMPOTENCY_KEY_IN_USE, 'the Idempotency-Key is busy; retry');
        if (stored.bodyHash !== hash) {
          throw new ApiError(
            422,
            ErrorCode.IDEMPOTENCY_KEY_REUSED,
            'this Idempotency-Key was used for a different request; use a new key for a new request'
          );
        }
        if (stored.state === 'IN_FLIGHT') {
          throw ApiError.conflict(
            ErrorCode.IDEMPOTENCY_KEY_IN_USE,
            'a request with this Idempotency-Key is in progress; retry later'
          );
        }
        const headers = (stored.responseHeaders ?? {}) as Record<string, string>;
        res.set({ ...headers, 'Idempotent-Replayed': 'true' });
        res.status(stored.responseStatus ?? 200).json(stored.responseBody);
        return 'answered';
      }

      req.operationId = `key:${principal}:${key}`;
      const send = res.json.bind(res);
      res.json = (body: unknown) => {
        // Once: an error while recording must not come back through this hook.
        res.json = send;
        const status = res.statusCode;
        const where = { principal_key: { principal, key } };
        const record = (): Promise<unknown> =>
          isRemembered(status)
            ? db.idempotencyKey.update({
                where,
                data: {
                  state: 'DONE',
                  responseStatus: status,
                  responseHeaders: Object.fromEntries(
                    ['location', 'content-type'].flatMap((name) => {
                      const value = res.get(name);
                      return value ? [[name, value]] : [];
                    })
                  ),
                  responseBody: body as object,
                },
              })
            : db.idempotencyKey.deleteMany({ where: { principal, key } });
        // A connection cut under the write (a backend terminated, PostgreSQL restarting) fails only that write; the
        // pool opens another, so once more is enough. Otherwise the key would answer retries with 409 for a minute.
        record()
          .catch((error: unknown) => {
            if (!isDatabaseConnectionLost(error)) throw error;
            return record();
          })
          .then(
            () => send(body),
            (error: unknown) => {
              // The work is done (or failed) either way: answer the client truthfully. The key stays IN_FLIGHT and
              // becomes claimable again after ABANDONED_AFTER_MS.
              logger.error({ err: error, status }, 'could not record the idempotent response');
              send(body);
            }
          );
        return res;
      };
      return 'execute';
    },
  };
}

/** Drops expired keys; called periodically by the API process. */
export async function pruneIdempotencyKeys(db: Db): Promise<number> {
  const { count } = await db.idempotencyKey.deleteMany({ where: { expiresAt: { lt: new Date() } } });
  return count;
}
