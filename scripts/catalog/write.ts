import { cp, mkdir, readdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { AsyncApiSpec, ChannelSpec, MessageSpec } from './asyncapi.js';
import { ASYNCAPI_FILE, CONTRACTS_DIR } from './asyncapi.js';
import type { HttpMessage } from './http-messages.js';
import type { OpenApiDocument } from './openapi.js';
import { openCatalog } from './sdk.js';
import { DOMAIN, OWNER, SERVICES, serviceFor } from './services.js';

export interface CatalogSources {
  asyncapi: AsyncApiSpec;
  openapi: OpenApiDocument;
  http: HttpMessage[];
}

export class CatalogConflictError extends Error {
  readonly code = 'CATALOG_CONFLICT';

  constructor(
    readonly id: string,
    problem = 'is both a message in contracts/asyncapi.yaml and an operationId of the API; ids must be unique'
  ) {
    super(`"${id}" ${problem}`);
    this.name = 'CatalogConflictError';
  }
}

export class NotACatalogError extends Error {
  readonly code = 'NOT_A_CATALOG';

  constructor(readonly dir: string) {
    super(`${dir} is neither empty nor a catalog written before; refusing to replace it`);
    this.name = 'NotACatalogError';
  }
}

const SCHEMA_FILE = 'schema.json';
const OPENAPI_FILE = 'openapi.json';
/** contracts/ is copied whole, so the AsyncAPI document's relative `$ref`s to the payload schemas still resolve. */
const ASYNCAPI_DIR = 'contracts';
const ASYNCAPI_PATH = `${ASYNCAPI_DIR}/${basename(ASYNCAPI_FILE)}`;
/** The deployable that serves the API and owns the AsyncAPI document. */
const API_SERVICE = 'OrdersService';

const channelId = (channel: ChannelSpec) => channel.address;

function messageMarkdown(message: MessageSpec, channel: ChannelSpec): string {
  const description = (JSON.parse(message.schema) as { description?: string }).description ?? message.summary;
  return `## Overview

${description}

Travels on \`${channel.address}\` as the \`data\` of a CloudEvents 1.0 envelope whose \`type\` is \`${message.name}\`.

<NodeGraph />

## Schema

<SchemaViewer file="${SCHEMA_FILE}" />
`;
}

function httpMarkdown(message: HttpMessage): string {
  const schema = message.schema
    ? `\n## ${message.kind === 'query' ? 'Response' : 'Request body'}\n\n<SchemaViewer file="${SCHEMA_FILE}" />\n`
    : '';
  return `## Overview

\`${message.method} ${message.path}\`

${message.description}

<NodeGraph />
${schema}`;
}

function serviceMarkdown(summary: string, isApi: boolean): string {
  const specs = isApi
    ? `\n## Specifications\n\nThe HTTP API is \`${OPENAPI_FILE}\` (served at \`/openapi.json\`); the messages are \`${ASYNCAPI_PATH}\` with the JSON Schemas next to it.\n`
    : '';
  return `## Overview

${summary}

## Architecture diagram

<NodeGraph />
${specs}`;
}

const DOMAIN_MARKDOWN = `## Overview

${DOMAIN.summary}

## Bounded context

<NodeGraph />
`;

/**
 * Writes the Orders domain into `dir` (emptied first): its services with what each sends and receives, every
 * message of the AsyncAPI document with its JSON Schema and version on its channel, and every API operation as a
 * query or command received by the service of its tag.
 */
export async function writeCatalog(dir: string, sources: CatalogSources): Promise<void> {
  const { asyncapi, openapi, http } = sources;
  const version = asyncapi.version;
  for (const message of http) {
    if (asyncapi.messages.some((candidate) => candidate.name === message.id))
      throw new CatalogConflictError(message.id);
  }
  // The folder is replaced, so it must be one this command wrote (or empty): never a mistyped --out.
  const existing = await readdir(dir).catch(() => [] as string[]);
  if (existing.length > 0 && !existing.includes('domains')) throw new NotACatalogError(dir);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const catalog = openCatalog(dir);
  const owners = [OWNER.id];
  await catalog.writeTeam({ ...OWNER, markdown: `## Overview\n\n${OWNER.summary}\n` });

  await catalog.writeDomain({
    id: DOMAIN.id,
    name: DOMAIN.name,
    version,
    summary: DOMAIN.summary,
    owners,
    services: SERVICES.map((service) => ({ id: service.id, version })),
    markdown: DOMAIN_MARKDOWN,
  });

  const messageVersion = new Map(asyncapi.messages.map((message) => [message.name, message.version]));
  const channelOf = new Map(asyncapi.channels.map((channel) => [channel.context, channel]));
  for (const service of SERVICES) {
    const pointers = (action: 'send' | 'receive') =>
      asyncapi.operations
        .filter((operation) => operation.action === action && serviceFor(operation.context) === service)
        .map((operation) => ({
          id: operation.message,
          version: messageVersion.get(operation.message)!,
          [action === 'send' ? 'to' : 'from']: [{ id: channelId(channelOf.get(operation.context)!), version }],
        }));
    const received = http
      .filter((message) => serviceFor(message.tag) === service)
      .map((message) => ({ id: message.id, version: openapi.info.version }));
    const isApi = service.id === API_SERVICE;
    await catalog.writeServiceToDomain(
      {
        id: service.id,
        name: service.name,
        version,
        summary: service.summary,
        owners,
        sends: pointers('send'),
        receives: [...pointers('receive'), ...received],
        ...(isApi ? { specifications: { asyncapiPath: ASYNCAPI_PATH, openapiPath: OPENAPI_FILE } } : {}),
        markdown: serviceMarkdown(service.summary, isApi),
      },
      // Without a domain version the service goes to the domain's current folder, not under versioned/.
      { id: DOMAIN.id }
    );
    if (isApi) {
      await catalog.addFileToService(service.id, {
        fileName: OPENAPI_FILE,
        content: JSON.stringify(openapi, null, 2),
      });
      const folder = await catalog.getResourcePath(dir, service.id);
      // getResourcePath answers relative to the catalog.
      if (!folder) throw new CatalogConflictError(service.id, 'was written but the SDK cannot find it');
      await cp(CONTRACTS_DIR, join(dir, folder.directory, ASYNCAPI_DIR), { recursive: true });
    }
  }

  for (const channel of asyncapi.channels) {
    await catalog.writeChannel({
      id: channelId(channel),
      name: channel.title,
      version,
      summary: channel.description,
      owners,
      address: channel.address,
      protocols: ['nats'],
      parameters: channel.parameters,
      markdown: `## Overview\n\n${channel.description}\n\n<ChannelInformation />\n\n<NodeGraph />\n`,
    });
  }

  for (const message of asyncapi.messages) {
    const channel = asyncapi.channels.find((candidate) => candidate.context === message.context)!;
    const sender = asyncapi.operations.find(
      (operation) => operation.action === 'send' && operation.message === message.name
    );
    const resource = {
      id: message.name,
      name: message.name,
      version: message.version,
      summary: message.summary,
      owners,
      schemaPath: SCHEMA_FILE,
      channels: [{ id: channelId(channel), version }],
      markdown: messageMarkdown(message, channel),
    };
    // A message lives under the service that sends it; messages from outside the domain stand on their own.
    const owner = sender ? { id: serviceFor(sender.context).id } : undefined;
    const schema = { schema: message.schema, fileName: SCHEMA_FILE };
    if (message.kind === 'command') {
      await (owner ? catalog.writeCommandToService(resource, owner) : catalog.writeCommand(resource));
      await catalog.addSchemaToCommand(message.name, schema, message.version);
    } else {
      await (owner ? catalog.writeEventToService(resource, owner) : catalog.writeEvent(resource));
      await catalog.addSchemaToEvent(message.name, schema, message.version);
    }
  }

  for (const message of http) {
    const resource = {
      id: message.id,
      name: message.id,
      version: openapi.info.version,
      summary: message.summary,
      owners,
      ...(message.schema ? { schemaPath: SCHEMA_FILE } : {}),
      markdown: httpMarkdown(message),
    };
    const owner = { id: serviceFor(message.tag).id };
    const schema = message.schema ? { schema: message.schema, fileName: SCHEMA_FILE } : undefined;
    if (message.kind === 'query') {
      await catalog.writeQueryToService(resource, owner);
      if (schema) await catalog.addSchemaToQuery(message.id, schema, resource.version);
    } else {
      await catalog.writeCommandToService(resource, owner);
      if (schema) await catalog.addSchemaToCommand(message.id, schema, resource.version);
    }
  }
}
