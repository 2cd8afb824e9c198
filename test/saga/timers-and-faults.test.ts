import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  getOrderQuery,
  restockNoticeSignal,
  retryCompensationUpdate,
  shipmentUpdateSignal,
} from '../../src/workflows/messages.js';
import type { ActivityMap } from '../support/system.js';
import { createProduct, eventually, http, startSystem, stockOf } from '../support/system.js';
import { expectReplays, handle, openAuthorizations, orderRow, placeOrder, untilStage } from './support.js';
import { adjustStock } from '../../src/inventory/adjust.js';

describe('order saga - timers', () => {
  it('re-authorizes once before the hold expires, then cancels with PAYMENT_FAILED when it nears expiry again', async () => {
    const system = await startSystem({ config: { AUTHORIZATION_HOLD: '4s', REAUTHORIZE_BEFORE: '2s' } });
    try {
      const product = await createProduct(system, 2, 700);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await untilStage(system, orderId, 'FULFILLING');
      const renewed = await eventually(async () => {
        const view = await handle(system, orderId).query(getOrderQuery);
        return view.payment?.reauthorized ? view : undefined;
      });
      expect(renewed.stage).toBe('FULFILLING');
      const view = await untilStage(system, orderId, 'CANCELLED', 20_000);
      expect(view.cancellationReason).toBe('PAYMENT_FAILED');
      const row = await orderRow(system, orderId);
      expect(row.payments.map((p) => p.kind)).toEqual(['AUTHORIZATION', 'AUTHORIZATION', 'VOID', 'VOID']);
      expect(await openAuthorizations(system, orderId)).toBe(0);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 2, reserved: 0, available: 2 });
      await expectReplays(system, orderId, 'authorization-expired');
    } finally {
      await system.stop();
    }
  });

  it('captures the renewed authorization when the parcel ships after a re-authorization', async () => {
    const system = await startSystem({ config: { AUTHORIZATION_HOLD: '3s', REAUTHORIZE_BEFORE: '2s' } });
    try {
      const product = await createProduct(system, 2, 700);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      const renewed = await eventually(async () => {
        const view = await handle(system, orderId).query(getOrderQuery);
        return view.payment?.reauthorized ? view : undefined;
      });
      await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
      await untilStage(system, orderId, 'SHIPPED');
      const row = await orderRow(system, orderId);
      const capture = row.payments.find((p) => p.kind === 'CAPTURE');
      expect(capture?.authorizationId).toBe(renewed.payment?.paymentId);
    } finally {
      await system.stop();
    }
  });

  it('waits in BACKORDERED for a restock within the backorder window, then goes on', async () => {
    const system = await startSystem({ config: { BACKORDER_WINDOW: '30s' } });
    try {
      const product = await createProduct(system, 1);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 3 }]);
      await untilStage(system, orderId, 'BACKORDERED');
      await adjustStock(system.resources.db, system.resources.outbox, {
        productId: product.id,
        warehouseId: 'WH-TEST',
        quantityChange: 5,
        adjustmentId: randomUUID(),
        causationId: 'test-restock',
      });
      await handle(system, orderId).signal(restockNoticeSignal, { productId: product.id });
      await untilStage(system, orderId, 'FULFILLING');
      expect(await stockOf(system, product.id)).toEqual({ onHand: 6, reserved: 3, available: 3 });
      await expectReplays(system, orderId, 'backordered-then-restocked');
    } finally {
      await system.stop();
    }
  });

  it('gives up with OUT_OF_STOCK when the backorder window closes without enough stock', async () => {
    const system = await startSystem({ config: { BACKORDER_WINDOW: '2s' } });
    try {
      const product = await createProduct(system, 0);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await untilStage(system, orderId, 'BACKORDERED');
      const view = await untilStage(system, orderId, 'CANCELLED');
      expect(view.cancellationReason).toBe('OUT_OF_STOCK');
    } finally {
      await system.stop();
    }
  });

  it('wakes backordered orders when stock is added through the API', async () => {
    const system = await startSystem({ config: { BACKORDER_WINDOW: '30s' } });
    try {
      const product = await createProduct(system, 0);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
      await untilStage(system, orderId, 'BACKORDERED');
      const added = await http(system, 'POST', '/v1/inventory', {
        token: system.tokens.operator,
        body: { productId: product.id, quantity: 2, warehouseId: 'WH-TEST' },
      });
      expect(added.status).toBe(201);
      await untilStage(system, orderId, 'FULFILLING');
    } finally {
      await system.stop();
    }
  });
});

