import { randomUUID } from 'node:crypto';
import type { OpenAPIRegistry, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import type { Request, Response, Router } from 'express';
import express from 'express';
import { z } from 'zod';
import type { Role } from '../domain/principal.js';
import { requireRole } from './auth.js';
import type { ErrorDetail } from './errors.js';
import { ApiError, ErrorCode, zodDetails } from './errors.js';
import type { IdempotencyStore } from './idempotency.js';
import { IdempotencyKeyHeader, Problem } from './schemas.js';

const IdempotencyHeaders = z.object({
  'Idempotency-Key': IdempotencyKeyHeader.optional().openapi({
    description:
      'Makes retries safe: a retry with the same key and body gets the first response (with `Idempotent-Replayed: true`); ' +
      'the same key with another body is 422 IDEMPOTENCY_KEY_REUSED; while the first request runs, 409 IDEMPOTENCY_KEY_IN_USE. ' +
      'Keys are scoped to the caller and expire after IDEMPOTENCY_KEY_TTL (default 24h).',
  }),
});

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

type Responses = Record<number, { description: string; schema?: z.ZodType; headers?: Record<string, string> }>;

/** Where routes are declared: the Express router, the OpenAPI registry, and the idempotency store they share. */
export interface RouteEnv {
  router: Router;
  registry: OpenAPIRegistry;
  idempotency: IdempotencyStore;
}

interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: Method;
  /** Express syntax, relative to /v1: `/orders/:orderId`. */
  path: string;
  operationId: string;
  summary: string;
  /** More words for the OpenAPI description; roles and idempotency are added automatically. */
  description?: string;
  tags: string[];
  roles: Role[];
  params?: P;
  query?: Q;
  body?: B;
  /** Request headers that are documented but read by the handler itself (e.g. `Prefer`). */
  headers?: z.ZodObject;
  /** Whether the route honours Idempotency-Key (every mutating route does). */
  idempotent?: boolean;
  responses: Responses;
}

interface Parsed<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

type Handler<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> = (
  input: Parsed<z.infer<P>, z.infer<Q>, z.infer<B>>,
  req: Request,
  res: Response
) => Promise<void>;

/** What the routes of one resource share: its tag, who may call it, its path parameters, answers such as its 404. */
interface ResourceDefaults<P extends z.ZodType> {
  tags: string[];
  roles: Role[];
  params?: P;
  responses?: Responses;
}

/** One route of a resource: what differs from the resource's defaults, and the handler. */
type ResourceRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> = Omit<
  RouteSpec<P, Q, B>,
  'method' | 'path' | 'tags' | 'roles'
> &
  Partial<Pick<RouteSpec<P, Q, B>, 'roles' | 'tags'>> & { handle: Handler<P, Q, B> };

/**
 * The routes of one resource, declared as `resource.get('/path', { operationId, summary, responses, handle })`:
 * each route states what is its own and takes the rest (tag, roles, path parameters, shared answers) from
 * `defaults`; its responses are added to the shared ones.
 */
export function resource<DP extends z.ZodType = z.ZodType>(env: RouteEnv, defaults: ResourceDefaults<DP>) {
  const declare =
    (method: Method) =>
    <P extends z.ZodType = DP, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType>(
      path: string,
      { handle, ...route }: ResourceRoute<P, Q, B>
    ) => {
      const spec = { ...defaults, ...route, method, path, responses: { ...defaults.responses, ...route.responses } };
      // P is the route's own params schema when it names one and the resource's (DP) otherwise, which is what the
      // spread above produces; TypeScript cannot follow that through the spread.
      defineRoute(env, spec as RouteSpec<P, Q, B>, handle);
    };
  return {
    get: declare('get'),
    post: declare('post'),
    put: declare('put'),
    patch: declare('patch'),
    delete: declare('delete'),
  };
}

const PROBLEM_STATUSES: Record<number, string> = {
  400: 'Malformed request: invalid JSON, or an undecodable URL',
  401: 'Authentication required: no, an invalid or an expired credential',
  403: 'Not allowed for this role or this customer',
  409: 'A request with the same Idempotency-Key is still in progress (IDEMPOTENCY_KEY_IN_USE)',
  413: 'Body larger than 32 kB',
  415: 'The body is not application/json',
  422: 'Invalid request: field-level problems in `errors`; or IDEMPOTENCY_KEY_REUSED',
  429: 'Rate limited (RATE_LIMIT_PER_MINUTE per client address)',
  500: 'Unexpected failure; no internals are disclosed',
  503: 'PostgreSQL or Temporal is unavailable; retry after Retry-After seconds',
};

const PROBLEM_HEADERS: Record<number, Record<string, string>> = {
  401: { 'WWW-Authenticate': 'Bearer realm="flowmart"; error="invalid_token" when a token was sent but refused' },
  429: {
    RateLimit: 'Remaining quota (IETF draft-8 RateLimit header)',
    'RateLimit-Policy': 'The quota policy',
    'Retry-After': 'Seconds until the quota resets',
  },
  503: { 'Retry-After': 'Seconds to wait before retrying' },
};

const headerObjects = (headers: Record<string, string>) =>
  Object.fromEntries(
    Object.entries(headers).map(([name, description]) => [name, { description, schema: { type: 'string' as const } }])
  );

