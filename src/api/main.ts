import { createMetrics } from '../metrics/metrics.js';
import { serveMetrics } from '../metrics/process.js';
import { runProcess } from '../process.js';
import { openResources } from '../runtime.js';
import { openTracing } from '../tracing/open.js';
import { pruneIdempotencyKeys } from './idempotency.js';
import { startApiServer } from './server.js';

runProcess('api', async (config, logger) => {
  const tracing = await openTracing(config, 'api');
  const resources = await openResources(config, 'orders-api', logger, tracing);
  const metrics = createMetrics();
  const metricsServer = await serveMetrics(config, 'api', metrics, logger);
  const api = await startApiServer({ ...resources, config, logger, metrics: metrics.registry });
  const pruning = setInterval(() => void pruneIdempotencyKeys(resources.db).catch(() => undefined), 10 * 60_000);
  logger.info({ port: api.port }, 'API listening');
  return async () => {
    clearInterval(pruning);
    await api.close();
    await metricsServer.close();
    await resources.close();
    await tracing?.shutdown();
  };
});
