import { randomUUID } from 'node:crypto';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { SignJWT } from 'jose';
import { expect, inject } from 'vitest';
import type { ApiDeps } from '../../src/api/app.js';
import type { RunningApi } from '../../src/api/server.js';
import { startApiServer } from '../../src/api/server.js';
import type { Db } from '../../src/db/client.js';
import { createLogger } from '../../src/logger.js';
import { migrateDatabase } from '../../scripts/lib/database.js';
import type { HttpResult, TestSystem } from '../support/system.js';
import { http, JWT_SECRET } from '../support/system.js';

/* ------------------------------------------------------------------------------------------------------------------
 * The contract: every response the API tests see is checked against the served /openapi.json.
 * ---------------------------------------------------------------------------------------------------------------- */

type JsonObject = Record<string, unknown>;
interface MediaType {
  schema?: JsonObject;
}
interface ResponseObject {
  description: string;
  headers?: Record<string, { required?: boolean }>;
  content?: Record<string, MediaType>;
}
interface Operation {
  operationId?: string;
  responses: Record<string, ResponseObject>;
  requestBody?: { content: Record<string, MediaType> };
}
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonObject> };
}

const COMPONENTS_ID = 'urn:flowmart:openapi';

/**
 * Closes every object schema that lists its properties (additionalProperties: false), except inside allOf where the
 * parts must stay open to combine. The published document leaves response objects open so fields can be added later;
 * the tests hold the code to the stricter reading, so an undocumented field in a response fails a test.
 */
