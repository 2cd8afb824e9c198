import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpResult, TestSystem } from '../support/system.js';
import { createProduct, eventually, orderBody, SERVICE_API_KEY, startSystem } from '../support/system.js';
import type { Contract } from './support.js';
import {
  api,
  contractOf,
  expectNoInternals,
  isolatedDatabase,
  rowCounts,
  signToken,
  unsignedToken,
} from './support.js';

/**
 * Property: any request to a mutating route that is invalid in at least one way (credentials, role, media type,
 * body, Idempotency-Key, path id) gets the 4xx problem document its first fault calls for, matching the OpenAPI
 * document, and changes nothing: the row counts of every table a request could write are the same afterwards.
 * Everything not faulted is valid and points at real rows, so a check that let a request through would show.
 */

const RUNS_PER_ROUTE = 300;

type Role = 'customer' | 'operator' | 'service';
/** `owner`: a customer acting for another customer (POST /v1/orders only). */
type Fault = 'auth' | 'role' | 'owner' | 'contentType' | 'body' | 'key' | 'id';
type IdKind = 'order' | 'product' | 'shipment';

interface Route {
  method: string;
  template: string;
  idKind?: IdKind;
  roles: Role[];
  /** A valid body for the seeded rows; undefined for routes without one. */
  body?: () => unknown;
}

interface World {
  customerId: string;
  orderId: string;
  productId: string;
  shipmentId: string;
  credentials: Record<Role | 'serviceKey' | 'stranger', Record<string, string>>;
  badCredentials: Record<string, string>[];
}

function routes(world: World): Route[] {
  const order = () => orderBody(world.customerId, [{ productId: world.productId, quantity: 1 }]);
  return [
    { method: 'POST', template: '/v1/orders', roles: ['customer', 'operator'], body: order },
    {
      method: 'PATCH',
      template: '/v1/orders/{orderId}',
      idKind: 'order',
      roles: ['customer', 'operator'],
      body: () => ({ status: 'cancelled' }),
    },
    {
      method: 'POST',
      template: '/v1/orders/{orderId}/amendments',
      idKind: 'order',
      roles: ['customer', 'operator'],
      body: () => ({ items: [{ productId: world.productId, quantity: 2 }] }),
    },
    {
      method: 'POST',
      template: '/v1/orders/{orderId}/cancel',
      idKind: 'order',
      roles: ['customer', 'operator'],
      body: () => ({ reason: 'CUSTOMER_REQUESTED' }),
    },
    {
      method: 'POST',
      template: '/v1/products',
      roles: ['operator'],
      body: () => ({ sku: `FZ-${randomUUID().slice(0, 8)}`, name: 'Fuzz', unitPrice: 100, currency: 'USD' }),
    },
    {
      method: 'POST',
      template: '/v1/inventory',
      roles: ['operator', 'service'],
      body: () => ({ productId: world.productId, quantity: 1, warehouseId: 'WH-FUZZ' }),
    },
    {
      method: 'PUT',
      template: '/v1/inventory/{productId}',
      idKind: 'product',
      roles: ['operator', 'service'],
      body: () => ({ quantityChange: 1, warehouseId: 'WH-FUZZ' }),
    },
    { method: 'DELETE', template: '/v1/inventory/{productId}', idKind: 'product', roles: ['operator'] },
    {
      method: 'PUT',
      template: '/v1/shipments/{shipmentId}/status',
      idKind: 'shipment',
      roles: ['service', 'operator'],
      body: () => ({ status: 'shipped' }),
    },
  ];
}

/* ---- generators ---- */

const KEY = /^[A-Za-z0-9_.:-]{8,255}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Characters fetch can send in a header value (Latin-1 without controls); it trims surrounding whitespace. */
const headerText = fc
  .string({
    unit: fc
      .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xa0, max: 0xff }))
      .map((c) => String.fromCharCode(c)),
    maxLength: 300,
  })
  .map((text) => text.trim());

const badKey = fc.oneof(
  headerText.filter((key) => !KEY.test(key)),
  fc.integer({ min: 0, max: 7 }).map((n) => 'k'.repeat(n)),
  fc.constant('x'.repeat(256)),
  fc.constantFrom('key with spaces', 'k\u00e9y-12345678', 'key/with/slashes', 'key,other-key')
);

