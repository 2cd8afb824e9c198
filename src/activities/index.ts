import type { Db } from '../db/client.js';
import type { OutboxWriter } from '../events/outbox.js';
import { createInventoryActivities } from './inventory.js';
import type { ChannelAdapter } from './notifications.js';
import { createNotificationActivities, recordingAdapter } from './notifications.js';
import { createOrderActivities } from './orders.js';
import type { PaymentGateway } from './payment-gateway.js';
import { createPaymentActivities } from './payments.js';
import { createShippingActivities } from './shipping.js';

export interface ActivityDeps {
  db: Db;
  outbox: OutboxWriter;
  gateway: PaymentGateway;
  channels?: ChannelAdapter[];
}

/** All activities of the saga, one group per bounded context, wired to their dependencies. */
export function createActivities(deps: ActivityDeps) {
  const channels = deps.channels ?? [recordingAdapter('email'), recordingAdapter('sms'), recordingAdapter('push')];
  return {
    ...createOrderActivities(deps.db, deps.outbox),
    ...createInventoryActivities(deps.db, deps.outbox),
    ...createPaymentActivities(deps.db, deps.outbox, deps.gateway),
    ...createNotificationActivities(deps.db, deps.outbox, channels),
    ...createShippingActivities(deps.db, deps.outbox),
  };
}

export type Activities = ReturnType<typeof createActivities>;
