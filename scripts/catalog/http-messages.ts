import type { OpenApiDocument } from './openapi.js';

/** An HTTP operation as the catalog shows it: a query (GET) or a command, received by the service of its tag. */
export interface HttpMessage {
  id: string;
  kind: 'query' | 'command';
  summary: string;
  description: string;
  method: string;
  path: string;
  tag: string;
  /** The request body (commands) or success response (queries) as a standalone JSON Schema, when there is one. */
  schema?: string;
}

interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  tags?: string[];
  requestBody?: { content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, { content?: Record<string, { schema?: unknown }> }>;
}

/** Health, readiness, metrics and the documents themselves are not part of the domain. */
const OPERATIONAL_TAG = 'operations';
const COMPONENT_REF = '#/components/schemas/';

/** The schema with every component it references (transitively) copied into `$defs`, so it stands alone. */
function standalone(schema: unknown, components: Record<string, unknown>): string {
  const defs: Record<string, unknown> = {};
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (node === null || typeof node !== 'object') return;
    const ref = (node as { $ref?: unknown }).$ref;
    if (typeof ref === 'string' && ref.startsWith(COMPONENT_REF)) {
      const name = ref.slice(COMPONENT_REF.length);
      if (!(name in defs)) {
        defs[name] = components[name];
        visit(components[name]);
      }
    }
    Object.values(node).forEach(visit);
  };
  visit(schema);
  const document = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    ...(schema as object),
    ...(Object.keys(defs).length ? { $defs: defs } : {}),
  };
  return JSON.stringify(document, null, 2).replaceAll(`"${COMPONENT_REF}`, '"#/$defs/');
}

const jsonSchemaOf = (content?: Record<string, { schema?: unknown }>) =>
  content?.['application/json']?.schema ?? undefined;

export function httpMessages(document: OpenApiDocument): HttpMessage[] {
  const components = (document.components?.schemas ?? {}) as Record<string, unknown>;
  const paths = (document.paths ?? {}) as Record<string, Record<string, Operation>>;
  return Object.entries(paths).flatMap(([path, operations]) =>
    Object.entries(operations).flatMap(([method, operation]) => {
      const tag = operation.tags?.[0];
      if (!operation.operationId || !tag || tag === OPERATIONAL_TAG) return [];
      const kind = method === 'get' ? ('query' as const) : ('command' as const);
      const success = Object.entries(operation.responses ?? {}).find(([status]) => status.startsWith('2'))?.[1];
      const schema = kind === 'query' ? jsonSchemaOf(success?.content) : jsonSchemaOf(operation.requestBody?.content);
      return [
        {
          id: operation.operationId,
          kind,
          summary: operation.summary ?? '',
          description: operation.description ?? '',
          method: method.toUpperCase(),
          path,
          tag,
          ...(schema === undefined ? {} : { schema: standalone(schema, components) }),
        },
      ];
    })
  );
}
