import { describe, expect, it } from 'vitest';
import { releaseExpiredReservations } from '../../src/inventory/sweep.js';
import { createProduct, startSystem, stockOf } from '../support/system.js';
import { expectReplays, gate, orderRow, placeOrder, untilStage } from './support.js';

describe('order saga - reservation expiry', () => {
  it('the sweeper releases a lapsed hold, and the order takes the stock again before it confirms', async () => {
    const slowPayment = gate('authorizePayment');
    const system = await startSystem({ activities: slowPayment.wrap, config: { RESERVATION_HOLD: '1s' } });
    try {
      const product = await createProduct(system, 5);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
      await slowPayment.reached;
      expect(await stockOf(system, product.id)).toMatchObject({ reserved: 2 });

      expect(await releaseExpiredReservations(system.resources.db, new Date(Date.now() + 2_000))).toBe(1);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 5, reserved: 0, available: 5 });

      slowPayment.open();
      await untilStage(system, orderId, 'FULFILLING');
      expect(await stockOf(system, product.id)).toMatchObject({ reserved: 2 });
      // Confirmed orders keep their stock until dispatch: the sweeper never touches them.
      const row = await orderRow(system, orderId);
      expect(row.reservations.filter((r) => r.status === 'HELD').map((r) => r.expiresAt)).toEqual([null]);
      await expectReplays(system, orderId, 'hold-expired-then-retaken');
    } finally {
      slowPayment.open();
      await system.stop();
    }
  });
});
