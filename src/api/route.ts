import type { OpenAPIRegistry, ResponseConfig } from '@asteasolutions/zod-to-openapi';
import type { Request, Response, Router } from 'express';
import type { Role } from './auth.js';
import { requireRole } from './auth.js';
import { ApiError, ErrorCode, zodDetails } from './errors.js';
import { IdempotencyKeyHeader, Problem } from './schemas.js';
import { z } from 'zod';

const IdempotencyHeaders = z.object({
  'Idempotency-Key': IdempotencyKeyHeader.optional().openapi({
    description: 'Retries with the same key and body return the first response',
  }),
});

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: Method;
  /** Express syntax, relative to /v1: `/orders/:orderId`. */
  path: string;
  operationId: string;
  summary: string;
  tags: string[];
  roles: Role[];
  params?: P;
  query?: Q;
  body?: B;
  /** Whether the route honours Idempotency-Key (every mutating route does). */
  idempotent?: boolean;
  responses: Record<number, { description: string; schema?: z.ZodType; headers?: Record<string, string> }>;
}

export interface Parsed<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

const PROBLEM_STATUSES: Record<number, string> = {
  400: 'Malformed request',
  401: 'Authentication required',
  403: 'Not allowed for this role',
  413: 'Body too large',
  415: 'Not JSON',
  422: 'Invalid request',
  429: 'Rate limited',
  500: 'Unexpected failure',
};

function parse<T extends z.ZodType>(schema: T | undefined, value: unknown, where: string): z.infer<T> {
  if (!schema) return undefined as z.infer<T>;
  const result = schema.safeParse(value);
  if (!result.success) throw ApiError.validation(`the ${where} is invalid`, zodDetails(result.error, where));
  return result.data;
}

/**
 * Declares a route once: Express gets the handler behind role checks and input validation, and the OpenAPI
 * registry gets the same schemas, so the document describes exactly what the code accepts.
 */
export function defineRoute<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(
  router: Router,
  registry: OpenAPIRegistry,
  spec: RouteSpec<P, Q, B>,
  handler: (input: Parsed<z.infer<P>, z.infer<Q>, z.infer<B>>, req: Request, res: Response) => Promise<void>
): void {
  router[spec.method](spec.path, requireRole(...spec.roles), async (req, res) => {
    const contentType = req.get('content-type');
    if (spec.body && req.body === undefined && contentType && !contentType.includes('json')) {
      throw new ApiError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'send application/json');
    }
    const input = {
      params: parse(spec.params, req.params, 'path'),
      query: parse(spec.query, { ...(req.query as object) }, 'query'),
      body: parse(spec.body, req.body ?? (spec.body ? undefined : {}), 'body'),
    };
    await handler(input, req, res);
  });

  const problemStatuses = [
    401,
    403,
    429,
    500,
    ...(spec.body ? [400, 413, 415] : []),
    ...(spec.body || spec.params || spec.query ? [422] : []),
  ];
  const responses: Record<string, ResponseConfig> = {};
  for (const status of problemStatuses) {
    responses[status] = {
      description: PROBLEM_STATUSES[status]!,
      content: { 'application/problem+json': { schema: Problem } },
    };
  }
  for (const [status, response] of Object.entries(spec.responses)) {
    const isProblem = Number(status) >= 400;
    responses[status] = {
      description: response.description,
      ...(response.schema
        ? { content: { [isProblem ? 'application/problem+json' : 'application/json']: { schema: response.schema } } }
        : {}),
      ...(response.headers
        ? {
            headers: Object.fromEntries(
              Object.entries(response.headers).map(([name, description]) => [
                name,
                { description, schema: { type: 'string' } },
              ])
            ),
          }
        : {}),
    };
  }
  registry.registerPath({
    method: spec.method,
    path: `/v1${spec.path.replace(/:(\w+)/g, '{$1}')}`,
    operationId: spec.operationId,
    summary: spec.summary,
    description: `Roles: ${spec.roles.join(', ')}.${spec.idempotent ? ' Honours the Idempotency-Key header.' : ''}`,
    tags: spec.tags,
    security: [{ BearerAuth: [] }, { ApiKeyAuth: [] }],
    request: {
      ...(spec.params ? { params: spec.params as unknown as z.ZodObject } : {}),
      ...(spec.query ? { query: spec.query as unknown as z.ZodObject } : {}),
      ...(spec.idempotent ? { headers: IdempotencyHeaders } : {}),
      ...(spec.body ? { body: { required: true, content: { 'application/json': { schema: spec.body } } } } : {}),
    },
    responses,
  });
}
