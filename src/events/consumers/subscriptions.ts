import type { Client } from '@temporalio/client';
import type { Db } from '../../db/client.js';
import { CANCELLABLE_STAGES, CancellationReason } from '../../domain/order.js';
import { cancelOrderSignal } from '../../workflows/messages.js';
import type { CloudEvent } from '../envelope.js';
import { processOnce } from '../inbox.js';
import type { InboundHandler } from './runner.js';
import { signalOrder } from './signal.js';

export const SUBSCRIPTIONS_CONSUMER = 'orders-service-subscriptions';

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
  const handler: InboundHandler = {
    name: SUBSCRIPTIONS_CONSUMER,
    context: 'subscriptions',
    types: ['UserSubscriptionCancelled'],
    async handle(event: CloudEvent, delivery) {
      const data = event.data as UserSubscriptionCancelledData;
      let cancelled = 0;
      const applied = await processOnce(deps.db, delivery.consumer, event.id, async (tx) => {
        const orders = await tx.order.findMany({
          where: {
            customerId: data.userId,
            subscriptionId: data.subscriptionId,
            status: { in: ['pending', 'processing'] },
            stage: { in: [...CANCELLABLE_STAGES] },
          },
          select: { id: true },
          orderBy: { createdAt: 'asc' },
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
    },
  };
  return handler;
}
