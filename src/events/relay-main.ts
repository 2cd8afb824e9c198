import { createMetrics, registerStateGauges } from '../metrics/metrics.js';
import { serveMetrics } from '../metrics/process.js';
import { runProcess } from '../process.js';
import { openResources } from '../runtime.js';
import { openTracing } from '../tracing/open.js';
import { createRelay, relayOptions } from './relay.js';

runProcess('relay', async (config, logger) => {
  const tracing = await openTracing(config, 'relay');
  const resources = await openResources(config, 'orders-relay', tracing);
  const metrics = createMetrics();
  // The relay watches the outbox anyway: it reports the state gauges (lag, parked, attention, stages).
  registerStateGauges(metrics, resources.db);
  const metricsServer = await serveMetrics(config, 'relay', metrics, logger);
  const relay = createRelay(resources.db, resources.js, logger, {
    ...relayOptions(config),
    onPublish: (outcome, type) => metrics.outboxPublished.inc({ type, outcome }),
  });
  relay.start();
  logger.info('outbox relay running');
  return async () => {
    await relay.stop();
    await metricsServer.close();
    await resources.close();
    await tracing?.shutdown();
  };
});
