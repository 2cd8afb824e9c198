import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generatePrismaClient, ROOT } from '../lib/database.js';

/** `npm run catalog`: writes the EventCatalog of the Orders domain into catalog/ (or --out). */
const USAGE = 'usage: npm run catalog [-- --out <dir>]   (default: catalog/)';

try {
  const { values } = parseArgs({ options: { out: { type: 'string', default: 'catalog' }, help: { type: 'boolean' } } });
  if (values.help) {
    console.log(USAGE);
  } else {
    // The API modules the OpenAPI document is built from import the generated Prisma client (git-ignored), so it
    // must exist before they are loaded.
    if (!existsSync(join(ROOT, 'src', 'generated', 'prisma', 'client.ts'))) generatePrismaClient();
    const { catalogSources } = await import('./sources.js');
    const { writeCatalog } = await import('./write.js');
    const dir = resolve(values.out);
    const sources = await catalogSources();
    await writeCatalog(dir, sources);
    console.log(
      `EventCatalog written to ${dir}: ${sources.asyncapi.messages.length} messages from contracts/, ` +
        `${sources.http.length} API operations`
    );
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
}
