import { ContractNotFoundError, validateEnvelope, validateEventData } from '../contracts.js';
import type { CloudEvent } from '../envelope.js';
import { EVENT_SOURCE } from '../envelope.js';

/** What an inbound message is, before any handler sees it. */
export type Decoded =
  | { kind: 'own' }
  | { kind: 'invalid'; reason: string; eventId?: string; type?: string }
  | { kind: 'event'; event: CloudEvent };

/** JSON, envelope and payload checks; the reason names every problem, since an operator reads it in one line. */
export function decodeInbound(raw: string): Decoded {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    return { kind: 'invalid', reason: `invalid JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  const candidate = (typeof parsed === 'object' && parsed !== null ? parsed : {}) as Partial<CloudEvent>;
  // Our relay publishes to the same subjects (InventoryAdjusted, CreateShipment): those are not inbound.
  if (candidate.source === EVENT_SOURCE) return { kind: 'own' };
  const ids = {
    ...(typeof candidate.id === 'string' ? { eventId: candidate.id } : {}),
    ...(typeof candidate.type === 'string' ? { type: candidate.type } : {}),
  };
  const envelope = validateEnvelope(parsed);
  if (!envelope.ok) return { kind: 'invalid', reason: `invalid envelope: ${envelope.errors.join('; ')}`, ...ids };
  const event = parsed as CloudEvent;
  const [, , , schemaType, version] = event.dataschema.split(':');
  if (schemaType !== event.type) {
    return { kind: 'invalid', reason: `dataschema ${event.dataschema} does not describe type ${event.type}`, ...ids };
  }
  try {
    const data = validateEventData(event.type, version!, event.data);
    if (!data.ok) {
      return { kind: 'invalid', reason: `invalid ${event.type} ${version} data: ${data.errors.join('; ')}`, ...ids };
    }
  } catch (error) {
    if (!(error instanceof ContractNotFoundError)) throw error;
    return { kind: 'invalid', reason: `no contract for ${event.type} version ${version}`, ...ids };
  }
  return { kind: 'event', event };
}
