import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestSystem } from '../support/system.js';
import { createProduct, orderBody, startSystem } from '../support/system.js';
import { untilStage } from '../saga/support.js';
import { api, expectProblem, newCustomer } from './support.js';

type Order = Record<string, unknown> & { orderId: string; revision: number; items: { quantity: number }[] };

describe('amend - a bounded wait for the workflow to take the change', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem({ config: { AMEND_WAIT: '1s' } });
  });
  afterAll(async () => {
    await system?.stop();
  });

  it('answers 503 + Retry-After while no worker takes the amendment, and applies it once when retried', async () => {
    const product = await createProduct(system, 10);
    const who = await newCustomer(system);
    const placed = await api<Order>(system, 'POST', '/v1/orders', {
      token: who.token,
      body: orderBody(who.id, [{ productId: product.id, quantity: 1 }]),
    });
    await untilStage(system, placed.body.orderId, 'FULFILLING');
    const key = `amend-${randomUUID()}`;
    const amendWithKey = () =>
      api<Order>(system, 'POST', `/v1/orders/${placed.body.orderId}/amendments`, {
        token: who.token,
        body: { items: [{ productId: product.id, quantity: 2 }] },
        headers: { 'idempotency-key': key },
      });

    await system.stopWorkers();
    let workersBack = false;
    try {
      const unanswered = await amendWithKey();
      expectProblem(unanswered, 503, 'SERVICE_UNAVAILABLE');
      expect(unanswered.headers.get('retry-after')).toMatch(/^\d+$/);
      await system.startWorker();
      workersBack = true;
    } finally {
      if (!workersBack) await system.startWorker();
    }

    // Retried with the same key as the 503 says (a restarted worker may take a moment): the change the server may still
    // have held is the same update, applied once.
    let retried = await amendWithKey();
    for (let attempt = 0; retried.status === 503 && attempt < 20; attempt++) retried = await amendWithKey();
    expect(retried.status).toBe(200);
    expect(retried.body.items.map((item) => item.quantity)).toEqual([2]);
    expect(retried.body.revision).toBe(2);
  }, 120_000);
});
