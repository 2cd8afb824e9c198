import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commit, hold, stockStepEvents } from '../../src/inventory/holds.js';
import { shipmentUpdateSignal } from '../../src/workflows/messages.js';
import type { Observed } from '../support/invariants.js';
import { checkInvariants } from '../support/invariants.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, startSystem } from '../support/system.js';
import { handle, placeOrder, untilStage } from '../saga/support.js';

describe('chaos invariants - the stock balance', () => {
  let system: TestSystem;
  beforeAll(async () => {
    system = await startSystem();
  });
  afterAll(async () => {
    await system?.stop();
  });

  async function balanceOf(observed: Observed) {
    const results = await checkInvariants(system, observed);
    return results.find((result) => result.name.startsWith('stock: on hand'))?.violations;
  }

  it('names the order whose units left the shelf without a capture', async () => {
    const product = await createProduct(system, 5);
    const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
    await untilStage(system, orderId, 'FULFILLING');
    await handle(system, orderId).terminate('test: its stock is committed by hand below');
    // What a dispatch does to the stock (commit), without the capture that comes before it in the saga.
    await system.resources.db.$transaction([
      system.resources.db.$executeRaw`
        UPDATE reservations SET status = 'COMMITTED' WHERE order_id = ${orderId}::uuid AND status = 'HELD'`,
      system.resources.db.$executeRaw`
        UPDATE inventory_items SET on_hand = on_hand - 2, reserved = reserved - 2 WHERE product_id = ${product.id}::uuid`,
    ]);

    const observed: Observed = { stockAdded: new Map([[product.id, 5]]), responses: [], orderIds: [orderId] };
    // Done by hand, the commit wrote no InventoryAdjusted event: the recorded changes say so too.
    expect(await balanceOf(observed)).toEqual([
      `${product.id}: on hand 3, expected 5 [${orderId} committed 2, ordered 2, no capture]` +
        ' [recorded: adjustments +5; on hand moved -2 with no recorded change]',
    ]);
  });

  it('names the order that took its units twice, although its COMMITTED rows match its line', async () => {
    const product = await createProduct(system, 5);
    const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
    await untilStage(system, orderId, 'FULFILLING');
    await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
    await untilStage(system, orderId, 'SHIPPED');
    await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'delivered' });
    await untilStage(system, orderId, 'COMPLETED');
    // A second hold and commit of the same order and product through the inventory code, as a stray step would do
    // them: the hold takes the COMMITTED row over again (HELD, then COMMITTED once more), so the rows show the line
    // once while on hand lost it twice.
    await system.resources.db.$transaction(async (tx) => {
      const step = { orderId, seq: 1_000_000, causationId: 'test: a second dispatch' };
      const held = await hold(tx, { orderId, lines: [{ productId: product.id, quantity: 2 }], holdMs: null });
      const committed = await commit(tx, orderId);
      await system.resources.outbox.append(tx, stockStepEvents([...held, ...committed], step));
    });

    const observed: Observed = { stockAdded: new Map([[product.id, 5]]), responses: [], orderIds: [orderId] };
    expect(await balanceOf(observed)).toEqual([
      `${product.id}: on hand 1, expected 3 [recorded: adjustments +5; ${orderId} took 4, counted 2 (ordered 2)]`,
    ]);
  });

  it('says when the driver counted stock that no adjustment added', async () => {
    const product = await createProduct(system, 5);
    const observed: Observed = { stockAdded: new Map([[product.id, 6]]), responses: [], orderIds: [] };
    expect(await balanceOf(observed)).toEqual([
      `${product.id}: on hand 5, expected 6 [recorded: adjustments +5 (driver counted +6)]`,
    ]);
  });
});
