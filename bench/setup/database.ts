import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { generatePrismaClient, migrateDatabase, ROOT } from '../../scripts/lib/database.js';
import type { Cleanup } from '../lib/cleanup.js';
import { log } from '../lib/log.js';

async function dropDatabase(url: string, name: string): Promise<void> {
  try {
    await migrateDatabase(url, 'drop');
  } catch (error) {
    // dbmate refuses while a connection lingers (a killed driver's backend exits asynchronously): force it.
    log(`dbmate drop failed (${error instanceof Error ? error.message.split('\n')[0] : String(error)}); forcing`);
    const adminUrl = Object.assign(new URL(url), { pathname: '/postgres' }).toString();
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    } finally {
      await client.end();
    }
  }
}

/** The run's own database, migrated like production's and dropped at the end; its URL. */
export async function openDatabase(baseUrl: string, name: string, cleanup: Cleanup): Promise<string> {
  if (!existsSync(join(ROOT, 'src', 'generated', 'prisma', 'client.ts'))) generatePrismaClient();
  const url = Object.assign(new URL(baseUrl), { pathname: `/${name}` }).toString();
  cleanup.add(`drop database ${name}`, () => dropDatabase(url, name));
  await migrateDatabase(url);
  return url;
}

export { ROOT };
