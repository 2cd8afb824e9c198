import { join } from 'node:path';
import { loadConfig } from '../src/config/config.js';
import { describeFailure } from '../src/process.js';
import { startCluster } from './lib/cluster.js';
import { DATA_DIR, devJwtSecret, devPayloadKeys } from './lib/dev-secret.js';
import { shutdownOnSignals } from './lib/supervision.js';
import { conventionalPorts } from './lib/temporal-cluster.js';

/**
 * The production topology on this machine (see README "Running at scale"): Temporal server 1.29.1 on PostgreSQL
 * with its Web UI, 3 workers (with the inbound consumers), 2 relays and 2 API instances, each its own OS process.
 * A process that crashes is started again, like compose's `restart: unless-stopped`. Ctrl-C stops everything.
 */
const { defer, shutdown } = shutdownOnSignals();

async function main() {
  const env = { ...process.env, JWT_SECRET: devJwtSecret(), PAYLOAD_ENCRYPTION_KEYS: devPayloadKeys() };
  const config = loadConfig(env);
  const frontend = Number(config.TEMPORAL_ADDRESS.split(':')[1]);
  const logDir = join(DATA_DIR, 'cluster');
  process.stdout.write(`starting the cluster; logs in ${logDir}\n`);
  const cluster = await startCluster({
    env,
    temporalDatabase: 'temporal_cluster',
    temporalVisibilityDatabase: 'temporal_cluster_visibility',
    temporalPorts: conventionalPorts(frontend),
    apiPorts: [config.PORT, config.PORT + 1],
    workers: 3,
    relays: 2,
    // From the API's metrics port up: api-1 9464 ... (the README lists them).
    metricsPort: (() => {
      let next = config.METRICS_PORT ?? 9464;
      return () => Promise.resolve(next++);
    })(),
    uiPort: frontend + 1000,
    logDir,
    defer,
  });
  for (const role of [cluster.temporal, ...cluster.apps]) {
    role.onUnexpectedExit((code, signal) => {
      process.stderr.write(`${role.name} exited (${code ?? signal}); starting it again\n`);
      const restart = () => role.start().catch((error: unknown) => process.stderr.write(`${describeFailure(error)}\n`));
      setTimeout(() => void restart(), 1_000);
    });
  }
  const { mintToken } = await import('../src/api/auth.js');
  const token = await mintToken(cluster.config.JWT_SECRET!, 'operator', 'dev-operator');
  const pids = (list: typeof cluster.apps) => list.map((p) => `${p.name} (pid ${p.pid})`).join(', ');
  process.stdout.write(
    [
      '',
      `  Temporal     127.0.0.1:${frontend} (pid ${cluster.temporal.pid}), databases temporal_cluster, temporal_cluster_visibility`,
      `  Temporal UI  http://localhost:${frontend + 1000}/namespaces/${cluster.config.TEMPORAL_NAMESPACE}/workflows`,
      `  APIs         ${cluster.apiUrls.map((url) => `${url}/v1`).join('  ')}`,
      `  workers      ${pids(cluster.workers)}`,
      `  relays       ${pids(cluster.relays)}`,
      '',
      `  export TOKEN=${token}`,
      '',
      '  Ctrl-C stops everything.',
      '',
    ].join('\n')
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`cluster: ${describeFailure(error)}\n`);
  void shutdown(1);
});
