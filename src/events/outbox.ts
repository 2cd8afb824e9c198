import type { Tx } from '../db/client.js';
import { toJson } from '../db/json.js';
import type { DomainEvent } from './envelope.js';
import { toEnvelope } from './envelope.js';

/** Subject naming is the caller's: the writer only needs the env to place each context on its channel. */
export interface OutboxWriter {
  append(tx: Tx, events: readonly DomainEvent[]): Promise<void>;
}

export function createOutboxWriter(eventsEnv: string): OutboxWriter {
  return {
    async append(tx, events) {
      if (events.length === 0) return;
      const now = new Date();
      await tx.outbox.createMany({
        data: events.map((event) => {
          const envelope = toEnvelope(event, now);
          return {
            id: envelope.id,
            aggregateId: event.subject,
            subject: `${event.context}.${eventsEnv}.events`,
            type: event.type,
            envelope: toJson(envelope),
            headers: event.traceparent ? { traceparent: event.traceparent } : {},
          };
        }),
        // The same logical event (same idempotency key, hence id) is recorded once however often a step retries.
        skipDuplicates: true,
      });
    },
  };
}
