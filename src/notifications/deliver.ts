import type { Db } from '../db/client.js';
import { uuidFromKey } from '../events/envelope.js';
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
  let failed = 0;
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
    const id = uuidFromKey(key);
    const status = failureReason ? 'failed' : 'sent';
    await db.$transaction(async (tx) => {
      await tx.notification.upsert({
        where: { idempotencyKey: key },
        create: {
          id,
          orderId: input.orderId,
          userId: input.customerId,
          channel: adapter.channel,
          template: input.template,
          title,
          message,
          status,
          failureReason,
          idempotencyKey: key,
        },
        update: { status, failureReason },
      });
      if (status === 'sent') {
        await outbox.append(tx, [
          {
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
              channel: adapter.channel,
              template: input.template,
              status: 'sent',
              timestamp: new Date().toISOString(),
            },
          },
        ]);
      }
    });
  }
  return { sent: adapters.length, failed };
}
