import { loadConfig } from '../src/config/config.js';
import { describeFailure } from '../src/process.js';
import { generatePrismaClient, migrateDatabase } from './lib/database.js';
import { SEED_PRODUCTS } from './lib/seed.js';

/** Loads the demo catalog (fixed ids, initial stock) into DATABASE_URL; running it again changes nothing. */
async function main() {
  const config = loadConfig({ ...process.env, AUTH: 'off' });
  await migrateDatabase(config.DATABASE_URL);
  generatePrismaClient();
  const { createDb } = await import('../src/db/client.js');
  const { createOutboxWriter } = await import('../src/events/outbox.js');
  const { seedCatalog } = await import('./lib/seed.js');
  const db = createDb(config.DATABASE_URL);
  try {
    const added = await seedCatalog(db, createOutboxWriter(config.EVENTS_ENV));
    process.stdout.write(`${added} of ${SEED_PRODUCTS.length} products added\n`);
    for (const product of SEED_PRODUCTS)
      process.stdout.write(
        `  ${product.id}  ${product.sku.padEnd(14)} ${product.unitPrice} USD cents  stock ${product.stock}\n`
      );
  } finally {
    await db.$disconnect();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`seed: ${describeFailure(error)}\n`);
  process.exit(1);
});
