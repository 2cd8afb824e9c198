import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, orderBody, startSystem } from '../support/system.js';
import { gate } from '../saga/support.js';
import { api, expectProblem, newCustomer, startExtraApi } from './support.js';

type Order = Record<string, unknown> & { orderId: string; stage: string };

describe('cancel - bounded waits and honest answers', () => {
  const release = gate('releaseStock');
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem({ activities: release.wrap, config: { CANCEL_WAIT: '1s' } });
  });
  afterAll(async () => {
    release.open();
    await system?.stop();
  });

  const stageOf = async (orderId: string, token: string) =>
    (await api<Order>(system, 'GET', `/v1/orders/${orderId}`, { token })).body.stage;

  it('answers 202 + Location while compensations run past CANCEL_WAIT, 202 again while cancelling, 200 once done', async () => {
    const product = await createProduct(system, 5);
    const who = await newCustomer(system);
    const placed = await api<Order>(system, 'POST', '/v1/orders', {
      token: who.token,
      body: orderBody(who.id, [{ productId: product.id, quantity: 1 }]),
    });
    expect(placed.status).toBe(201);
    const path = `/v1/orders/${placed.body.orderId}/cancel`;
    const cancel = () =>
      api<Order>(system, 'POST', path, {
        token: who.token,
        body: {},
        headers: { 'idempotency-key': `cancel-${randomUUID()}` },
      });

    const first = await cancel();
    expect(first.status).toBe(202);
    expect(first.headers.get('location')).toBe(`/v1/orders/${placed.body.orderId}`);
    await eventually(async () => ((await stageOf(placed.body.orderId, who.token)) === 'CANCELLING' ? true : undefined));
    // Already cancelling: an honest "still running", not a refusal.
    expect((await cancel()).status).toBe(202);

    release.open();
    await eventually(async () => ((await stageOf(placed.body.orderId, who.token)) === 'CANCELLED' ? true : undefined));
    expect(await cancel()).toMatchObject({ status: 200, body: { stage: 'CANCELLED' } });
  });

  it('finds an order answered 202 (not persisted yet) through its workflow: 202, and no 404 is remembered', async () => {
    // A task queue nobody polls: the workflow exists, the order row never appears.
    const idle = await startExtraApi(system, {
      config: { ORDER_CREATE_WAIT: 200, TEMPORAL_TASK_QUEUE: `idle-${randomUUID()}` },
    });
    try {
      const product = await createProduct(system, 5);
      const who = await newCustomer(system);
      const placed = await api<Order>(idle.system, 'POST', '/v1/orders', {
        token: who.token,
        body: orderBody(who.id, [{ productId: product.id, quantity: 1 }]),
      });
      expect(placed.status).toBe(202);
      const key = `cancel-${randomUUID()}`;
      const cancel = () =>
        api(idle.system, 'POST', `/v1/orders/${placed.body.orderId}/cancel`, {
          token: who.token,
          body: {},
          headers: { 'idempotency-key': key },
        });
      expect((await cancel()).status).toBe(202);
      // The 202 is kept: the cancel the workflow has not taken yet is in its history, where a server restart cannot
      // lose it (an update not yet accepted lives only in the server's memory).
      const workflow = system.resources.temporal.workflow.getHandle(`order-${placed.body.orderId}`);
      const { events } = await workflow.fetchHistory();
      const signals = (events ?? []).flatMap(
        (event) => event.workflowExecutionSignaledEventAttributes?.signalName ?? []
      );
      expect(signals).toEqual(['cancelOrder']);
      const replay = await cancel();
      expect(replay.status).toBe(202);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      // Someone else's order stays hidden.
      const stranger = await newCustomer(system);
      expectProblem(
        await api(idle.system, 'POST', `/v1/orders/${placed.body.orderId}/cancel`, { token: stranger.token, body: {} }),
        404
      );
      await workflow.terminate('test done');
    } finally {
      await idle.close();
    }
  });
});
