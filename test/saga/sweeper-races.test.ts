import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { releaseExpiredReservations } from '../../src/inventory/sweep.js';
import { createSimulatedGateway } from '../../src/payments/gateway.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, startSystem, stockOf } from '../support/system.js';
import { gate, handle, placeOrder } from './support.js';

/**
 * A sweep and a step meeting on the same reservations. The sweep is held in the middle of its transaction (it has
 * locked the lapsed reservations and waits for the stock row, which the test holds), the step starts, then the
 * sweep is let go: whatever order they finish in, the stock counts must stay true.
 */
describe('order saga - the reservation sweeper racing a step', () => {
  const payment = gate('authorizePayment');
  let system: TestSystem;
  let activities: ReturnType<typeof createActivities>;
  beforeAll(async () => {
    system = await startSystem({ activities: payment.wrap, config: { RESERVATION_HOLD: '1s' } });
    activities = createActivities({
      db: system.resources.db,
      outbox: system.resources.outbox,
      gateway: createSimulatedGateway(system.resources.db),
    });
  });
  afterAll(async () => {
    payment.open();
    await system?.stop();
  });

  /** Runs an activity as the worker would, in an activity context (its steps are fenced under its type). */
  const inActivity = <T>(activityType: string, run: () => Promise<T>): Promise<T> =>
    new MockActivityEnvironment({ activityType }).run(run);

  /** Backends of this test's database waiting for a row lock. */
  async function lockWaiters(): Promise<number> {
    const [row] = await system.resources.db.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock'`;
    return row!.n;
  }

  /** An order whose hold has lapsed, stopped before confirmation (its payment is gated). */
  async function orderWithLapsedHold(productId: string) {
    const { orderId } = await placeOrder(system, [{ productId, quantity: 2 }]);
    await eventually(async () =>
      (await system.resources.db.reservation.count({ where: { orderId, status: 'HELD' } })) === 1 ? true : undefined
    );
    return orderId;
  }

  /** Runs `step` while a sweep is half-way through expiring the lapsed holds; returns how the step ended. */
  async function raceWithSweep(productId: string, step: () => Promise<unknown>) {
    let releaseStockRow!: () => void;
    const stockRowHeld = new Promise<void>((resolve) => (releaseStockRow = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const holder = system.resources.db.$transaction(
      async (tx) => {
        await tx.$queryRaw`SELECT 1 FROM inventory_items WHERE product_id = ${productId}::uuid FOR UPDATE`;
        locked();
        await stockRowHeld;
      },
      { timeout: 60_000 }
    );
    await lockTaken;
    const sweep = releaseExpiredReservations(system.resources.db, new Date(Date.now() + 60_000));
    await eventually(async () => ((await lockWaiters()) >= 1 ? true : undefined));
    const stepDone = step().then(
      () => 'succeeded',
      (error: unknown) => (error as { type?: string }).type ?? String(error)
    );
    // The step either waits for the sweep's reservation locks or for the stock row; both show as lock waits.
    await eventually(async () => ((await lockWaiters()) >= 2 ? true : undefined));
    releaseStockRow();
    await holder;
    const swept = await sweep;
    return { swept, step: await stepDone };
  }

  it('confirmOrder does not confirm an order whose hold a concurrent sweep expired', async () => {
    const product = await createProduct(system, 5);
    const orderId = await orderWithLapsedHold(product.id);
    const outcome = await raceWithSweep(product.id, () =>
      inActivity('confirmOrder', () => activities.confirmOrder({ orderId, seq: 1_000, causationId: 'sweeper-race' }))
    );
    expect(outcome).toEqual({ swept: 1, step: 'ReservationExpired' });
    const row = await system.resources.db.order.findUniqueOrThrow({ where: { id: orderId } });
    expect(row.stage).not.toBe('CONFIRMED');
    expect(await stockOf(system, product.id)).toEqual({ onHand: 5, reserved: 0, available: 5 });
    await handle(system, orderId).terminate('test done');
  });

  it('releaseStock does not release units a concurrent sweep already released', async () => {
    const product = await createProduct(system, 5);
    const lapsed = await orderWithLapsedHold(product.id);
    const kept = await orderWithLapsedHold(product.id);
    // The second order's hold does not lapse (as if it had been confirmed).
    await system.resources.db.reservation.updateMany({ where: { orderId: kept }, data: { expiresAt: null } });
    const outcome = await raceWithSweep(product.id, () =>
      inActivity('releaseStock', () =>
        activities.releaseStock({ orderId: lapsed, seq: 1_000, causationId: 'sweeper-race' })
      )
    );
    expect(outcome).toEqual({ swept: 1, step: 'succeeded' });
    expect(await stockOf(system, product.id)).toEqual({ onHand: 5, reserved: 2, available: 3 });
    for (const orderId of [lapsed, kept]) await handle(system, orderId).terminate('test done');
  });
});
