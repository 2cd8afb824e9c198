import { jetstreamManager } from '@nats-io/jetstream';
import { loadConfig } from '../src/config/config.js';
import { connectNats } from '../src/events/nats.js';
import { ensureStreams } from '../src/events/streams.js';
import { describeFailure } from '../src/process.js';
import { generatePrismaClient, migrateDatabase } from './lib/database.js';
import { findTemporalCli } from './lib/temporal-cli.js';

/**
 * Everything the service needs before it starts, idempotent: the Temporal CLI, the database and its migrations,
 * the generated Prisma client and the JetStream streams. Used by `npm run dev`, the tests and CI alike.
 */
export async function provision(
  config = loadConfig({ ...process.env, AUTH: 'off' })
): Promise<{ temporalCli: string }> {
  const temporalCli = findTemporalCli();
  await migrateDatabase(config.DATABASE_URL);
  generatePrismaClient();
  const nats = await connectNats(config.NATS_URL, 'orders-provision');
  try {
    await ensureStreams(await jetstreamManager(nats), config.EVENTS_ENV);
  } finally {
    await nats.close();
  }
  return { temporalCli };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  provision().then(
    ({ temporalCli }) =>
      process.stdout.write(
        `provisioned: database migrated, client generated, streams ready; temporal at ${temporalCli}\n`
      ),
    (error: unknown) => {
      process.stderr.write(`provision: ${describeFailure(error)}\n`);
      process.exit(1);
    }
  );
}
