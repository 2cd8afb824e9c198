import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { Db } from '../db/client.js';
import type { ServiceMetrics } from './metrics.js';

/** The activities that undo a step; their failures are what a compensation-failing alert watches. */
const COMPENSATIONS = new Set(['releaseStock', 'voidPayment', 'refundPayment', 'cancelShipment']);

/**
 * Counts activity failures (compensations separately) and, when an order is confirmed, observes how long it took
 * since the order was created. The created time is read from the row: it survives worker restarts and retries.
 */
export function activityMetrics(metrics: ServiceMetrics, db: Db): ActivityInterceptorsFactory {
  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const activity = ctx.info.activityType;
        try {
          const result = await next(input);
          if (activity === 'confirmOrder') {
            const orderId = (input.args[0] as { orderId?: string } | undefined)?.orderId;
            const order = orderId
              ? await db.order.findUnique({ where: { id: orderId }, select: { createdAt: true } })
              : null;
            if (order) metrics.confirmation.observe((Date.now() - order.createdAt.getTime()) / 1_000);
          }
          return result;
        } catch (error) {
          metrics.activityFailures.inc({ activity });
          if (COMPENSATIONS.has(activity)) metrics.compensationFailures.inc({ activity });
          throw error;
        }
      },
    },
  });
}
