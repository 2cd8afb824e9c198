import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JWK } from 'jose';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestSystem } from '../support/system.js';
import { startSystem } from '../support/system.js';
import type { ExtraApi } from './support.js';
import { api, expectProblem, startExtraApi } from './support.js';

const ISSUER = 'https://id.flowmart.test/';
const AUDIENCE = 'flowmart-orders-api';

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
  jwk: JWK;
}

async function signingKey(kid: string, alg: 'RS256' | 'ES256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

function idpToken(
  key: SigningKey,
  claims: { role?: string; sub?: string; issuer?: string; audience?: string; kid?: string } = {}
) {
  return new SignJWT({ role: claims.role ?? 'operator' })
    .setProtectedHeader({ alg: key.alg, kid: claims.kid ?? key.kid })
    .setSubject(claims.sub ?? 'alice@flowmart.test')
    .setIssuer(claims.issuer ?? ISSUER)
    .setAudience(claims.audience ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key.privateKey);
}

describe('identity provider tokens verified against its JWKS', () => {
  let system: TestSystem;
  let idp: ReturnType<typeof createServer>;
  let withIdp: ExtraApi;
  let rsa: SigningKey;
  let ec: SigningKey;
  let jwksRequests = 0;

  beforeAll(async () => {
    [rsa, ec] = await Promise.all([signingKey('rsa-1', 'RS256'), signingKey('ec-1', 'ES256')]);
    // The identity provider's published key set, on loopback.
    idp = createServer((req, res) => {
      jwksRequests += 1;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [rsa.jwk, ec.jwk] }));
    });
    await new Promise<void>((resolve) => idp.listen(0, '127.0.0.1', resolve));
    const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/.well-known/jwks.json`;
    system = await startSystem();
    withIdp = await startExtraApi(system, {
      config: { JWT_JWKS_URL: jwksUrl, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE },
    });
  });
  afterAll(async () => {
    await withIdp?.close();
    await system?.stop();
    idp?.close();
  });

  const list = (token: string) => api(withIdp.system, 'GET', '/v1/orders?limit=1', { token });

  it('accepts RS256 and ES256 tokens signed by a key of the set, fetching the set once', async () => {
    expect((await list(await idpToken(rsa))).status).toBe(200);
    expect((await list(await idpToken(ec))).status).toBe(200);
    expect(jwksRequests).toBe(1);
  });

  it('applies the role claim of the provider token', async () => {
    const customer = await idpToken(rsa, { role: 'customer', sub: randomUUID() });
    const created = await api(withIdp.system, 'POST', '/v1/products', {
      token: customer,
      body: { sku: 'IDP-1', name: 'Not allowed', unitPrice: 100, currency: 'USD' },
    });
    expectProblem(created, 403, 'FORBIDDEN');
  });

  it('still accepts the service’s own HS256 tokens', async () => {
    expect((await list(system.tokens.operator)).status).toBe(200);
  });

  it.each<[string, () => Promise<string>]>([
    [
      'a tampered token (claims changed, signature kept)',
      async () => {
        const [header, , signature] = (await idpToken(rsa, { role: 'customer' })).split('.');
        const forged = Buffer.from(
          JSON.stringify({ role: 'operator', sub: 'mallory', iss: ISSUER, aud: AUDIENCE, exp: 2e9 })
        ).toString('base64url');
        return `${header}.${forged}.${signature}`;
      },
    ],
    ['a token from another issuer', () => idpToken(rsa, { issuer: 'https://evil.test/' })],
    ['a token for another audience', () => idpToken(ec, { audience: 'another-api' })],
    [
      'a token signed by a key outside the set, under a known kid',
      async () => idpToken({ ...(await signingKey('rsa-1', 'RS256')) }),
    ],
  ])('refuses %s with 401', async (_what, token) => {
    const result = await list(await token());
    expectProblem(result, 401, 'UNAUTHENTICATED');
    expect(result.headers.get('www-authenticate')).toMatch(/^Bearer realm="flowmart"/);
  });

  it('refuses a provider token when no JWKS is configured', async () => {
    expectProblem(
      await api(system, 'GET', '/v1/orders?limit=1', { token: await idpToken(rsa) }),
      401,
      'UNAUTHENTICATED'
    );
  });
});
