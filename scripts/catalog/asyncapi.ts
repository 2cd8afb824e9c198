import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Parser } from '@asyncapi/parser';

export const CONTRACTS_DIR = fileURLToPath(new URL('../../contracts', import.meta.url));
export const ASYNCAPI_FILE = join(CONTRACTS_DIR, 'asyncapi.yaml');

export class AsyncApiInvalidError extends Error {
  readonly code = 'ASYNCAPI_INVALID';

  constructor(problems: string[]) {
    super(`${ASYNCAPI_FILE} does not parse:\n${problems.join('\n')}`);
    this.name = 'AsyncApiInvalidError';
  }
}

export interface ChannelSpec {
  /** The AsyncAPI channel key, which is also the bounded context: `orders`. */
  context: string;
  address: string;
  title: string;
  description: string;
  parameters: Record<string, { description?: string; enum?: string[]; default?: string }>;
}

export interface MessageSpec {
  name: string;
  kind: 'event' | 'command';
  summary: string;
  /** The payload schema as written in `contracts/`, and the version its file is named for. */
  schema: string;
  version: string;
  context: string;
}

export interface OperationSpec {
  action: 'send' | 'receive';
  context: string;
  message: string;
}

export interface AsyncApiSpec {
  version: string;
  title: string;
  description: string;
  channels: ChannelSpec[];
  messages: MessageSpec[];
  operations: OperationSpec[];
}

/** Payload schema files by `$id` (`urn:flowmart:<context>:<Name>:<version>`), read as written. */
function schemaFilesById(): Map<string, { text: string; version: string }> {
  const files = readdirSync(CONTRACTS_DIR, { recursive: true, encoding: 'utf8' }).filter((file) =>
    file.endsWith('.schema.json')
  );
  return new Map(
    files.map((file) => {
      const text = readFileSync(join(CONTRACTS_DIR, file), 'utf8');
      const version = basename(file, '.schema.json');
      return [(JSON.parse(text) as { $id: string }).$id, { text, version }];
    })
  );
}

// The AsyncAPI summary of a command says so; every other message is an event.
const isCommand = (summary: string) => summary.startsWith('Command:');

/** What `contracts/asyncapi.yaml` says, with each message's payload schema file from `contracts/`. */
export async function readAsyncApi(): Promise<AsyncApiSpec> {
  const { document, diagnostics } = await new Parser().parse(readFileSync(ASYNCAPI_FILE, 'utf8'), {
    source: ASYNCAPI_FILE,
  });
  if (!document) throw new AsyncApiInvalidError(diagnostics.map((d) => `${d.path.join('.')}: ${d.message}`));
  const schemas = schemaFilesById();

  const channels = document
    .channels()
    .all()
    .map((channel) => ({
      context: channel.id(),
      address: channel.address() ?? channel.id(),
      title: channel.json<{ title?: string }>().title ?? channel.id(),
      description: channel.description() ?? '',
      parameters: Object.fromEntries(
        channel
          .parameters()
          .all()
          .map((parameter) => {
            const values = parameter.schema()?.enum() as string[] | undefined;
            const fallback = parameter.schema()?.default() as string | undefined;
            return [
              parameter.id(),
              {
                ...(parameter.description() ? { description: parameter.description() } : {}),
                ...(values ? { enum: values } : {}),
                ...(fallback ? { default: fallback } : {}),
              },
            ];
          })
      ),
    }));

  const messages = channels.flatMap(({ context }) =>
    document
      .channels()
      .get(context)!
      .messages()
      .all()
      .map((message) => {
        const id = message.payload()?.json<{ $id?: string }>().$id ?? '';
        const file = schemas.get(id);
        if (!file) throw new AsyncApiInvalidError([`${message.id()}: no schema file in contracts/ has $id ${id}`]);
        const summary = message.summary() ?? '';
        return {
          name: message.name() ?? message.id(),
          kind: isCommand(summary) ? ('command' as const) : ('event' as const),
          summary,
          schema: file.text,
          version: file.version,
          context,
        };
      })
  );

  const operations = document
    .operations()
    .all()
    .flatMap((operation) =>
      operation
        .messages()
        .all()
        .map((message) => ({
          action: operation.isSend() ? ('send' as const) : ('receive' as const),
          context: operation.channels().all()[0]!.id(),
          message: message.name() ?? message.id(),
        }))
    );

  const info = document.info();
  return {
    version: info.version(),
    title: info.title(),
    description: info.description() ?? '',
    channels,
    messages,
    operations,
  };
}
