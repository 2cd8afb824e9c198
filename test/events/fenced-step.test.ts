import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fencedStep } from '../../src/events/fenced-step.js';
import { createOutboxWriter } from '../../src/events/outbox.js';
import type { ScratchDatabase } from './support.js';
import { createScratchDatabase } from './support.js';

/**
 * The step fence on its own, against a database of its own: which attempts of an order's numbered steps apply.
 * A step applies by running its work; here the work records the step's name.
 */
describe('step fence', () => {
  let scratch: ScratchDatabase;
  beforeAll(async () => {
    scratch = await createScratchDatabase();
  });
  afterAll(async () => {
    await scratch?.drop();
  });

  /** An order whose steps up to `stepSeq` applied, the last by `stepKey` (null: before keys were kept). */
  async function orderAt(stepSeq: number, stepKey: string | null) {
    const orderId = randomUUID();
    await scratch.db.order.create({
      data: {
        id: orderId,
        customerId: randomUUID(),
        status: 'pending',
        stage: 'PENDING',
        currency: 'USD',
        totalAmount: 1000n,
        shippingAddress: {},
        paymentMethod: 'card',
        stepSeq,
        stepKey,
      },
    });
    const applied: string[] = [];
    /** Runs step `seq` as activity `key`; true if it applied. */
    const run = async (seq: number, key: string) => {
      const before = applied.length;
      await fencedStep(
        scratch.db,
        createOutboxWriter('fence'),
        () => key
      )({ orderId, seq, causationId: 'fence-test' }, () => {
        applied.push(`${seq}:${key}`);
        return Promise.resolve([]);
      });
      return applied.length > before;
    };
    return { orderId, run, applied };
  }

  it('applies a newer step once, and never one a later step overtook', async () => {
    const order = await orderAt(3, 'holdStock');
    expect(await order.run(4, 'authorizePayment')).toBe(true);
    expect(await order.run(4, 'authorizePayment')).toBe(false);
    expect(await order.run(3, 'holdStock')).toBe(false);
    expect(await order.run(2, 'createOrder')).toBe(false);
    expect(order.applied).toEqual(['4:authorizePayment']);
  });

  it('applies another step given the number a step of a lost workflow task took, then not again', async () => {
    // confirmOrder (a local activity) committed step 7; its workflow task was lost, and the retried task numbered an
    // amendment's holdStock 7 first.
    const order = await orderAt(7, 'confirmOrder');
    expect(await order.run(7, 'holdStock')).toBe(true);
    expect(await order.run(7, 'holdStock')).toBe(false);
    expect(await order.run(8, 'applyAmendment')).toBe(true);
    expect(await order.run(7, 'holdStock')).toBe(false);
    expect(order.applied).toEqual(['7:holdStock', '8:applyAmendment']);
    const row = await scratch.db.order.findUniqueOrThrow({ where: { id: order.orderId } });
    expect(row).toMatchObject({ stepSeq: 8, stepKey: 'applyAmendment' });
  });

  it('takes a step applied before keys were kept for the same step: its retry does not apply', async () => {
    const order = await orderAt(5, null);
    expect(await order.run(5, 'confirmOrder')).toBe(false);
    expect(await order.run(6, 'requestParcels')).toBe(true);
    expect(order.applied).toEqual(['6:requestParcels']);
  });
});
