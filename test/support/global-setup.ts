import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import type { TestProject } from 'vitest/node';
import { connectNats } from '../../src/events/nats.js';
import { deleteStreams, ensureStreams } from '../../src/events/streams.js';
import { generatePrismaClient, migrateDatabase, ROOT } from '../../scripts/lib/database.js';
import { findTemporalCli } from '../../scripts/lib/temporal-cli.js';
import { freePort, startTemporalDevServer } from '../../scripts/lib/temporal-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    natsUrl: string;
    temporalAddress: string;
    temporalCli: string;
    eventsEnv: string;
  }
}

/**
 * One isolated world per test run: its own database, its own JetStream streams (subjects `*.<runId>.events`) and
 * its own headless Temporal dev server on a free port. A running `npm run dev`, another test run and CI on the
 * same machine never see each other.
 */
export default async function setup(project: TestProject) {
  // The environment is read here only to let a developer point tests at other servers.
  const baseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/orders';
  const natsUrl = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
  const runId = `t${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
  const databaseUrl = Object.assign(new URL(baseUrl), { pathname: `/orders_test_${runId}` }).toString();

  const temporalCli = findTemporalCli();
  generatePrismaClient();
  await migrateDatabase(databaseUrl);
  const nats = await connectNats(natsUrl, 'orders-test-setup');
  await ensureStreams(await jetstreamManager(nats), runId);
  const logDir = join(ROOT, '.data');
  mkdirSync(logDir, { recursive: true });
  const temporal = await startTemporalDevServer({
    cli: temporalCli,
    port: await freePort(),
    logFile: join(logDir, `test-temporal-${runId}.log`),
  });

  project.provide('databaseUrl', databaseUrl);
  project.provide('natsUrl', natsUrl);
  project.provide('temporalAddress', temporal.address);
  project.provide('temporalCli', temporalCli);
  project.provide('eventsEnv', runId);

  return async () => {
    await temporal.stop();
    await deleteStreams(await jetstreamManager(nats), runId);
    await nats.close();
    await migrateDatabase(databaseUrl, 'drop');
  };
}
