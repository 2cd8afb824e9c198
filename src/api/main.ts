import { runProcess } from '../process.js';
import { openResources } from '../runtime.js';
import { pruneIdempotencyKeys } from './idempotency.js';
import { startApiServer } from './server.js';

runProcess('api', async (config, logger) => {
  const resources = await openResources(config, 'orders-api');
  const api = await startApiServer({ ...resources, config, logger });
  const pruning = setInterval(() => void pruneIdempotencyKeys(resources.db).catch(() => undefined), 10 * 60_000);
  logger.info({ port: api.port }, 'API listening');
  return async () => {
    clearInterval(pruning);
    await api.close();
    await resources.close();
  };
});
