import { Context } from '@temporalio/activity';
import type { Db } from '../db/client.js';
import { fencedStep } from '../events/fenced-step.js';
import type { OutboxWriter } from '../events/outbox.js';
import { createInventoryActivities } from './inventory.js';
import type { ChannelAdapter } from '../notifications/deliver.js';
import { recordingAdapter } from '../notifications/deliver.js';
import { createNotificationActivities } from './notifications.js';
import { createOrderActivities } from './orders.js';
import type { PaymentGateway } from '../payments/gateway.js';
import { createPaymentActivities } from './payments.js';
import { createReturnActivities } from './returns.js';
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
  const step = fencedStep(deps.db, deps.outbox, () => Context.current().info.activityType);
  return {
    ...createOrderActivities(deps.db, deps.outbox, step),
    ...createInventoryActivities(step),
    ...createPaymentActivities(deps.db, step, deps.gateway),
    ...createNotificationActivities(deps.db, deps.outbox, channels),
    ...createShippingActivities(step),
    ...createReturnActivities(deps.db, deps.outbox, deps.gateway),
  };
}

export type Activities = ReturnType<typeof createActivities>;
