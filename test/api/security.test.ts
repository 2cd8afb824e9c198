import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestSystem } from '../support/system.js';
import { createProduct, orderBody, SERVICE_API_KEY, startSystem } from '../support/system.js';
import { api, expectNoInternals, expectProblem, signToken, startExtraApi, unsignedToken } from './support.js';

describe('API security and request hygiene', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  describe('authentication', () => {
    const now = () => Math.floor(Date.now() / 1000);

    it.each<[string, () => Record<string, string> | Promise<Record<string, string>>]>([
      ['no credentials', () => ({})],
      ['a Basic scheme', () => ({ authorization: 'Basic dXNlcjpwYXNz' })],
      ['a bearer that is no JWT', () => ({ authorization: 'Bearer not-a-jwt' })],
      ['an empty bearer', () => ({ authorization: 'Bearer ' })],
      [
        'a token signed with another secret',
        async () => ({ authorization: `Bearer ${await signToken({ secret: 'x'.repeat(40) })}` }),
      ],
      ['an expired token', async () => ({ authorization: `Bearer ${await signToken({ expiresAt: now() - 10 })}` })],
      [
        'a token for another audience',
        async () => ({ authorization: `Bearer ${await signToken({ audience: 'other-api' })}` }),
      ],
      ['a token from another issuer', async () => ({ authorization: `Bearer ${await signToken({ issuer: 'evil' })}` })],
      ['a token with an unknown role', async () => ({ authorization: `Bearer ${await signToken({ role: 'admin' })}` })],
      [
        'a customer token whose subject is not a customer id (UUID)',
        async () => ({ authorization: `Bearer ${await signToken({ role: 'customer', sub: 'alice' })}` }),
      ],
      ['an unsigned alg=none token', () => ({ authorization: `Bearer ${unsignedToken()}` })],
      ['an unknown API key', () => ({ 'x-api-key': 'guess-0123456789' })],
      ['an empty API key', () => ({ 'x-api-key': '' })],
    ])('answers 401 with WWW-Authenticate to %s', async (_what, headers) => {
      const result = await api(system, 'GET', '/v1/orders', { headers: await headers() });
      const problem = expectProblem(result, 401, 'UNAUTHENTICATED');
      expect(result.headers.get('www-authenticate')).toMatch(/^Bearer realm="flowmart"/);
      // The answer does not say which check failed.
      expect(problem.detail).not.toMatch(/audience|issuer|signature|alg|role|claim|secret/i);
      expectNoInternals(result);
    });

    it('accepts a service API key with the service role', async () => {
      const product = await createProduct(system, 0);
      const added = await api(system, 'POST', '/v1/inventory', {
        headers: { 'x-api-key': SERVICE_API_KEY },
        body: { productId: product.id, quantity: 2, warehouseId: 'WH-KEY' },
      });
      expect(added).toMatchObject({ status: 201, body: { totalOnHand: 2 } });
      const customerId = randomUUID();
      const order = await api(system, 'POST', '/v1/orders', {
        headers: { 'x-api-key': SERVICE_API_KEY },
        body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
      });
      expectProblem(order, 403, 'FORBIDDEN');
    });

    it('makes every caller a local operator with AUTH=off (the documented demo switch)', async () => {
      const open = await startExtraApi(system, { config: { AUTH: 'off' } });
      try {
        expect((await api(open.system, 'GET', '/v1/orders?limit=1')).status).toBe(200);
        const created = await api(open.system, 'POST', '/v1/products', {
          body: { sku: `OFF-${randomUUID().slice(0, 8)}`, name: 'Demo', unitPrice: 100, currency: 'USD' },
        });
        expect(created.status).toBe(201);
      } finally {
        await open.close();
      }
    });
  });

  describe('authorization', () => {
    it('enforces the role matrix: customers order, services move stock and shipments, operators do all', async () => {
      const product = await createProduct(system, 5);
      const customerId = randomUUID();
      const customer = await system.tokens.customer(customerId);
      const { operator, service } = system.tokens;
      const productBody = () => ({ sku: `R-${randomUUID().slice(0, 8)}`, name: 'Role', unitPrice: 1, currency: 'USD' });
      const stock = { productId: product.id, quantity: 1, warehouseId: 'WH-R' };
      const cases: [string, string, string, unknown, number][] = [
        [customer, 'POST', '/v1/products', productBody(), 403],
        [service, 'POST', '/v1/products', productBody(), 403],
        [operator, 'POST', '/v1/products', productBody(), 201],
        [customer, 'POST', '/v1/inventory', stock, 403],
        [service, 'POST', '/v1/inventory', stock, 201],
        [operator, 'POST', '/v1/inventory', stock, 201],
        [customer, 'GET', '/v1/inventory', undefined, 403],
        [service, 'GET', '/v1/inventory', undefined, 200],
        [customer, 'PUT', `/v1/inventory/${product.id}`, { quantityChange: 1, warehouseId: 'WH-R' }, 403],
        [service, 'PUT', `/v1/inventory/${product.id}`, { quantityChange: 1, warehouseId: 'WH-R' }, 200],
        [customer, 'DELETE', `/v1/inventory/${randomUUID()}`, undefined, 403],
        [service, 'DELETE', `/v1/inventory/${randomUUID()}`, undefined, 403],
        [operator, 'DELETE', `/v1/inventory/${randomUUID()}`, undefined, 404],
        [customer, 'PUT', `/v1/shipments/${randomUUID()}/status`, { status: 'shipped' }, 403],
        [service, 'PUT', `/v1/shipments/${randomUUID()}/status`, { status: 'shipped' }, 404],
        [service, 'POST', '/v1/orders', orderBody(customerId, [{ productId: product.id, quantity: 1 }]), 403],
        [service, 'GET', '/v1/orders', undefined, 403],
        [
          customer,
          'POST',
          '/v1/orders',
          orderBody(randomUUID(), [{ productId: product.id, quantity: 1 }]),
          403, // for another customer
        ],
        [customer, 'POST', '/v1/orders', orderBody(customerId, [{ productId: product.id, quantity: 1 }]), 201],
        [operator, 'POST', '/v1/orders', orderBody(randomUUID(), [{ productId: product.id, quantity: 1 }]), 201],
      ];
      for (const [token, method, path, body, status] of cases) {
        const result = await api(system, method, path, { token, ...(body !== undefined ? { body } : {}) });
        expect({ method, path, status: result.status }).toEqual({ method, path, status });
        if (status === 403) expectProblem(result, 403, 'FORBIDDEN');
      }
    });
  });

  describe('request hygiene', () => {
    const path = '/v1/products';
    const valid = () => ({ sku: `H-${randomUUID().slice(0, 8)}`, name: 'Hygiene', unitPrice: 100, currency: 'USD' });

    it('answers 400 to malformed JSON and to a JSON scalar at the top level', async () => {
      const { operator: token } = system.tokens;
      for (const rawBody of ['{"sku": ', '{sku: 1}', '"just a string"', '42', 'null']) {
        const result = await api(system, 'POST', path, { token, rawBody });
        expectProblem(result, 400, 'MALFORMED_REQUEST');
        expectNoInternals(result);
      }
    });

    it('checks credentials and role before reading the body', async () => {
      const garbage = { rawBody: '{not json', headers: { 'content-type': 'text/plain' } };
      expectProblem(await api(system, 'POST', path, garbage), 401, 'UNAUTHENTICATED');
      const customer = await system.tokens.customer(randomUUID());
      expectProblem(await api(system, 'POST', path, { ...garbage, token: customer }), 403, 'FORBIDDEN');
      expectProblem(await api(system, 'POST', path, { token: customer, rawBody: '{not json' }), 403, 'FORBIDDEN');
    });

    it('answers 413 to a body over 32 kB, before the handler runs', async () => {
      const before = await system.resources.db.product.count();
      const result = await api(system, 'POST', path, {
        token: system.tokens.operator,
        body: { ...valid(), name: 'x'.repeat(40_000) },
      });
      expectProblem(result, 413, 'PAYLOAD_TOO_LARGE');
      expect(await system.resources.db.product.count()).toBe(before);
    });

    it.each([
      ['text/plain', JSON.stringify({ sku: 'T-1', name: 'x', unitPrice: 1, currency: 'USD' })],
      ['application/x-www-form-urlencoded', 'sku=T-1&name=x&unitPrice=1&currency=USD'],
      ['application/xml', '<product/>'],
      ['multipart/form-data; boundary=x', '--x--'],
      ['application/json; charset=latin1', '{}'],
      ['', '{"sku":"T-1"}'],
    ])('answers 415 to a body of type "%s"', async (type, rawBody) => {
      const result = await api(system, 'POST', path, {
        token: system.tokens.operator,
        rawBody,
        headers: { 'content-type': type },
      });
      expectProblem(result, 415, 'UNSUPPORTED_MEDIA_TYPE');
    });

    it('answers 422 to a missing body', async () => {
      const result = await api(system, 'POST', path, { token: system.tokens.operator });
      expect(expectProblem(result, 422, 'VALIDATION_FAILED').errors[0]?.field).toBe('body');
    });

    it('rejects unknown and privileged fields (422) without prototype pollution', async () => {
      const { operator: token } = system.tokens;
      for (const extra of [
        '{"id":"3fa85f64-5717-4562-b3fc-2c963f66afa6"}',
        '{"available":1000}',
        '{"createdAt":"x"}',
      ]) {
        const body = { ...valid(), ...(JSON.parse(extra) as object) };
        const result = await api(system, 'POST', path, { token, body });
        expect(expectProblem(result, 422, 'VALIDATION_FAILED').errors[0]?.message).toMatch(/unrecognized key/i);
      }
      for (const poison of ['{"__proto__":{"polluted":true}}', '{"constructor":{"prototype":{"polluted":true}}}']) {
        const rawBody = JSON.stringify(valid()).replace(/^\{/, `{${poison.slice(1, -1)},`);
        const result = await api(system, 'POST', path, { token, rawBody });
        expectProblem(result, 422, 'VALIDATION_FAILED');
        expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      }
      const nested = await api(system, 'POST', '/v1/orders', {
        token,
        body: {
          ...orderBody(randomUUID(), [{ productId: randomUUID(), quantity: 1 }]),
          shippingAddress: { street: 'a', city: 'b', postalCode: 'c', country: 'US', floor: 3 },
        },
      });
      expect(expectProblem(nested, 422).errors).toEqual([
        { field: 'body.shippingAddress', message: expect.stringMatching(/floor/) as string },
      ]);
    });

    it('answers 404 problems to unknown routes and 400 to undecodable paths', async () => {
      const { operator: token } = system.tokens;
      expectProblem(await api(system, 'GET', '/v1/nothing-here', { token }), 404, 'NOT_FOUND');
      expectProblem(await api(system, 'DELETE', '/v1/orders', { token }), 404, 'NOT_FOUND');
      expectProblem(await api(system, 'GET', '/nothing-here'), 404, 'NOT_FOUND');
      expectProblem(await api(system, 'GET', '/v1/orders/%E0%A4%A', { token }), 400, 'MALFORMED_REQUEST');
    });
  });

  describe('transport', () => {
    it('sets security headers (helmet) and hides the framework', async () => {
      const result = await api(system, 'GET', '/healthz');
      expect(result.headers.get('x-powered-by')).toBeNull();
      expect(result.headers.get('x-content-type-options')).toBe('nosniff');
      expect(result.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
      expect(result.headers.get('x-frame-options')).toBe('SAMEORIGIN');
      expect(result.headers.get('referrer-policy')).toBe('no-referrer');
      expect(result.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
      expect(result.headers.get('x-request-id')).toMatch(/^[\w.-]+$/);
    });

    it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
      const kept = await api(system, 'GET', '/healthz', { headers: { 'x-request-id': 'abc-123' } });
      expect(kept.headers.get('x-request-id')).toBe('abc-123');
      const replaced = await api(system, 'GET', '/healthz', { headers: { 'x-request-id': 'a b<script>' } });
      expect(replaced.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('allows cross-origin calls only from CORS_ORIGINS', async () => {
      const closed = await api(system, 'OPTIONS', '/v1/orders', {
        headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
      });
      expect(closed.headers.get('access-control-allow-origin')).toBeNull();

      const extra = await startExtraApi(system, {
        config: { CORS_ORIGINS: 'https://shop.example, https://admin.example' },
      });
      try {
        const preflight = await api(extra.system, 'OPTIONS', '/v1/orders', {
          headers: {
            origin: 'https://shop.example',
            'access-control-request-method': 'POST',
            'access-control-request-headers': 'authorization,content-type,idempotency-key',
          },
        });
        expect(preflight.status).toBe(204);
        expect(preflight.headers.get('access-control-allow-origin')).toBe('https://shop.example');
        expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');
        expect(preflight.headers.get('access-control-allow-headers')).toContain('idempotency-key');

        const simple = await api(extra.system, 'GET', '/v1/orders', {
          token: system.tokens.operator,
          headers: { origin: 'https://admin.example' },
        });
        expect(simple.headers.get('access-control-allow-origin')).toBe('https://admin.example');
        expect(simple.headers.get('access-control-expose-headers')).toContain('Idempotent-Replayed');

        const foreign = await api(extra.system, 'OPTIONS', '/v1/orders', {
          headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
        });
        expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
      } finally {
        await extra.close();
      }
    });

    it('rate-limits /v1 per client with a 429 problem and RateLimit headers; ops endpoints are not limited', async () => {
      const limited = await startExtraApi(system, { config: { RATE_LIMIT_PER_MINUTE: 3 } });
      try {
        const token = system.tokens.operator;
        for (let i = 0; i < 3; i++) {
          const ok = await api(limited.system, 'GET', '/v1/products', { token });
          expect(ok.status).toBe(200);
          expect(ok.headers.get('ratelimit')).toMatch(/; r=\d+/);
        }
        const refused = await api(limited.system, 'GET', '/v1/products', { token });
        expectProblem(refused, 429, 'RATE_LIMITED');
        expect(refused.headers.get('ratelimit-policy')).toMatch(/q=3/);
        expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
        expect((await api(limited.system, 'GET', '/healthz')).status).toBe(200);
      } finally {
        await limited.close();
      }
    });
  });
});
