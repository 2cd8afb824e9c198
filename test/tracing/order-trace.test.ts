import { randomUUID } from 'node:crypto';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-node';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ORDER_ID_ATTRIBUTE } from '../../src/tracing/spans.js';
import type { Tracing } from '../../src/tracing/tracing.js';
import { startTracing } from '../../src/tracing/tracing.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, http, orderBody, startSystem } from '../support/system.js';

describe('one trace per order (OpenTelemetry, in-memory exporter)', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  let system: TestSystem;
  beforeAll(async () => {
    // Registered in-process before the system starts; pg and http are patched in place (see src/tracing).
    tracing = startTracing('flowmart-test', new SimpleSpanProcessor(exporter));
    system = await startSystem({ tracing });
  }, 120_000);
  afterAll(async () => {
    await system?.stop();
    await tracing?.shutdown();
  });

  it('follows POST /v1/orders through the workflow, its activities and their SQL to the published events', async () => {
    const product = await createProduct(system, 5, 1500);
    const customerId = randomUUID();
    const placed = await http(system, 'POST', '/v1/orders', {
      token: await system.tokens.customer(customerId),
      body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
    });
    expect(placed.status).toBe(201);
    const orderId = placed.body.orderId as string;

    // The workflow's own span ends with the workflow: ship and deliver the order so that it completes.
    const token = system.tokens.operator;
    const fulfilling = await eventually(
      async () => {
        const { body } = await http(system, 'GET', `/v1/orders/${orderId}`, { token });
        return body.stage === 'FULFILLING' ? body : undefined;
      },
      20_000,
      'the order to be confirmed'
    );
    const shipmentId = (fulfilling.shipment as { shipmentId: string }).shipmentId;
    for (const status of ['shipped', 'delivered']) {
      const update = await http(system, 'PUT', `/v1/shipments/${shipmentId}/status`, {
        token: system.tokens.service,
        body: { status },
      });
      expect(update.status).toBe(200);
    }
    const spans = await eventually(
      () => {
        const finished = exporter.getFinishedSpans();
        const request = finished.find(
          (span) => span.name === 'POST /v1/orders' && span.attributes[ORDER_ID_ATTRIBUTE] === orderId
        );
        const ran = finished.some(
          (span) =>
            span.name === 'RunWorkflow:OrderWorkflow' && span.spanContext().traceId === request?.spanContext().traceId
        );
        const confirmed = finished.some(
          (span) =>
            span.attributes[ORDER_ID_ATTRIBUTE] === orderId &&
            String(span.attributes['cloudevents.event_type']).endsWith('OrderConfirmed')
        );
        return Promise.resolve(ran && confirmed ? finished : undefined);
      },
      // The relay's publish comes after confirmation: generous for a loaded CI machine.
      45_000,
      'the workflow to complete and OrderConfirmed to be published'
    );

    const root = spans.find(
      (span) => span.name === 'POST /v1/orders' && span.attributes[ORDER_ID_ATTRIBUTE] === orderId
    );
    expect(root, 'the API request span').toBeDefined();
    const traceId = root!.spanContext().traceId;
    const inTrace = spans.filter((span) => span.spanContext().traceId === traceId);
    const byId = new Map(inTrace.map((span) => [span.spanContext().spanId, span]));
    const parentOf = (span: ReadableSpan) => (span.parentSpanId ? byId.get(span.parentSpanId) : undefined);
    const ancestors = (span: ReadableSpan): string[] => {
      const names: string[] = [];
      for (let at = parentOf(span); at; at = parentOf(at)) names.push(at.name);
      return names;
    };

    // The workflow start is the request's child; the workflow run continues the start.
    const start = inTrace.find((span) => span.name === 'StartWorkflow:OrderWorkflow');
    expect(start && parentOf(start)?.name).toBe('POST /v1/orders');
    expect(String(start?.attributes['temporalWorkflowId'])).toContain(orderId);
    const run = inTrace.find((span) => span.name === 'RunWorkflow:OrderWorkflow');
    expect(run && ancestors(run)).toContain('StartWorkflow:OrderWorkflow');

    // Every activity runs under the workflow run, and its SQL under the activity.
    const activities = inTrace.filter((span) => span.name.startsWith('RunActivity:'));
    expect(activities.length).toBeGreaterThanOrEqual(3);
    for (const activity of activities)
      expect(ancestors(activity), activity.name).toContain('RunWorkflow:OrderWorkflow');
    expect(activities.map((span) => span.name)).toEqual(
      expect.arrayContaining(['RunActivity:createOrder', 'RunActivity:holdStock', 'RunActivity:authorizePayment'])
    );
    const sqlUnderActivity = inTrace.filter(
      (span) =>
        span.attributes['db.system'] === 'postgresql' && ancestors(span).some((name) => name.startsWith('RunActivity:'))
    );
    expect(sqlUnderActivity.length).toBeGreaterThan(0);
    expect(
      sqlUnderActivity.some((span) =>
        /insert into "?public"?\."?outbox|INSERT INTO .*outbox/i.test(String(span.attributes['db.statement']))
      )
    ).toBe(true);

    // The relay's publish continues the order's trace from the outbox row's traceparent.
    const publishes = inTrace.filter(
      (span) => span.name.startsWith('publish ') && span.attributes[ORDER_ID_ATTRIBUTE] === orderId
    );
    expect(publishes.length).toBeGreaterThan(0);
    for (const publish of publishes) expect(publish.parentSpanId, publish.name).toBe(root!.spanContext().spanId);
  }, 90_000);
});
