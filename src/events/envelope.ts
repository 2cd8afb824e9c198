import { createHash } from 'node:crypto';
import type { EventContext } from '../config/config.js';

export const EVENT_SOURCE = '/flowmart/orders-service';

/** A CloudEvents 1.0 structured envelope with the catalog AsyncAPI extensions. */
export interface CloudEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  dataschema: string;
  correlationid: string;
  causationid: string;
  idempotencykey: string;
  traceparent?: string;
  data: T;
}

/** What a state change reports; the outbox turns it into an envelope. */
export interface DomainEvent<T = unknown> {
  context: EventContext;
  type: string;
  version: string;
  /** The order or product the event is about; also the ordering key of the relay. */
  subject: string;
  data: T;
  /** Stable per logical event, so a retried activity produces the same event id. */
  idempotencyKey: string;
  correlationId: string;
  causationId: string;
  traceparent?: string;
}

/** A UUID (RFC 9562 version 8) derived from a key: the same logical event always gets the same id. */
export function uuidFromKey(key: string): string {
  const bytes = createHash('sha256').update(key).digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x80;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function toEnvelope<T>(event: DomainEvent<T>, now: Date): CloudEvent<T> {
  return {
    specversion: '1.0',
    id: uuidFromKey(event.idempotencyKey),
    source: EVENT_SOURCE,
    type: event.type,
    subject: event.subject,
    time: now.toISOString(),
    datacontenttype: 'application/json',
    dataschema: `urn:flowmart:${event.context}:${event.type}:${event.version}`,
    correlationid: event.correlationId,
    causationid: event.causationId,
    idempotencykey: event.idempotencyKey,
    ...(event.traceparent ? { traceparent: event.traceparent } : {}),
    data: event.data,
  };
}