const badId = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 60 })
  .map((id) => encodeURIComponent(id))
  .filter((id) => !UUID.test(decodeURIComponent(id)) && id !== '.' && id !== '..');

const NON_JSON_TYPES = [
  'text/plain',
  'text/json',
  'application/jsonx',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=zz',
  'application/octet-stream',
  'application/json; charset=latin1',
];

type Body = { kind: 'json'; value: unknown } | { kind: 'raw'; text: string };

/** Whether body-parser (strict) refuses the text as JSON: 400. An empty body parses as {}. */
function malformed(raw: string): boolean {
  if (raw.length === 0) return false;
  const text = raw.replace(/^\ufeff/, ''); // the UTF-8 decoder drops a byte order mark
  const first = text.replace(/^[ \t\n\r]+/, '')[0];
  if (first !== '{' && first !== '[') return true;
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
}

/** Invalid bodies by the document: garbage, wrong shapes, and valid bodies with one part broken. */
function badBody(contract: Contract, route: Route): fc.Arbitrary<Body> {
  const valid = route.body!;
  const anyJson = fc.jsonValue({ maxDepth: 3 });
  const mutated = fc
    .tuple(
      fc.nat(),
      fc.nat(),
      anyJson,
      fc.string({ maxLength: 20 }),
      fc.constantFrom('replace', 'delete', 'add', 'deep')
    )
    .map(([pick, pickDeep, value, name, how]) => {
      const body = structuredClone(valid()) as Record<string, unknown>;
      const keys = Object.keys(body);
      const key = keys[pick % keys.length]!;
      if (how === 'replace') body[key] = value;
      else if (how === 'delete') delete body[key];
      else if (how === 'add') body[name || '__proto__'] = value;
      else {
        const inner = body[key];
        const target: unknown = Array.isArray(inner) ? (inner as unknown[])[0] : inner;
        if (target && typeof target === 'object') {
          const innerKeys = Object.keys(target);
          (target as Record<string, unknown>)[innerKeys[pickDeep % innerKeys.length] ?? name] = value;
        } else body[key] = value;
      }
      return body;
    });
  const special = fc.constantFrom<unknown>(
    {},
    [],
    [valid()],
    JSON.parse(`{"__proto__":{"admin":true},${JSON.stringify(valid()).slice(1)}`),
    JSON.parse(`{"constructor":{"prototype":{"polluted":true}},${JSON.stringify(valid()).slice(1)}`),
    { ...(valid() as object), status: 'completed', total: 0, id: randomUUID() }
  );
  const structured = fc
    .oneof(mutated, anyJson, special)
    // What the server will see: a JSON round trip.
    .map((value) => JSON.parse(JSON.stringify(value ?? null)) as unknown)
    .filter((value) => !contract.acceptsRequestBody(route.method, route.template, value))
    .map((value): Body => ({ kind: 'json', value }));
  const raw = fc
    .oneof(
      fc.string({ maxLength: 200 }),
      fc.constantFrom('{', '{"a":', '[1,', '{"items": [}', '{}}', 'null', '"text"', '42', 'true', '\ufeff{}')
    )
    .filter((text) => {
      if (malformed(text)) return true;
      const parsed: unknown = text.length ? JSON.parse(text.replace(/^\ufeff/, '')) : {};
      return !contract.acceptsRequestBody(route.method, route.template, parsed);
    })
    .map((text): Body => ({ kind: 'raw', text }));
  return fc.oneof({ weight: 3, arbitrary: structured }, { weight: 1, arbitrary: raw });
}

interface FuzzRequest {
  faults: Fault[];
  path: string;
  headers: Record<string, string>;
  rawBody?: string;
  expected: number;
}

