import { readAsyncApi } from './asyncapi.js';
import { httpMessages } from './http-messages.js';
import { servedOpenApiDocument } from './openapi.js';
import type { CatalogSources } from './write.js';

/** Everything the catalog is generated from: `contracts/` and the document the API serves at /openapi.json. */
export async function catalogSources(): Promise<CatalogSources> {
  const asyncapi = await readAsyncApi();
  const openapi = servedOpenApiDocument();
  return { asyncapi, openapi, http: httpMessages(openapi) };
}
