import { ApplicationFailure, heartbeat } from '@temporalio/activity';
import type { Db } from '../db/client.js';
import { ActivityErrorType } from '../domain/failures.js';
import type { OutboxWriter } from '../events/outbox.js';
import type { ChannelAdapter, NotifyInput } from '../notifications/deliver.js';
import { notifyCustomer } from '../notifications/deliver.js';

export function createNotificationActivities(db: Db, outbox: OutboxWriter, adapters: ChannelAdapter[]) {
  return {
    /**
     * Sends on every channel and records each delivery. Once every channel was tried, a failed one fails the
     * activity so Temporal retries; the workflow never lets it fail the order.
     */
    async notifyCustomer(input: NotifyInput): Promise<{ sent: number; failed: number }> {
      // Providers can be slow; a heartbeat per channel lets Temporal notice a stuck delivery early.
      const result = await notifyCustomer(db, outbox, adapters, input, (channel) => heartbeat(channel));
      if (result.failed > 0) {
        throw ApplicationFailure.retryable(`${result.failed} channel(s) failed`, ActivityErrorType.NotificationFailed);
      }
      return result;
    },
  };
}