function requestFor(contract: Contract, world: World, route: Route): fc.Arbitrary<FuzzRequest> {
  const possible: Fault[] = [
    ...(route.template === '/v1/orders' ? (['owner'] as const) : []),
    'auth',
    'role',
    'key',
    ...(route.body ? (['contentType', 'body'] as const) : []),
    ...(route.idKind ? (['id'] as const) : []),
  ];
  const forbidden = (['customer', 'operator', 'service', 'serviceKey'] as const).filter(
    (role) => !route.roles.includes(role === 'serviceKey' ? 'service' : role)
  );
  const allowed = (['customer', 'operator', 'service', 'serviceKey'] as const).filter((role) =>
    route.roles.includes(role === 'serviceKey' ? 'service' : role)
  );
  const realId = route.idKind
    ? { order: world.orderId, product: world.productId, shipment: world.shipmentId }[route.idKind]
    : '';
  return fc
    .record({
      faults: fc.subarray(possible, { minLength: 1 }),
      badCredential: fc.constantFrom(...world.badCredentials),
      garbageCredential: fc.oneof(
        headerText.map((text) => ({ authorization: text })),
        headerText.map((text) => ({ authorization: `Bearer ${text}` })),
        headerText.filter((text) => text !== SERVICE_API_KEY).map((text) => ({ 'x-api-key': text }))
      ),
      useGarbage: fc.boolean(),
      wrongRole: fc.constantFrom(...forbidden),
      rightRole: fc.constantFrom(...allowed),
      contentType: fc.constantFrom(...NON_JSON_TYPES),
      body: route.body ? badBody(contract, route) : fc.constant(undefined),
      key: badKey,
      goodKey: fc.option(
        fc.uuid().map((id) => `fuzz-${id}`),
        { nil: undefined }
      ),
      id: badId,
      goodId: fc.oneof(fc.constant(realId), fc.uuid()),
    })
    .map((g): FuzzRequest => {
      const has = (fault: Fault) => g.faults.includes(fault);
      const credentials = has('auth')
        ? g.useGarbage
          ? g.garbageCredential
          : g.badCredential
        : has('role')
          ? world.credentials[g.wrongRole]
          : has('owner')
            ? world.credentials.stranger
            : world.credentials[g.rightRole];
      const key = has('key') ? g.key : g.goodKey;
      const id = has('id') ? g.id : g.goodId;
      const path = route.template.replace(/\{\w+\}/, id);
      let rawBody: string | undefined;
      let contentType = 'application/json';
      if (route.body) {
        const body = has('body') ? g.body! : ({ kind: 'json', value: route.body() } as Body);
        rawBody = body.kind === 'json' ? JSON.stringify(body.value) : body.text;
        if (has('contentType')) {
          contentType = g.contentType;
          // A non-JSON type with an empty body would be "no body" (422), not a wrong media type.
          if (rawBody.length === 0) rawBody = JSON.stringify(route.body());
        }
      }
      // Strict JSON parsing refuses malformed text and top-level scalars alike (400). A customer ordering for
      // someone else is told so only once the body is known to be valid.
      const expected = has('auth')
        ? 401
        : has('role')
          ? 403
          : has('contentType')
            ? 415
            : has('body') && malformed(rawBody!)
              ? 400
              : has('body') || has('key') || has('id')
                ? 422
                : 403;
      return {
        faults: g.faults,
        path,
        headers: {
          ...credentials,
          ...(route.body ? { 'content-type': contentType } : {}),
          ...(key !== undefined ? { 'idempotency-key': key } : {}),
        },
        ...(rawBody !== undefined ? { rawBody } : {}),
        expected,
      };
    });
}

