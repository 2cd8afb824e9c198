import { randomUUID } from 'node:crypto';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parkMessage } from '../../src/events/inbox.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, http, orderBody, startSystem } from '../support/system.js';

async function scrape(system: TestSystem) {
  const response = await fetch(system.metricsUrl);
  expect(response.status).toBe(200);
  const families = parsePrometheusTextFormat(await response.text());
  return (name: string) => families.find((family) => family.name === name);
}

describe('Prometheus metrics', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('report an order through its stages, its confirmation latency, the relay and parked messages', async () => {
    const product = await createProduct(system, 3);
    const customerId = randomUUID();
    const placed = await http(system, 'POST', '/v1/orders', {
      token: await system.tokens.customer(customerId),
      body: orderBody(customerId, [{ productId: product.id, quantity: 1 }]),
    });
    expect(placed.status).toBe(201);
    const consumer = `metrics-test-${randomUUID()}`;
    await parkMessage(system.resources.db, { consumer, subject: 'x', payload: '{}', reason: 'test' });

    const metric = await eventually(async () => {
      const found = await scrape(system);
      const published = found('flowmart_outbox_publish_total')?.metrics.find(
        (sample) => sample.labels?.type === 'OrderConfirmed' && sample.labels.outcome === 'published'
      );
      return published ? found : undefined;
    });
    expect(metric('flowmart_orders')?.type).toBe('GAUGE');
    const stages = metric('flowmart_orders')!.metrics.map((sample) => sample.labels?.stage);
    // Confirmed, and by now perhaps already sent to fulfilment.
    expect(stages.some((stage) => stage === 'CONFIRMED' || stage === 'FULFILLING')).toBe(true);
    const confirmation = metric('flowmart_order_confirmation_seconds');
    expect(confirmation?.type).toBe('HISTOGRAM');
    expect(Number(confirmation!.metrics[0]!.count)).toBeGreaterThanOrEqual(1);
    expect(metric('flowmart_parked_messages')!.metrics).toContainEqual({ labels: { consumer }, value: '1' });
    expect(Number(metric('flowmart_outbox_lag_seconds')!.metrics[0]!.value)).toBeGreaterThanOrEqual(0);
    expect(metric('flowmart_orders_needing_attention')?.type).toBe('GAUGE');
    expect(metric('http_request_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(metric('process_cpu_seconds_total')?.type).toBe('COUNTER');
  });
});
