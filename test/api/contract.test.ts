import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestSystem } from '../support/system.js';
import { startSystem } from '../support/system.js';
import type { Contract } from './support.js';
import { api, contractOf } from './support.js';

/** SPEC section 3 and 6: every route with the statuses clients rely on. */
const SPEC_ROUTES: [method: string, path: string, statuses: number[]][] = [
  ['post', '/v1/orders', [201, 202, 400, 401, 403, 409, 413, 415, 422, 429, 503]],
  ['get', '/v1/orders', [200, 401, 422]],
  ['get', '/v1/orders/{orderId}', [200, 202, 404, 422]],
  ['patch', '/v1/orders/{orderId}', [200, 404, 409, 422]],
  ['post', '/v1/orders/{orderId}/amendments', [200, 404, 409, 422]],
  ['post', '/v1/orders/{orderId}/cancel', [200, 202, 404, 409, 422]],
  ['get', '/v1/orders/{orderId}/events', [200, 404]],
  ['get', '/v1/orders/{orderId}/payment', [200, 404]],
  ['post', '/v1/products', [201, 403, 409, 422]],
  ['get', '/v1/products', [200]],
  ['get', '/v1/products/{productId}', [200, 404]],
  ['post', '/v1/inventory', [201, 403, 404, 422]],
  ['put', '/v1/inventory/{productId}', [200, 404, 409, 422]],
  ['delete', '/v1/inventory/{productId}', [200, 404]],
  ['get', '/v1/inventory', [200]],
  ['get', '/v1/inventory/{productId}/status', [200, 404]],
  ['get', '/v1/users/{userId}/notifications', [200, 404]],
  ['get', '/v1/notifications/{notificationId}', [200, 404]],
  ['put', '/v1/shipments/{shipmentId}/status', [200, 403, 404, 409, 422]],
  ['get', '/healthz', [200]],
  ['get', '/readyz', [200, 503]],
  ['get', '/openapi.json', [200]],
  ['get', '/docs', [200]],
];

describe('the API contract', () => {
  let system: TestSystem;
  let contract: Contract;
  beforeAll(async () => {
    system = await startSystem();
    contract = await contractOf(system);
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('serves a valid OpenAPI 3.1 document', () => {
    // contractOf() validated it with @seriousme/openapi-schema-validator; a few facts clients depend on:
    expect(contract.document.openapi).toBe('3.1.0');
    const description = contract.document.info.description ?? '';
    for (const fact of ['ORDER_CREATE_WAIT', '202', 'Idempotency-Key', '422', 'IDEMPOTENCY_KEY_REUSED', 'AUTH=off']) {
      expect(description).toContain(fact);
    }
  });

  it.each(SPEC_ROUTES)('documents %s %s with its success and error statuses', (method, path, statuses) => {
    const operation = contract.operation(method, path);
    expect(operation, `${method} ${path}`).toBeDefined();
    expect(Object.keys(operation!.responses)).toEqual(expect.arrayContaining(statuses.map(String)));
    for (const [status, response] of Object.entries(operation!.responses)) {
      if (Number(status) >= 400 && path.startsWith('/v1/'))
        expect(Object.keys(response.content ?? {})).toEqual(['application/problem+json']);
    }
  });

  it('documents the Idempotency-Key header on every mutating route', () => {
    for (const [path, operations] of Object.entries(contract.document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        if (!['post', 'put', 'patch', 'delete'].includes(method)) continue;
        const parameters = (operation as { parameters?: { name: string; in: string }[] }).parameters ?? [];
        expect(
          parameters.some((p) => p.in === 'header' && p.name === 'Idempotency-Key'),
          `${method} ${path}`
        ).toBe(true);
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['409', '422']));
      }
    }
  });

  it('documents the order shapes of schemas.ts', () => {
    const { schemas } = contract.document.components;
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(['Order', 'OrderList', 'Problem', 'OrderAccepted']));
    expect(schemas.OrderList).toMatchObject({
      properties: {
        pagination: { required: ['totalItems', 'totalPages', 'currentPage', 'itemsPerPage'] },
      },
    });
    expect((schemas.Problem as { required: string[] }).required).toEqual(
      expect.arrayContaining(['type', 'title', 'status', 'detail', 'code', 'message', 'details'])
    );
  });

  it('has a response checker that catches undocumented statuses, fields and media types', () => {
    const headers = (type: string) => new Headers({ 'content-type': type });
    const problem = {
      type: 'urn:x',
      title: 'Not Found',
      status: 404,
      detail: 'd',
      instance: '/v1/orders/x',
      code: 'NOT_FOUND',
      message: 'd',
      details: [],
      errors: [],
    };
    const path = '/v1/orders/3fa85f64-5717-4562-b3fc-2c963f66afa6';
    expect(
      contract.problems('GET', path, { status: 404, headers: headers('application/problem+json'), body: problem })
    ).toEqual([]);
    expect(
      contract.problems('GET', path, {
        status: 404,
        headers: headers('application/problem+json'),
        body: { ...problem, stack: 'x' },
      })
    ).not.toEqual([]);
    expect(
      contract.problems('GET', path, { status: 404, headers: headers('application/json'), body: problem })
    ).not.toEqual([]);
    expect(
      contract.problems('GET', path, { status: 418, headers: headers('application/problem+json'), body: problem })
    ).not.toEqual([]);
    expect(
      contract.problems('GET', path, { status: 200, headers: headers('application/json'), body: { id: 1 } })
    ).not.toEqual([]);
    expect(contract.templateFor('GET', '/v1/inventory/abc/status')).toBe('/v1/inventory/{productId}/status');
    expect(contract.templateFor('GET', '/v1/orders?limit=2')).toBe('/v1/orders');
  });

  it('is live and ready when PostgreSQL, NATS and Temporal are reachable', async () => {
    const live = await api(system, 'GET', '/healthz');
    expect(live).toMatchObject({ status: 200, body: { status: 'ok' } });
    const ready = await api(system, 'GET', '/readyz');
    expect(ready).toMatchObject({
      status: 200,
      body: { status: 'ready', checks: { postgres: true, nats: true, temporal: true } },
    });
  });

  it('renders /docs as a self-contained HTML page listing every operation', async () => {
    const docs = await api<string>(system, 'GET', '/docs');
    expect(docs.status).toBe(200);
    expect(docs.headers.get('content-type')).toMatch(/^text\/html/);
    expect(docs.body).toMatch(/^<!doctype html>/);
    for (const operations of Object.values(contract.document.paths)) {
      for (const operation of Object.values(operations)) expect(docs.body).toContain(`id="${operation.operationId}"`);
    }
    expect(docs.body).not.toMatch(/<script/i);
  });

  it('exposes Prometheus metrics on the metrics port only, including request durations by route', async () => {
    await api(system, 'GET', '/v1/products', { token: system.tokens.operator });
    expect((await api(system, 'GET', '/metrics')).status).toBe(404);
    const response = await fetch(system.metricsUrl);
    const metrics = { status: response.status, headers: response.headers, body: await response.text() };
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(metrics.body).toContain('# TYPE http_request_duration_seconds histogram');
    expect(metrics.body).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/products",status="200"\} \d+/
    );
    expect(metrics.body).toContain('process_cpu_seconds_total');
  });
});
