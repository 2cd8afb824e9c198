import type { Logger } from 'pino';
import type { Config } from '../config/config.js';
import { DEFAULT_METRICS_PORTS } from '../config/config.js';
import type { ServiceMetrics } from './metrics.js';
import type { MetricsServer } from './server.js';
import { startMetricsServer } from './server.js';

/** Starts a role's metrics endpoint on METRICS_PORT, or the role's default port, and logs where it is. */
export async function serveMetrics(
  config: Config,
  role: keyof typeof DEFAULT_METRICS_PORTS,
  metrics: ServiceMetrics,
  logger: Logger
): Promise<MetricsServer> {
  const server = await startMetricsServer(
    metrics.registry,
    config.METRICS_HOST,
    config.METRICS_PORT ?? DEFAULT_METRICS_PORTS[role]
  );
  logger.info({ url: `http://${config.METRICS_HOST}:${server.port}/metrics` }, 'metrics endpoint');
  return server;
}
