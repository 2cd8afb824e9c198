import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
    const balance = (await checkInvariants(system, observed)).find((result) =>
      result.name.startsWith('stock: on hand')
    );
    expect(balance?.violations).toEqual([
      `${product.id}: on hand 3, expected 5 [${orderId} committed 2, ordered 2, no capture]`,
    ]);
  });
});
