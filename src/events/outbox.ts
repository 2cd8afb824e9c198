import type { Tx } from '../db/client.js';
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
      const envelopes = events.map((event) => toEnvelope(event, now));
      // One statement whatever the number of events, and plain SQL: every fenced step appends, and Prisma's model
      // API would compile the insert each time. The same logical event (same idempotency key, hence id) is recorded
      // once however often a step retries. The insert trigger draws each row's seq in this order.
      await tx.$executeRaw`
        INSERT INTO outbox (id, aggregate_id, subject, type, envelope, headers)
        SELECT * FROM unnest(
          ${envelopes.map((envelope) => envelope.id)}::uuid[],
          ${events.map((event) => event.subject)}::text[],
          ${events.map((event) => `${event.context}.${eventsEnv}.events`)}::text[],
          ${events.map((event) => event.type)}::text[],
          ${envelopes.map((envelope) => JSON.stringify(envelope))}::jsonb[],
          ${events.map((event) => JSON.stringify(event.traceparent ? { traceparent: event.traceparent } : {}))}::jsonb[])
        ON CONFLICT DO NOTHING`;
    },
  };
}
