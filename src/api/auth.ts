import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import type { JWTPayload } from 'jose';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import type { Principal, Role } from '../domain/principal.js';
import { ApiError, ErrorCode } from './errors.js';

const ISSUER = 'flowmart-orders';
const AUDIENCE = 'flowmart-api';

/** A customer's subject is their customer id (a UUID): any other subject could own no order and is refused. */
const claimsSchema = z
  .object({ sub: z.string().min(1), role: z.enum(['customer', 'operator', 'service']) })
  .refine((claims) => claims.role !== 'customer' || z.uuid().safeParse(claims.sub).success, {
    message: 'a customer token needs a customer id (UUID) as its subject',
  });

export async function mintToken(secret: string, role: Role, subject: string, ttl = '12h'): Promise<string> {
  return new SignJWT({ role })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(secret));
}

export interface AuthOptions {
  enabled: boolean;
  jwtSecret?: string;
  /** An identity provider: its tokens (RS256/ES256) are verified against its published key set. */
  jwks?: { url: string; issuer: string; audience: string };
  /** `role:key` pairs for services that cannot hold a JWT. */
  apiKeys: string;
}

function parseApiKeys(text: string): { role: Role; key: Buffer }[] {
  return text
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const [role, key] = entry.split(':');
      const parsed = z.enum(['customer', 'operator', 'service']).safeParse(role);
      if (!parsed.success || !key) throw new Error(`API_KEYS entry "${role}:…" must be role:key`);
      return { role: parsed.data, key: Buffer.from(key) };
    });
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

const unauthenticated = (message: string) => new ApiError(401, ErrorCode.UNAUTHENTICATED, message);

class TokenRefusedError extends Error {
  readonly code = 'TOKEN_REFUSED';
}

/**
 * Our own HS256 tokens (npm run token) and, with a JWKS URL, an identity provider's RS256/ES256 ones. The header's
 * alg only picks the verifier; each verifier then allows only its own algorithms, so an HS256 token cannot be
 * checked against a public key nor an RS256 one against the secret.
 */
function tokenVerifier(options: AuthOptions): (token: string) => Promise<JWTPayload> {
  const secret = options.jwtSecret ? new TextEncoder().encode(options.jwtSecret) : undefined;
  const { jwks } = options;
  // Cached: fetched on first use, again after 10 minutes, or when a token names an unknown key (at most every 30 s).
  const keySet = jwks
    ? createRemoteJWKSet(new URL(jwks.url), {
        cacheMaxAge: 10 * 60_000,
        cooldownDuration: 30_000,
        timeoutDuration: 5_000,
      })
    : undefined;
  return async (token) => {
    const { alg } = decodeProtectedHeader(token);
    if (alg === 'HS256' && secret) {
      return (await jwtVerify(token, secret, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] })).payload;
    }
    if (jwks && keySet && (alg === 'RS256' || alg === 'ES256')) {
      const verified = await jwtVerify(token, keySet, {
        issuer: jwks.issuer,
        audience: jwks.audience,
        algorithms: ['RS256', 'ES256'],
      });
      return verified.payload;
    }
    throw new TokenRefusedError(`no verifier for alg ${alg}`);
  };
}

/**
 * Bearer JWT (HS256, or RS256/ES256 from JWT_JWKS_URL; issuer and audience checked) or `X-API-Key`. Every 401 carries `WWW-Authenticate` (RFC 9110) and
 * says nothing about which check failed. With AUTH=off (local demos only) every caller is an operator.
 */
export function authenticate(options: AuthOptions): RequestHandler {
  const keys = parseApiKeys(options.apiKeys);
  const verify = tokenVerifier(options);
  return async (req, res, next) => {
    if (!options.enabled) {
      req.principal = { role: 'operator', subject: 'local-demo' };
      return next();
    }
    const apiKey = req.get('x-api-key');
    if (apiKey !== undefined) {
      const given = Buffer.from(apiKey);
      const match = keys.find(({ key }) => key.length === given.length && timingSafeEqual(key, given));
      if (!match) {
        res.set('WWW-Authenticate', 'Bearer realm="flowmart"');
        return next(unauthenticated('the API key is not valid'));
      }
      req.principal = { role: match.role, subject: `api-key:${match.role}` };
      return next();
    }
    const header = req.get('authorization') ?? '';
    const [scheme, token] = header.split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) {
      res.set('WWW-Authenticate', 'Bearer realm="flowmart"');
      return next(unauthenticated('send a bearer token (Authorization: Bearer <jwt>) or an X-API-Key'));
    }
    try {
      const claims = claimsSchema.parse(await verify(token));
      req.principal = { role: claims.role, subject: claims.sub };
      next();
    } catch {
      res.set('WWW-Authenticate', 'Bearer realm="flowmart", error="invalid_token"');
      next(unauthenticated('the bearer token is invalid or expired'));
    }
  };
}

export function requireRole(...roles: Role[]): RequestHandler {
  return (req, _res, next) => {
    if (req.principal && roles.includes(req.principal.role)) return next();
    next(new ApiError(403, ErrorCode.FORBIDDEN, `this needs the ${roles.join(' or ')} role`));
  };
}
