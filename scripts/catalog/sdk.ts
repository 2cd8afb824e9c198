import { createRequire } from 'node:module';
import type * as Sdk from '@eventcatalog/sdk';

// The package's typings describe its CommonJS build, in which the SDK factory is the `default` property, so tsc
// (NodeNext) types a default import as the whole exports object while tsx hands over the factory. Loading the
// CommonJS build with require makes the types and what runs agree.
type SdkFactory = typeof Sdk.default.default;
const { default: eventCatalog } = createRequire(import.meta.url)('@eventcatalog/sdk') as { default: SdkFactory };

/** The SDK's readers and writers for the catalog in `dir`. */
export const openCatalog = (dir: string) => eventCatalog(dir);
export type Catalog = ReturnType<typeof openCatalog>;
