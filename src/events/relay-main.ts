import { createMetrics, registerStateGauges } from '../metrics/metrics.js';
import { serveMetrics } from '../metrics/process.js';
import { runProcess } from '../process.js';
import { openResources } from '../runtime.js';
import { openTracing } from '../tracing/open.js';
import { relayOptions, startRelayWhenConnected } from './relay.js';

runProcess('relay', async (config, logger) => {
  const tracing = await openTracing(config, 'relay');
  const resources = await openResources(config, 'orders-relay', logger, tracing);
  const metrics = createMetrics();
  // The relay watches the outbox anyway: it reports the state gauges (lag, parked, attention, stages).
  registerStateGauges(metrics, resources.db);
  const metricsServer = await serveMetrics(config, 'relay', metrics, logger);
  // Started, without NATS, it reports the gauges and waits; it publishes once NATS answers.
  const relay = startRelayWhenConnected(config.DATABASE_URL, resources.events, logger, {
    ...relayOptions(config),
    onPublish: (outcome, type) => metrics.outboxPublished.inc({ type, outcome }),
  });
  return async () => {
    await relay.stop();
    await metricsServer.close();
    await resources.close();
    await tracing?.shutdown();
  };
});
