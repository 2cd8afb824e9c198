import type { Db, Tx } from '../db/client.js';
import type { DomainEvent } from '../events/envelope.js';
import { uuidFromKey } from '../events/envelope.js';
import { Prisma } from '../generated/prisma/client.js';
import type { OutboxWriter } from '../events/outbox.js';
import type { Causation } from '../domain/causation.js';

export const NotificationChannel = { email: 'email', sms: 'sms', push: 'push' } as const;
export type NotificationChannel = (typeof NotificationChannel)[keyof typeof NotificationChannel];

export interface OutgoingMessage {
  userId: string;
  title: string;
  message: string;
}

/** One delivery channel. Real providers (SES, Twilio, FCM) implement this; the defaults only record. */
export interface ChannelAdapter {
  readonly channel: NotificationChannel;
  deliver(message: OutgoingMessage): Promise<void>;
}

export function recordingAdapter(channel: NotificationChannel): ChannelAdapter {
  return { channel, deliver: () => Promise.resolve() };
}

export interface NotifyInput extends Causation {
  orderId: string;
  customerId: string;
  template: 'order-confirmed' | 'order-cancelled' | 'order-shipped' | 'order-delivered';
  /** Stable per order and template so a retried delivery is recorded once. */
  idempotencyKey: string;
  details?: string;
}

const TITLES: Record<NotifyInput['template'], string> = {
  'order-confirmed': 'Your order is confirmed',
  'order-cancelled': 'Your order was cancelled',
  'order-shipped': 'Your order is on its way',
  'order-delivered': 'Your order was delivered',
};

/**
 * Sends on every channel not yet sent and records each delivery; a channel that fails is recorded as failed and
 * counted, so the caller can retry. `beforeChannel` runs before each attempt (the activity heartbeats there).
 */
export async function notifyCustomer(
  db: Db,
  outbox: OutboxWriter,
  adapters: readonly ChannelAdapter[],
  input: NotifyInput,
  beforeChannel: (channel: NotificationChannel) => void
): Promise<{ sent: number; failed: number }> {
  const title = TITLES[input.template];
  const message = `Order ${input.orderId}: ${title.toLowerCase()}.${input.details ? ` ${input.details}` : ''}`;
  const keyOf = (adapter: ChannelAdapter) => `${input.idempotencyKey}:${adapter.channel}`;
  // What an earlier attempt already sent, for every channel in one query (not one per channel).
  const sent = new Set(
    (
      await db.notification.findMany({
        where: { idempotencyKey: { in: adapters.map(keyOf) }, status: 'sent' },
        select: { idempotencyKey: true },
      })
    ).map((row) => row.idempotencyKey)
  );
  let failed = 0;
  const deliveries: Delivery[] = [];
  for (const adapter of adapters) {
    beforeChannel(adapter.channel);
    const key = keyOf(adapter);
    if (sent.has(key)) continue;
    let failureReason: string | null = null;
    try {
      await adapter.deliver({ userId: input.customerId, title, message });
    } catch (err) {
      failureReason = err instanceof Error ? err.message : String(err);
      failed += 1;
    }
    const status = failureReason ? 'failed' : 'sent';
    deliveries.push({ channel: adapter.channel, key, id: uuidFromKey(key), status, failureReason });
  }
  // Every channel's outcome in one transaction (one commit) rather than one per channel: a crash between the
  // deliveries and this record re-sends at most this attempt's channels on the retry, and delivery is at-least-once
  // anyway (a crash after a provider accepted a message and before any record always re-sent it).
  if (deliveries.length > 0) {
    await db.$transaction(async (tx) => {
      await recordDeliveries(tx, input, title, message, deliveries);
      await outbox.append(
        tx,
        deliveries.filter((delivery) => delivery.status === 'sent').map((delivery) => sentEvent(input, delivery))
      );
    });
  }
  return { sent: adapters.length, failed };
}

interface Delivery {
  channel: NotificationChannel;
  key: string;
  id: string;
  status: 'sent' | 'failed';
  failureReason: string | null;
}

/** One upsert for all channels: a channel failed before is updated with this attempt's outcome. */
async function recordDeliveries(
  tx: Tx,
  input: NotifyInput,
  title: string,
  message: string,
  deliveries: readonly Delivery[]
): Promise<void> {
  const createdAt = new Date();
  const rows = deliveries.map(
    ({ channel, key, id, status, failureReason }) =>
      Prisma.sql`(${id}::uuid, ${input.orderId}::uuid, ${input.customerId}::uuid, ${channel}, ${input.template},
        ${title}, ${message}, ${status}, ${failureReason}, ${key}, ${createdAt})`
  );
  await tx.$executeRaw`
    INSERT INTO notifications
      (id, order_id, user_id, channel, template, title, message, status, failure_reason, idempotency_key, created_at)
    VALUES ${Prisma.join(rows)}
    ON CONFLICT (idempotency_key) DO UPDATE SET status = EXCLUDED.status, failure_reason = EXCLUDED.failure_reason`;
}

function sentEvent(input: NotifyInput, { channel, key, id }: Delivery): DomainEvent {
  return {
    context: 'notifications',
    type: 'NotificationSent',
    version: '0.0.1',
    subject: input.orderId,
    idempotencyKey: `${key}:sent`,
    correlationId: input.orderId,
    causationId: input.causationId,
    ...(input.traceparent ? { traceparent: input.traceparent } : {}),
    data: {
      notificationId: id,
      userId: input.customerId,
      orderId: input.orderId,
      channel,
      template: input.template,
      status: 'sent',
      timestamp: new Date().toISOString(),
    },
  };
}
