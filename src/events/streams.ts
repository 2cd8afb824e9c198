import type { JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { EventContext } from '../config/config.js';
import { EVENT_CONTEXTS } from '../config/config.js';

/** One stream per bounded context and environment, e.g. ORDERS_DEV holding `orders.dev.events`. */
export function streamName(context: EventContext, eventsEnv: string): string {
  return `${context}_${eventsEnv}`.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
}

export function streamConfigs(eventsEnv: string): (Partial<StreamConfig> & { name: string })[] {
  return EVENT_CONTEXTS.map((context) => ({
    name: streamName(context, eventsEnv),
    subjects: [`${context}.${eventsEnv}.events`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: 7 * 24 * 3600 * 1_000_000_000,
    // Publishes carry Nats-Msg-Id = event id: a relay re-sending within this window is dropped by the server.
    duplicate_window: 2 * 60 * 1_000_000_000,
  }));
}

/** Creates the streams or brings an existing one's settings up to date; safe to run at every start. */
export async function ensureStreams(jsm: JetStreamManager, eventsEnv: string): Promise<string[]> {
  const names: string[] = [];
  for (const config of streamConfigs(eventsEnv)) {
    const name = config.name;
    try {
      await jsm.streams.info(name);
      await jsm.streams.update(name, config);
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      await jsm.streams.add(config);
    }
    names.push(name);
  }
  return names;
}

export async function deleteStreams(jsm: JetStreamManager, eventsEnv: string): Promise<void> {
  for (const config of streamConfigs(eventsEnv)) {
    await jsm.streams.delete(config.name).catch((error: unknown) => {
      if (!isStreamNotFound(error)) throw error;
    });
  }
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof Error && /stream not found/i.test(error.message);
}
