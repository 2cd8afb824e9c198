import { createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { Db } from '../db/client.js';
import { ApiError, ErrorCode, zodDetails } from './errors.js';
import { IdempotencyKeyHeader } from './schemas.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The client's Idempotency-Key scoped to the caller, or a fresh request id when none was sent. */
    operationId?: string;
  }
}

/** A request still in flight after this long is taken to be abandoned (its process died) and may be retried. */
const ABANDONED_AFTER_MS = 60_000;

function bodyHash(method: string, path: string, body: unknown): string {
  return createHash('sha256')
    .update(JSON.stringify([method, path, body ?? null]))
    .digest('hex');
}

/**
 * Stripe-style idempotency for mutating routes: the first response for a key is stored and replayed to every
 * retry with the same body; the same key with another body is refused, and so is a retry while the first request
 * is still running. Server errors are not stored, so the client may retry them.
 */
export function idempotency(db: Db, ttlMs: number): RequestHandler {
  return async (req, res, next) => {
    const header = req.get('idempotency-key');
    const principal = `${req.principal?.role}:${req.principal?.subject}`;
    if (header === undefined) {
      req.operationId = `req:${res.locals.requestId as string}`;
      return next();
    }
    const parsed = IdempotencyKeyHeader.safeParse(header);
    if (!parsed.success) {
      return next(
        ApiError.validation('the Idempotency-Key header is invalid', zodDetails(parsed.error, 'Idempotency-Key'))
      );
    }
    const key = parsed.data;
    const hash = bodyHash(req.method, req.baseUrl + req.path, req.body);
    const now = new Date();
    const claimed = await db.$executeRaw`
      INSERT INTO idempotency_keys (principal, key, method, path, body_hash, state, expires_at)
      VALUES (${principal}, ${key}, ${req.method}, ${req.baseUrl + req.path}, ${hash}, 'IN_FLIGHT', ${new Date(now.getTime() + ttlMs)})
      ON CONFLICT (principal, key) DO UPDATE SET
        method = EXCLUDED.method, path = EXCLUDED.path, body_hash = EXCLUDED.body_hash, state = 'IN_FLIGHT',
        response_status = NULL, response_headers = NULL, response_body = NULL, created_at = now(), expires_at = EXCLUDED.expires_at
      WHERE idempotency_keys.expires_at < now()
         OR (idempotency_keys.state = 'IN_FLIGHT' AND idempotency_keys.created_at < ${new Date(now.getTime() - ABANDONED_AFTER_MS)})`;
    if (claimed === 0) {
      const stored = await db.idempotencyKey.findUnique({ where: { principal_key: { principal, key } } });
      if (!stored)
        return next(ApiError.conflict(ErrorCode.IDEMPOTENCY_KEY_IN_USE, 'the Idempotency-Key is busy; retry'));
      if (stored.bodyHash !== hash) {
        return next(
          new ApiError(422, ErrorCode.IDEMPOTENCY_KEY_REUSED, 'this Idempotency-Key was used for a different request')
        );
      }
      if (stored.state === 'IN_FLIGHT') {
        return next(
          ApiError.conflict(ErrorCode.IDEMPOTENCY_KEY_IN_USE, 'a request with this Idempotency-Key is in progress')
        );
      }
      const headers = (stored.responseHeaders ?? {}) as Record<string, string>;
      res.set({ ...headers, 'Idempotent-Replayed': 'true' });
      return res.status(stored.responseStatus ?? 200).json(stored.responseBody);
    }
    req.operationId = `key:${principal}:${key}`;
    const json = res.json.bind(res);
    res.json = (body: unknown) => {
      const headers = Object.fromEntries(
        ['location', 'content-type'].flatMap((name) => {
          const value = res.get(name);
          return value ? [[name, value]] : [];
        })
      );
      const stored =
        res.statusCode >= 500
          ? db.idempotencyKey.delete({ where: { principal_key: { principal, key } } })
          : db.idempotencyKey.update({
              where: { principal_key: { principal, key } },
              data: {
                state: 'DONE',
                responseStatus: res.statusCode,
                responseHeaders: headers,
                responseBody: body as object,
              },
            });
      // The response waits for the record, so a retry that arrives right after it sees the stored answer.
      stored.then(
        () => json(body),
        (error: unknown) => next(error)
      );
      return res;
    };
    next();
  };
}

/** Drops expired keys; called periodically by the API process. */
export async function pruneIdempotencyKeys(db: Db): Promise<number> {
  const { count } = await db.idempotencyKey.deleteMany({ where: { expiresAt: { lt: new Date() } } });
  return count;
}
