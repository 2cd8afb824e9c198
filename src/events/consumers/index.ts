import type { JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from '../../config/config.js';
import type { Db } from '../../db/client.js';
import type { ServiceMetrics } from '../../metrics/metrics.js';
import { pruneInbox } from '../inbox.js';
import type { OutboxWriter } from '../outbox.js';
import { inventoryConsumer } from './inventory.js';
import type { ConsumerTuning, InboundHandler, RunningConsumer } from './runner.js';
import { DEFAULT_TUNING, runConsumer } from './runner.js';
import { shippingConsumer } from './shipping.js';
import { subscriptionsConsumer } from './subscriptions.js';

export { INVENTORY_CONSUMER } from './inventory.js';
export { SHIPPING_CONSUMER } from './shipping.js';
export { SUBSCRIPTIONS_CONSUMER } from './subscriptions.js';
export { PoisonMessageError } from './runner.js';
export type { ConsumerTuning, InboundHandler } from './runner.js';

export interface ConsumerDeps {
  config: Config;
  db: Db;
  js: JetStreamClient;
  temporal: Client;
  outbox: OutboxWriter;
  logger: Logger;
  /** When given, messages whose last delivery got no answer are parked too (see runner). */
  nats?: NatsConnection;
  tuning?: Partial<ConsumerTuning>;
  metrics?: ServiceMetrics;
  /** Inbox rows older than this are pruned hourly; far beyond the stream's 7-day retention. */
  inboxRetentionMs?: number;
}

export interface Consumers {
  names: string[];
  stop(): Promise<void>;
}

/** The inbound side of SPEC section 4: external stock changes, subscription cancellations, carrier updates. */
export async function startConsumers(deps: ConsumerDeps): Promise<Consumers> {
  const tuning = { ...DEFAULT_TUNING, ...deps.tuning };
  const logger = deps.logger.child({ component: 'consumers' });
  const jsm = await deps.js.jetstreamManager();
  const { metrics } = deps;
  const handlers: InboundHandler[] = [inventoryConsumer(deps), subscriptionsConsumer(deps), shippingConsumer(deps)];
  const running: RunningConsumer[] = [];
  try {
    for (const handler of handlers) {
      running.push(
        await runConsumer({
          handler,
          db: deps.db,
          js: deps.js,
          jsm,
          ...(deps.nats ? { nats: deps.nats } : {}),
          eventsEnv: deps.config.EVENTS_ENV,
          logger,
          tuning,
          ...(metrics ? { onSettled: (consumer, outcome) => metrics.inbound.inc({ consumer, outcome }) } : {}),
        })
      );
    }
  } catch (error) {
    await Promise.all(running.map((consumer) => consumer.stop()));
    throw error;
  }

  const retentionMs = deps.inboxRetentionMs ?? 30 * 86_400_000;
  const pruner = setInterval(() => {
    pruneInbox(deps.db, new Date(Date.now() - retentionMs)).catch((error: unknown) =>
      logger.warn({ err: String(error) }, 'inbox prune failed')
    );
  }, 3_600_000);
  pruner.unref();

  return {
    names: running.map((consumer) => consumer.name),
    async stop() {
      clearInterval(pruner);
      await Promise.all(running.map((consumer) => consumer.stop()));
    },
  };
}