/** Bodies are parsed only by routes that take one, after the caller is authenticated and has the role. */
const jsonBody = express.json({ limit: '32kb', strict: true, type: ['application/json', 'application/*+json'] });

/** Validates one part of the request, collecting field-level problems instead of stopping at the first. */
function parse<T extends z.ZodType>(
  schema: T | undefined,
  value: unknown,
  where: string,
  problems: ErrorDetail[]
): z.infer<T> {
  if (!schema) return undefined as z.infer<T>;
  const result = schema.safeParse(value);
  if (!result.success) {
    problems.push(...zodDetails(result.error, where));
    return undefined as z.infer<T>;
  }
  return result.data;
}

/** Whether the request carries a body at all (RFC 9112: Content-Length or Transfer-Encoding). */
function hasBody(req: Request): boolean {
  return req.get('transfer-encoding') !== undefined || Number(req.get('content-length') ?? 0) > 0;
}

/**
 * Declares a route once: Express gets the handler behind role checks, input validation and idempotency, and the
 * OpenAPI registry gets the same schemas, so the document describes exactly what the code accepts.
 *
 * Order of checks (each answered with a problem document): authentication (401, in the router) -> role (403) ->
 * body parsing (413 too large, 415 charset, 400 malformed) -> media type (415) -> path, query, body and
 * Idempotency-Key (422, all problems at once) -> idempotency (replay, 409 in flight, 422 reused) -> the handler.
 */
function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  { router, registry, idempotency }: RouteEnv,
  spec: RouteSpec<P, Q, B>,
  handler: Handler<P, Q, B>
): void {
  const parsers = spec.body ? [jsonBody] : [];
  router[spec.method](spec.path, requireRole(...spec.roles), ...parsers, async (req, res) => {
    // express.json() leaves the body undefined when the content type is not JSON.
    if (spec.body && req.body === undefined && hasBody(req)) {
      throw new ApiError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'send the body as application/json');
    }
    const problems: ErrorDetail[] = [];
    const input = {
      params: parse(spec.params, req.params, 'path', problems),
      query: parse(spec.query, { ...(req.query as object) }, 'query', problems),
      body: parse(spec.body, req.body ?? (spec.body ? undefined : {}), 'body', problems),
    };
    const keyHeader = spec.idempotent ? req.get('idempotency-key') : undefined;
    const key = parse(IdempotencyKeyHeader.optional(), keyHeader, 'header.Idempotency-Key', problems);
    if (problems.length > 0) throw ApiError.validation('the request is invalid', problems);

    req.operationId = `req:${randomUUID()}`;
    if (key !== undefined && (await idempotency.begin(req, res, key, input)) === 'answered') return;
    await handler(input, req, res);
  });

  const problemStatuses = [
    400,
    401,
    403,
    429,
    500,
    503,
    ...(spec.body ? [413, 415] : []),
    ...(spec.body || spec.params || spec.query || spec.idempotent ? [422] : []),
    ...(spec.idempotent ? [409] : []),
  ];
  const responses: Record<string, ResponseConfig> = {};
  for (const status of problemStatuses) {
    responses[status] = {
      description: PROBLEM_STATUSES[status]!,
      ...(PROBLEM_HEADERS[status] ? { headers: headerObjects(PROBLEM_HEADERS[status]) } : {}),
      content: { 'application/problem+json': { schema: Problem } },
    };
  }
  for (const [status, response] of Object.entries(spec.responses)) {
    const code = Number(status);
    const isProblem = code >= 400;
    const generic = responses[status]?.description;
    const headers = {
      ...(isProblem ? PROBLEM_HEADERS[code] : {}),
      ...(spec.idempotent && code < 300
        ? { 'Idempotent-Replayed': '`true` when this is the stored response to an earlier request with the same key' }
        : {}),
      ...response.headers,
    };
    responses[status] = {
      description:
        generic && generic !== response.description ? `${response.description}; or: ${generic}` : response.description,
      ...(response.schema
        ? { content: { [isProblem ? 'application/problem+json' : 'application/json']: { schema: response.schema } } }
        : {}),
      ...(Object.keys(headers).length ? { headers: headerObjects(headers) } : {}),
    };
  }
  registry.registerPath({
    method: spec.method,
    path: `/v1${spec.path.replace(/:(\w+)/g, '{$1}')}`,
    operationId: spec.operationId,
    summary: spec.summary,
    description: [
      spec.description,
      `Roles: ${spec.roles.join(', ')}.`,
      spec.idempotent ? 'Honours the Idempotency-Key header.' : undefined,
    ]
      .filter(Boolean)
      .join(' '),
    tags: spec.tags,
    security: [{ BearerAuth: [] }, { ApiKeyAuth: [] }],
    request: {
      ...(spec.params ? { params: spec.params as unknown as z.ZodObject } : {}),
      ...(spec.query ? { query: spec.query as unknown as z.ZodObject } : {}),
      ...(spec.idempotent || spec.headers
        ? {
            headers: spec.headers
              ? spec.idempotent
                ? IdempotencyHeaders.extend(spec.headers.shape)
                : spec.headers
              : IdempotencyHeaders,
          }
        : {}),
      ...(spec.body ? { body: { required: true, content: { 'application/json': { schema: spec.body } } } } : {}),
    },
    responses,
  });
}