function closeObjects(schema: unknown, inAllOf = false): unknown {
  if (Array.isArray(schema)) return schema.map((item) => closeObjects(item, inAllOf));
  if (!schema || typeof schema !== 'object') return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema as JsonObject)) {
    if (key === 'allOf') out[key] = (value as unknown[]).map((part) => closeObjects(part, true));
    else if (key === 'properties')
      out[key] = Object.fromEntries(Object.entries(value as JsonObject).map(([name, s]) => [name, closeObjects(s)]));
    else if (key === 'example' || key === 'examples') out[key] = value;
    else out[key] = closeObjects(value);
  }
  if (!inAllOf && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** Rewrites `#/components/...` references so they resolve against the components schema registered with ajv. */
function rebase(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(rebase);
  if (!schema || typeof schema !== 'object') return schema;
  return Object.fromEntries(
    Object.entries(schema as JsonObject).map(([key, value]) => [
      key,
      key === '$ref' && typeof value === 'string' && value.startsWith('#/components/')
        ? `${COMPONENTS_ID}${value}`
        : rebase(value),
    ])
  );
}

export class Contract {
  private readonly ajv: Ajv2020;
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly templates: { template: string; pattern: RegExp }[];

  constructor(readonly document: OpenApiDocument) {
    this.ajv = new Ajv2020({ allErrors: true, strict: true });
    addFormats.default(this.ajv);
    this.ajv.addVocabulary(['example', 'components', 'discriminator', 'xml', 'externalDocs']);
    this.ajv.addSchema({ $id: COMPONENTS_ID, components: closeObjects(document.components) as JsonObject });
    this.templates = Object.keys(document.paths).map((template) => ({
      template,
      pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{\w+\}/g, '[^/]+')}$`),
    }));
  }

  /** The documented path template a concrete path belongs to (`/v1/orders/abc` -> `/v1/orders/{orderId}`). */
  templateFor(method: string, path: string): string | undefined {
    const bare = path.split('?')[0]!;
    const matches = this.templates.filter(({ pattern }) => pattern.test(bare));
    // Literal segments win over parameters, as in Express: prefer the template with the fewest parameters.
    matches.sort((a, b) => (a.template.match(/\{/g)?.length ?? 0) - (b.template.match(/\{/g)?.length ?? 0));
    return (
      matches.find(({ template }) => this.document.paths[template]?.[method.toLowerCase()])?.template ??
      matches[0]?.template
    );
  }

  operation(method: string, template: string): Operation | undefined {
    return this.document.paths[template]?.[method.toLowerCase()];
  }

  private validator(key: string, schema: unknown): ValidateFunction {
    let validate = this.validators.get(key);
    if (!validate) {
      validate = this.ajv.compile(rebase(closeObjects(schema)) as JsonObject);
      this.validators.set(key, validate);
    }
    return validate;
  }

  /** Validates a value against `#/components/schemas/<name>`. */
  validateComponent(name: string, value: unknown): string[] {
    const validate = this.validator(`component:${name}`, { $ref: `#/components/schemas/${name}` });
    return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''}`);
  }

  /**
   * Problems with a response to `method path`: an undocumented status, media type or required header, or a body that
   * does not match the schema. Paths the document does not describe must answer a 401/404/429 problem document.
   */
  problems(method: string, path: string, result: HttpResult<unknown>): string[] {
    const template = this.templateFor(method, path);
    const operation = template ? this.operation(method, template) : undefined;
    const mediaType = (result.headers.get('content-type') ?? '').split(';')[0]!.trim();
    const where = `${method.toUpperCase()} ${template ?? path} -> ${result.status}`;
    if (method.toUpperCase() === 'OPTIONS' && result.status === 204) {
      // A CORS preflight is answered by the CORS layer (Fetch standard), not by an operation.
      return result.body === undefined || result.body === '' ? [] : [`${where}: preflight with a body`];
    }
    if (!operation || !template) {
      // Unmatched: the router answers before any route (authentication, rate limit) or with 404.
      if (![401, 404, 429].includes(result.status)) return [`${where}: undocumented route answered ${result.status}`];
      if (mediaType !== 'application/problem+json') return [`${where}: media type ${mediaType}`];
      return this.validateComponent('Problem', result.body).map((p) => `${where}: ${p}`);
    }
    const response = operation.responses[String(result.status)] ?? operation.responses.default;
    if (!response) return [`${where}: status not documented (has ${Object.keys(operation.responses).join(', ')})`];
    const problems: string[] = [];
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      if (header.required && !result.headers.has(name)) problems.push(`${where}: missing header ${name}`);
    }
    if (!response.content) {
      if (result.body !== undefined && result.body !== '') problems.push(`${where}: body where none is documented`);
      return problems;
    }
    const media = response.content[mediaType];
    if (!media)
      return [...problems, `${where}: media type ${mediaType} not in ${Object.keys(response.content).join(', ')}`];
    if (media.schema) {
      const validate = this.validator(`${template} ${method} ${result.status} ${mediaType}`, media.schema);
      if (!validate(result.body)) {
        problems.push(
          ...(validate.errors ?? []).map(
            (e) => `${where}: ${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`
          )
        );
      }
    }
    return problems;
  }

  /** Whether `body` is a valid request body of the operation, by the document alone (not the server's zod schemas). */
  acceptsRequestBody(method: string, template: string, body: unknown): boolean {
    const schema = this.operation(method, template)?.requestBody?.content['application/json']?.schema;
    if (!schema) throw new Error(`${method} ${template} takes no JSON body`);
    return this.validator(`request ${template} ${method}`, schema)(body);
  }

  /** Fails the test when the response does not match the document. */
  check(method: string, path: string, result: HttpResult<unknown>): void {
    const problems = this.problems(method, path, result);
    expect(
      problems,
      `response does not match the OpenAPI document: ${JSON.stringify(result.body)?.slice(0, 500)}`
    ).toEqual([]);
  }
}

let loaded: Promise<Contract> | undefined;

/** The served OpenAPI document, checked to be a valid OpenAPI 3.1 document, loaded once per test file. */
export function contractOf(system: TestSystem): Promise<Contract> {
  loaded ??= (async () => {
    const { status, body } = await http<OpenApiDocument>(system, 'GET', '/openapi.json');
    expect(status).toBe(200);
    const result = await new Validator().validate(body as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    return new Contract(body);
  })();
  return loaded;
}

export interface CallOptions {
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
  rawBody?: string;
}

/** `http()` from the harness, and the response checked against the OpenAPI document. Use it for every API call. */
export async function api<T = Record<string, unknown>>(
  system: TestSystem,
  method: string,
  path: string,
  options: CallOptions = {}
): Promise<HttpResult<T>> {
  const contract = await contractOf(system);
  const result = await http<T>(system, method, path, options);
  contract.check(method, path, result);
  return result;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance: string;
  code: string;
  message: string;
  details: string[];
  errors: { field?: string; message: string }[];
}

/** Asserts an RFC 9457 problem with the status and catalog code; returns it for further checks. */
export function expectProblem(result: HttpResult<unknown>, status: number, code?: string): ProblemBody {
  const body = result.body as ProblemBody;
  expect({ status: result.status, code: body?.code }, JSON.stringify(result.body)).toEqual({
    status,
    code: code ?? body?.code,
  });
  expect(result.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(body.status).toBe(status);
  return body;
}

/** Things that must never reach a client: stack frames, source paths, SQL, driver and RPC internals, hosts. */
const INTERNALS =
  /(\bat \S+ \(|\.[cm]?[jt]s:\d+|\/src\/|node_modules|prisma|\bP\d{4}\b|SELECT |INSERT |UPDATE |ECONN|127\.0\.0\.1|localhost|postgres|grpc|Error:|TypeError|Temporal|stack|shut down)/i;
/** gRPC status names as they appear in driver messages ("14 UNAVAILABLE: ..."); case matters, SERVICE_UNAVAILABLE is ours. */
const GRPC_STATUS = /\b(UNAVAILABLE|DEADLINE_EXCEEDED|RESOURCE_EXHAUSTED|INTERNAL:)/;

export function expectNoInternals(result: HttpResult<unknown>): void {
  const text = typeof result.body === 'string' ? result.body : JSON.stringify(result.body);
  expect(text).not.toMatch(INTERNALS);
  expect(text).not.toMatch(GRPC_STATUS);
  expect(result.headers.get('x-powered-by')).toBeNull();
}

/* ------------------------------------------------------------------------------------------------------------------
 * Credentials
 * ---------------------------------------------------------------------------------------------------------------- */

export interface TokenOptions {
  role?: string;
  sub?: string;
  secret?: string;
  issuer?: string;
  audience?: string;
  /** Seconds since the epoch. */
  expiresAt?: number;
}

/** A JWT like the API's own, with any part swapped for a wrong one. */
export async function signToken(options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ role: options.role ?? 'customer' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(options.sub ?? randomUUID())
    .setIssuer(options.issuer ?? 'flowmart-orders')
    .setAudience(options.audience ?? 'flowmart-api')
    .setIssuedAt(now - 60)
    .setExpirationTime(options.expiresAt ?? now + 3600)
    .sign(new TextEncoder().encode(options.secret ?? JWT_SECRET));
}

/** An unsigned token (`alg: none`) claiming to be an operator. */
export function unsignedToken(): string {
  const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${encode({ alg: 'none', typ: 'JWT' })}.${encode({
    role: 'operator',
    sub: 'mallory',
    iss: 'flowmart-orders',
    aud: 'flowmart-api',
    exp: now + 3600,
  })}.`;
}

/* ------------------------------------------------------------------------------------------------------------------
 * Extra API servers and databases
 * ---------------------------------------------------------------------------------------------------------------- */

export interface ExtraApi {
  /** A TestSystem whose baseUrl is the extra server, for `api()` and `http()`. */
  system: TestSystem;
  running: RunningApi;
  close(): Promise<void>;
}

/** Another API server on a free port, sharing the system's connections except for the overridden ones. */
export async function startExtraApi(
  system: TestSystem,
  overrides: Partial<Omit<ApiDeps, 'config'>> & { config?: Record<string, unknown> } = {}
): Promise<ExtraApi> {
  const { config, ...deps } = overrides;
  const running = await startApiServer(
    {
      db: system.resources.db,
      temporal: system.resources.temporal,
      events: system.resources.events,
      outbox: system.resources.outbox,
      logger: createLogger('silent', 'test-extra-api'),
      ...deps,
      config: { ...system.config, ...config },
    },
    0
  );
  return {
    system: { ...system, baseUrl: `http://127.0.0.1:${running.port}` },
    running,
    close: () => running.close(1_000),
  };
}

/** A database of its own for tests that count rows and must not see other test files' writes. */
export async function isolatedDatabase(name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const url = new URL(inject('databaseUrl'));
  url.pathname = `${url.pathname}_${name}`;
  await migrateDatabase(url.toString());
  return { url: url.toString(), drop: () => migrateDatabase(url.toString(), 'drop') };
}

export const COUNTED_TABLES = [
  'orders',
  'order_items',
  'products',
  'inventory_items',
  'reservations',
  'payments',
  'shipments',
  'notifications',
  'outbox',
  'idempotency_keys',
] as const;

/** Row counts of the tables a request could write to. */
export async function rowCounts(db: Db): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of COUNTED_TABLES) {
    const [row] = await db.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM ${table}`);
    counts[table] = Number(row?.n ?? 0);
  }
  return counts;
}

/** A valid address, as the catalog schema wants it. */
export const ADDRESS = { street: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' };

/** A new customer id with a token for it. */
export async function newCustomer(system: TestSystem): Promise<{ id: string; token: string }> {
  const id = randomUUID();
  return { id, token: await system.tokens.customer(id) };
}
