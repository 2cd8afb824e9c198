import type { Client } from '@temporalio/client';
import { adjustStock, InsufficientStockError } from '../../inventory/adjust.js';
import type { Db } from '../../db/client.js';
import { wakeBackorderedOrders } from '../../orders/workflow-commands.js';
import { AlreadyProcessedError, claimInbox, inboxClaimingOutbox, isProcessed } from '../inbox.js';
import type { OutboxWriter } from '../outbox.js';
import { consumerName, inboundHandler, PoisonMessageError } from './runner.js';

export const INVENTORY_CONSUMER = consumerName('inventory');

interface InventoryAdjustedData {
  productId: string;
  warehouseId: string;
  quantityChange: number;
  reason?: string;
}

/**
 * Stock changes reported by external inventory systems (restocks, counts, write-offs). The change is applied
 * through `adjustStock` with the event id as adjustment id, and the inbox row is written in that same
 * transaction; then backordered orders waiting for the product are woken.
 */
export function inventoryConsumer(deps: { db: Db; outbox: OutboxWriter; temporal: Client }) {
  return inboundHandler<InventoryAdjustedData>('inventory', ['InventoryAdjusted'], async (data, event, delivery) => {
    let applied = false;
    if (!(await isProcessed(deps.db, delivery.consumer, event.id))) {
      const product = await deps.db.product.findUnique({ where: { id: data.productId }, select: { id: true } });
      if (!product) throw new PoisonMessageError(`unknown product ${data.productId}`);
      const inbox = inboxClaimingOutbox(deps.outbox, delivery.consumer, event.id);
      try {
        await adjustStock(deps.db, inbox.writer, {
          productId: data.productId,
          warehouseId: data.warehouseId,
          quantityChange: data.quantityChange,
          adjustmentId: event.id,
          causationId: event.id,
          ...(data.reason ? { reason: data.reason } : {}),
          ...(event.traceparent ? { traceparent: event.traceparent } : {}),
        });
        applied = true;
      } catch (error) {
        if (error instanceof InsufficientStockError) throw new PoisonMessageError(error.message);
        if (!(error instanceof AlreadyProcessedError)) throw error;
      }
      // adjustStock always reports its change through the outbox; if that ever stops, still record the event.
      if (applied && !inbox.claimed()) {
        delivery.logger.error({ eventId: event.id }, 'stock adjusted without an inbox claim; recording it now');
        await deps.db.$transaction((tx) => claimInbox(tx, delivery.consumer, event.id));
      }
    }
    // Waking orders is idempotent (they re-check stock) and happens after the commit, so it is repeated on a
    // redelivery too: the previous attempt may have died between the two.
    if (data.quantityChange > 0 && (applied || delivery.redelivered))
      await wakeBackorderedOrders(deps.db, deps.temporal, data.productId);
    return applied ? 'applied' : 'duplicate';
  });
}
