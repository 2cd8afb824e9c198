import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RecoveryOutcome } from '../../src/workflows/messages.js';
import { recoverWorkflowId, shipmentUpdateSignal } from '../../src/workflows/messages.js';
import { listAttention } from '../../src/ops/attention.js';
import { reconcileOrders } from '../../src/worker/reconciler.js';
import type { TestSystem } from '../support/system.js';
import { createProduct, eventually, startSystem, stockOf } from '../support/system.js';
import { handle, openAuthorizations, orderRow, placeOrder, untilStage } from './support.js';

function reconcile(system: TestSystem) {
  return reconcileOrders({
    client: system.resources.temporal,
    db: system.resources.db,
    taskQueue: system.config.TEMPORAL_TASK_QUEUE,
  });
}

async function recovered(system: TestSystem, orderId: string): Promise<RecoveryOutcome> {
  return system.resources.temporal.workflow.getHandle(recoverWorkflowId(orderId)).result() as Promise<RecoveryOutcome>;
}

/** Every event the outbox holds about the order, whatever its aggregate (order, payment, stock, shipment). */
async function eventTypes(system: TestSystem, orderId: string): Promise<string[]> {
  const rows = await system.resources.db.$queryRaw<{ type: string }[]>`
    SELECT type FROM outbox WHERE envelope::text LIKE ${`%${orderId}%`} ORDER BY seq`;
  return rows.map((row) => row.type);
}

async function terminate(system: TestSystem, orderId: string) {
  await handle(system, orderId).terminate('operator terminated the order workflow');
}

describe('reconciler - orders whose workflow closed before a terminal stage', () => {
  it('cancels an order terminated while holding stock and an authorization: stock released, hold voided, flagged', async () => {
    const system = await startSystem();
    try {
      const product = await createProduct(system, 3, 900);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
      await untilStage(system, orderId, 'FULFILLING');
      expect(await stockOf(system, product.id)).toEqual({ onHand: 3, reserved: 2, available: 1 });
      await terminate(system, orderId);

      const pass = await reconcile(system);
      expect(pass.recovering).toContain(orderId);
      const outcome = await recovered(system, orderId);
      expect(outcome.action).toBe('cancelled');

      const row = await orderRow(system, orderId);
      expect(row.stage).toBe('CANCELLED');
      expect(row.cancellationReason).toBe('WORKFLOW_CLOSED');
      expect(row.needsAttention).toBe(true);
      const flagged = (await listAttention(system.resources.db, system.resources.temporal)).find(
        (order) => order.orderId === orderId
      );
      expect(flagged?.reason).toBe(outcome.reason);
      expect(outcome.reason).toContain('TERMINATED');
      expect(row.shipments.map((s) => s.status)).toEqual(['CANCELLED']);
      expect(await openAuthorizations(system, orderId)).toBe(0);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 3, reserved: 0, available: 3 });
      const types = await eventTypes(system, orderId);
      expect(types).toEqual(expect.arrayContaining(['OrderCancelled', 'PaymentVoided', 'CancelShipment']));
      await eventually(
        async () => {
          const [row] = await system.resources.db.$queryRaw<{ unpublished: bigint }[]>`
          SELECT count(*) AS unpublished FROM outbox
          WHERE published_at IS NULL AND envelope::text LIKE ${`%${orderId}%`}`;
          return row?.unpublished === 0n ? true : undefined;
        },
        20_000,
        'the recovery events to be published'
      );
    } finally {
      await system.stop();
    }
  });

  it('flags an order terminated after dispatch and keeps its capture', async () => {
    const system = await startSystem();
    try {
      const product = await createProduct(system, 2, 500);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await untilStage(system, orderId, 'FULFILLING');
      await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
      await untilStage(system, orderId, 'SHIPPED');
      await terminate(system, orderId);

      await reconcile(system);
      const outcome = await recovered(system, orderId);
      expect(outcome.action).toBe('flagged');

      const row = await orderRow(system, orderId);
      expect(row.stage).toBe('SHIPPED');
      expect(row.needsAttention).toBe(true);
      expect(row.payments.filter((p) => p.kind === 'CAPTURE' && p.status === 'SUCCEEDED')).toHaveLength(1);
      expect(row.payments.some((p) => p.kind === 'REFUND' || p.kind === 'VOID')).toBe(false);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 1, reserved: 0, available: 1 });
    } finally {
      await system.stop();
    }
  });

  it('changes nothing on a second pass', async () => {
    const system = await startSystem();
    try {
      const product = await createProduct(system, 2, 500);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await untilStage(system, orderId, 'FULFILLING');
      await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
      await untilStage(system, orderId, 'SHIPPED');
      await terminate(system, orderId);
      await reconcile(system);
      await recovered(system, orderId);
      const before = { row: await orderRow(system, orderId), events: await eventTypes(system, orderId) };

      const second = await reconcile(system);
      expect(second.recovering).not.toContain(orderId);
      expect(await orderRow(system, orderId)).toEqual(before.row);
      expect(await eventTypes(system, orderId)).toEqual(before.events);
    } finally {
      await system.stop();
    }
  });
});
