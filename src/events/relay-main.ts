import { runProcess } from '../process.js';
import { openResources } from '../runtime.js';
import { createRelay } from './relay.js';

runProcess('relay', async (config, logger) => {
  const resources = await openResources(config, 'orders-relay');
  const relay = createRelay(resources.db, resources.js, logger, {
    pollIntervalMs: config.OUTBOX_POLL_INTERVAL,
    retentionMs: config.OUTBOX_RETENTION,
  });
  relay.start();
  logger.info('outbox relay running');
  return async () => {
    await relay.stop();
    await resources.close();
  };
});
