import type { Client } from '@temporalio/client';
import type { Db } from '../../db/client.js';
import { CancellationReason } from '../../domain/order.js';
import { cancellableSubscriptionOrders } from '../../orders/queries.js';
import { cancelOrderSignal } from '../../workflows/messages.js';
import { processOnce } from '../inbox.js';
import { consumerName, inboundHandler } from './runner.js';
import { signalOrder } from './signal.js';

export const SUBSCRIPTIONS_CONSUMER = consumerName('subscriptions');

interface UserSubscriptionCancelledData {
  subscriptionId: string;
  userId: string;
}

/**
 * Catalog "Cancel Subscription" flow: the user's open orders placed under that subscription are cancelled as
 * requested by the customer. The event id is the cancellation's request id, so the workflow treats a second
 * delivery as the same request.
 */
export function subscriptionsConsumer(deps: { db: Db; temporal: Client }) {
  const types = ['UserSubscriptionCancelled'];
  return inboundHandler<UserSubscriptionCancelledData>('subscriptions', types, async (data, event, delivery) => {
    let cancelled = 0;
    const applied = await processOnce(deps.db, delivery.consumer, event.id, async (tx) => {
      const orders = await cancellableSubscriptionOrders(tx, {
        customerId: data.userId,
        subscriptionId: data.subscriptionId,
      });
      for (const order of orders) {
        const signalled = await signalOrder(deps.temporal, order.id, cancelOrderSignal, {
          requestId: event.id,
          reason: CancellationReason.CUSTOMER_REQUESTED,
        });
        if (signalled) cancelled += 1;
      }
    });
    if (applied) {
      delivery.logger.info(
        { eventId: event.id, subscriptionId: data.subscriptionId, userId: data.userId, orders: cancelled },
        'subscription cancelled: open orders asked to cancel'
      );
    }
    return applied ? 'applied' : 'duplicate';
  });
}