describe('order saga - faults', () => {
  it('flags a compensation that keeps failing for operators, and finishes it after the operator retries', async () => {
    let failuresLeft = 2;
    const flaky = (real: ActivityMap): ActivityMap => ({
      ...real,
      releaseStock: async (input) => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          throw ApplicationFailure.retryable('inventory database is read-only', 'InventoryUnavailable');
        }
        return real.releaseStock(input);
      },
    });
    const system = await startSystem({ activities: flaky, config: { COMPENSATION_MAX_ATTEMPTS: '2' } });
    try {
      const product = await createProduct(system, 3);
      const { orderId, token } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
      await untilStage(system, orderId, 'FULFILLING');
      const cancelling = http(system, 'POST', `/v1/orders/${orderId}/cancel`, {
        token,
        body: { reason: 'CUSTOMER_REQUESTED' },
      });

      const flagged = await eventually(async () => {
        const view = await handle(system, orderId).query(getOrderQuery);
        return view.needsAttention ? view : undefined;
      });
      expect(flagged.stage).toBe('CANCELLING');
      expect(flagged.attentionReason).toMatch(/release-stock/);
      expect((await orderRow(system, orderId)).needsAttention).toBe(true);
      const listed = await eventually(async () => {
        for await (const wf of system.resources.temporal.workflow.list({
          query: `NeedsAttention = true AND OrderStage = 'CANCELLING'`,
        })) {
          if (wf.workflowId === `order-${orderId}`) return wf.workflowId;
        }
        return undefined;
      });
      expect(listed).toBe(`order-${orderId}`);
      // Nothing was swallowed: the stock is still held until the compensation really runs.
      expect(await stockOf(system, product.id)).toMatchObject({ reserved: 2 });

      await handle(system, orderId).executeUpdate(retryCompensationUpdate, { args: [{ requestId: 'operator-1' }] });
      expect((await cancelling).status).toBe(200);
      const view = await untilStage(system, orderId, 'CANCELLED');
      expect(view.needsAttention).toBe(false);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 3, reserved: 0, available: 3 });
      expect(await openAuthorizations(system, orderId)).toBe(0);
      await expectReplays(system, orderId, 'compensation-needed-operator');
    } finally {
      await system.stop();
    }
  });

  it('completes the order although every notification channel keeps failing', async () => {
    const mute = (real: ActivityMap): ActivityMap => ({
      ...real,
      notifyCustomer: () =>
        Promise.reject(ApplicationFailure.retryable('SMTP relay refused the connection', 'NotificationFailed')),
    });
    const system = await startSystem({ activities: mute });
    try {
      const product = await createProduct(system, 1);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 1 }]);
      await untilStage(system, orderId, 'FULFILLING');
      await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'delivered' });
      await untilStage(system, orderId, 'COMPLETED');
    } finally {
      await system.stop();
    }
  });

  it('finishes the saga on a second worker after the first is stopped mid-saga (no workflow cache)', async () => {
    const system = await startSystem({ worker: { maxCachedWorkflows: 0 } });
    try {
      const product = await createProduct(system, 4, 900);
      const { orderId } = await placeOrder(system, [{ productId: product.id, quantity: 2 }]);
      await untilStage(system, orderId, 'FULFILLING');
      await system.stopWorkers();
      await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'shipped' });
      // The second worker has nothing cached: it rebuilds the order from history, then carries on.
      await system.startWorker({ maxCachedWorkflows: 0 });
      await untilStage(system, orderId, 'SHIPPED');
      await handle(system, orderId).signal(shipmentUpdateSignal, { eventId: randomUUID(), status: 'delivered' });
      await untilStage(system, orderId, 'COMPLETED');
      const row = await orderRow(system, orderId);
      expect(row.payments.map((p) => `${p.kind}:${p.amount}`)).toEqual(['AUTHORIZATION:1800', 'CAPTURE:1800']);
      expect(await stockOf(system, product.id)).toEqual({ onHand: 2, reserved: 0, available: 2 });
      await expectReplays(system, orderId, 'worker-restarted');
    } finally {
      await system.stop();
    }
  });
});
