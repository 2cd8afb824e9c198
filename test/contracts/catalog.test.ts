import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, sep } from 'node:path';
import { promisify } from 'node:util';
import { Parser } from '@asyncapi/parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ASYNCAPI_FILE, CONTRACTS_DIR } from '../../scripts/catalog/asyncapi.js';
import { servedOpenApiDocument } from '../../scripts/catalog/openapi.js';
import type { Catalog } from '../../scripts/catalog/sdk.js';
import { openCatalog } from '../../scripts/catalog/sdk.js';
import { DOMAIN, SERVICES, serviceFor } from '../../scripts/catalog/services.js';

const run = promisify(execFile);
const ROOT = join(CONTRACTS_DIR, '..');
const bin = (name: string) => join(ROOT, 'node_modules', '.bin', name);

/** Every payload schema in contracts/ (the envelope is not a message): name and version come from the path. */
const contracts = readdirSync(CONTRACTS_DIR, { recursive: true, encoding: 'utf8' })
  .filter((file) => file.endsWith('.schema.json') && !file.startsWith(`envelope${sep}`))
  .map((file) => ({
    file,
    name: basename(dirname(file)),
    version: basename(file, '.schema.json'),
    context: file.split(sep)[0]!,
  }));

let dir: string;
let catalog: Catalog;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'flowmart-catalog-'));
  // The command as the README gives it, with the output moved out of the worktree.
  await run(bin('tsx'), ['scripts/catalog/main.ts', '--out', dir], { cwd: ROOT });
  catalog = openCatalog(dir);
}, 120_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm run catalog', () => {
  it('has every schema in contracts/ as an event or command of its version, with that schema', async () => {
    expect(contracts.length).toBeGreaterThan(0);
    for (const contract of contracts) {
      const message =
        (await catalog.getEvent(contract.name, contract.version)) ??
        (await catalog.getCommand(contract.name, contract.version));
      expect(message, contract.file).toBeDefined();
      expect(message?.version).toBe(contract.version);
      const schema = await catalog.getSchemaForMessage(contract.name, contract.version);
      expect(JSON.parse(schema?.schema ?? 'null'), contract.file).toEqual(
        JSON.parse(readFileSync(join(CONTRACTS_DIR, contract.file), 'utf8'))
      );
      expect(message?.channels?.map((channel) => channel.id)).toEqual([`${contract.context}.{env}.events`]);
    }
  });

  it('gives each service exactly the sends and receives of the AsyncAPI operations on its channels', async () => {
    const { document } = await new Parser().parse(readFileSync(ASYNCAPI_FILE, 'utf8'), { source: ASYNCAPI_FILE });
    const operations = document!
      .operations()
      .all()
      .flatMap((operation) =>
        operation
          .messages()
          .all()
          .map((message) => ({
            action: operation.action(),
            service: serviceFor(operation.channels().all()[0]!.id()).id,
            message: message.name(),
          }))
      );
    expect(operations.length).toBeGreaterThan(0);
    const contractIds = new Set(contracts.map((contract) => contract.name));
    for (const { id } of SERVICES) {
      const service = await catalog.getService(id);
      const expected = (action: string) =>
        operations
          .filter((operation) => operation.service === id && operation.action === action)
          .map((operation) => operation.message)
          .sort();
      expect(ids(service?.sends), `${id} sends`).toEqual(expected('send'));
      expect(
        ids(service?.receives).filter((message) => contractIds.has(message)),
        `${id} receives`
      ).toEqual(expected('receive'));
    }
  });

  it('puts the five services in the Orders domain and a channel <context>.{env}.events per context', async () => {
    const domain = await catalog.getDomain(DOMAIN.id);
    expect(ids(domain?.services)).toEqual(
      ['InventoryService', 'NotificationService', 'OrdersService', 'PaymentService', 'ShippingService'].sort()
    );
    const channels = await catalog.getChannels();
    expect(channels.map((channel) => channel.address).sort()).toEqual(
      [...new Set(contracts.map((contract) => `${contract.context}.{env}.events`))].sort()
    );
  });

  it('has every API operation as a query (GET) or command of its service, and the API documents on the Orders Service', async () => {
    const document = servedOpenApiDocument();
    const operations = Object.values(document.paths ?? {}).flatMap((item) =>
      Object.entries(item as Record<string, { operationId: string; tags: string[] }>).filter(
        ([, operation]) => operation.tags[0] !== 'operations'
      )
    );
    expect(operations.length).toBeGreaterThan(0);
    for (const [method, operation] of operations) {
      const message =
        method === 'get'
          ? await catalog.getQuery(operation.operationId, document.info.version)
          : await catalog.getCommand(operation.operationId, document.info.version);
      expect(message, `${method} ${operation.operationId}`).toBeDefined();
      const service = await catalog.getService(serviceFor(operation.tags[0]!).id);
      expect(ids(service?.receives)).toContain(operation.operationId);
    }
    const specifications = (await catalog.getSpecificationFilesForService('OrdersService')) as {
      key: string;
      content: string;
    }[];
    const specification = (key: string) => specifications.find((candidate) => candidate.key === key)?.content;
    expect(JSON.parse(specification('openapiPath') ?? 'null')).toEqual(JSON.parse(JSON.stringify(document)));
    expect(specification('asyncapiPath')).toBe(readFileSync(ASYNCAPI_FILE, 'utf8'));
  });

  it('passes @eventcatalog/linter without errors', async () => {
    const { stdout } = await run(bin('eventcatalog-linter'), [dir], { cwd: ROOT });
    expect(stdout).toMatch(/\(0 errors, \d+ warnings?\)|No problems found/);
  });
});

function ids(pointers?: { id: string }[]) {
  return (pointers ?? []).map((pointer) => pointer.id).sort();
}