describe('property: invalid requests to mutating routes are refused without side effects', () => {
  let database: Awaited<ReturnType<typeof isolatedDatabase>>;
  let system: TestSystem;
  let contract: Contract;
  let world: World;
  let before: Record<string, number>;

  beforeAll(async () => {
    // A database of its own: other test files write to the shared one while this one counts rows.
    database = await isolatedDatabase('fuzz');
    system = await startSystem({ config: { DATABASE_URL: database.url } });
    contract = await contractOf(system);
    const product = await createProduct(system, 50);
    const customerId = randomUUID();
    const customerToken = await system.tokens.customer(customerId);
    const placed = await api<{ orderId: string }>(system, 'POST', '/v1/orders', {
      token: customerToken,
      body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
    });
    const order = await eventually(async () => {
      const { body } = await api<{ stage: string; shipment: { shipmentId: string } | null }>(
        system,
        'GET',
        `/v1/orders/${placed.body.orderId}`,
        { token: customerToken }
      );
      return body.stage === 'FULFILLING' ? body : undefined;
    });
    const now = Math.floor(Date.now() / 1000);
    world = {
      customerId,
      orderId: placed.body.orderId,
      productId: product.id,
      shipmentId: order.shipment!.shipmentId,
      credentials: {
        customer: { authorization: `Bearer ${customerToken}` },
        operator: { authorization: `Bearer ${system.tokens.operator}` },
        service: { authorization: `Bearer ${system.tokens.service}` },
        serviceKey: { 'x-api-key': SERVICE_API_KEY },
        // A customer other than the one in the generated order bodies.
        stranger: { authorization: `Bearer ${await system.tokens.customer(randomUUID())}` },
      },
      badCredentials: [
        {},
        {
          authorization: `Bearer ${await signToken({ role: 'operator', secret: 'wrong-secret-wrong-secret-wrong-secret' })}`,
        },
        { authorization: `Bearer ${await signToken({ role: 'operator', expiresAt: now - 1 })}` },
        { authorization: `Bearer ${await signToken({ role: 'operator', audience: 'someone-else' })}` },
        { authorization: `Bearer ${await signToken({ role: 'operator', issuer: 'someone-else' })}` },
        { authorization: `Bearer ${await signToken({ role: 'root' })}` },
        { authorization: `Bearer ${unsignedToken()}` },
        { authorization: `Basic ${Buffer.from('operator:operator').toString('base64')}` },
        { authorization: `bearer${system.tokens.operator}` },
        { 'x-api-key': `${SERVICE_API_KEY}x` },
        { 'x-api-key': '' },
      ],
    };
    // The seeded order has settled: nothing writes from here on unless a request gets through.
    before = await eventually(async () => {
      const first = await rowCounts(system.resources.db);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const second = await rowCounts(system.resources.db);
      return JSON.stringify(first) === JSON.stringify(second) ? second : undefined;
    });
  });

  afterAll(async () => {
    await system?.stop();
    await database?.drop();
  });

  const seen = new Map<string, number>();

  it.each([
    'POST /v1/orders',
    'PATCH /v1/orders/{orderId}',
    'POST /v1/orders/{orderId}/amendments',
    'POST /v1/orders/{orderId}/cancel',
    'POST /v1/products',
    'POST /v1/inventory',
    'PUT /v1/inventory/{productId}',
    'DELETE /v1/inventory/{productId}',
    'PUT /v1/shipments/{shipmentId}/status',
  ])('%s answers only the expected 4xx problem', async (name) => {
    const route = routes(world).find((r) => `${r.method} ${r.template}` === name)!;
    await fc.assert(
      fc.asyncProperty(requestFor(contract, world, route), async (request) => {
        const result: HttpResult<unknown> = await api(system, route.method, request.path, {
          headers: request.headers,
          ...(request.rawBody !== undefined ? { rawBody: request.rawBody } : {}),
        });
        expect(result.status, JSON.stringify({ request, body: result.body })).toBe(request.expected);
        expect(result.headers.get('content-type')).toMatch(/^application\/problem\+json/);
        expectNoInternals(result);
        seen.set(`${route.method} ${result.status}`, (seen.get(`${route.method} ${result.status}`) ?? 0) + 1);
      }),
      { numRuns: RUNS_PER_ROUTE }
    );
  });

  it('left every table as it was, and the seeded order untouched', async () => {
    expect(await rowCounts(system.resources.db)).toEqual(before);
    const order = await system.resources.db.order.findUniqueOrThrow({ where: { id: world.orderId } });
    expect({ stage: order.stage, revision: order.revision }).toEqual({ stage: 'FULFILLING', revision: 1 });
    // Every kind of refusal was exercised.
    const statuses = new Set([...seen.keys()].map((key) => Number(key.split(' ')[1])));
    expect([...statuses].sort()).toEqual([400, 401, 403, 415, 422]);
    expect(seen.get('POST 403')).toBeGreaterThan(0);
  });
});
