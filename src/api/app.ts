import { trace } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import cors from 'cors';
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { Histogram, Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import type { NatsLink } from '../events/nats.js';
import type { OutboxWriter } from '../events/outbox.js';
import { OrderCommands } from '../orders/commands.js';
import { OrderQueries } from '../orders/queries.js';
import { authenticate } from './auth.js';
import { codecServer } from './codec-server.js';
import { docsPage } from './docs.js';
import { ApiError, ErrorCode, errorHandler, notFoundHandler } from './errors.js';
import { idempotencyStore } from './idempotency.js';
import type { RouteEnv } from './route.js';
import { catalogRoutes } from './routes/catalog.js';
import { fulfilmentRoutes } from './routes/fulfilment.js';
import { orderRoutes } from './routes/orders.js';
import { returnRoutes } from './routes/returns.js';
import { ReturnCommands } from '../returns/commands.js';
import { currentTraceparent } from '../tracing/spans.js';
import { z } from 'zod';

export interface ApiDeps {
  config: Config;
  db: Db;
  temporal: Client;
  /** Serves /codec when set: the same codec as the Temporal client's. */
  codec?: PayloadCodec | undefined;
  /** Only reported by /readyz: the API takes orders without NATS (their events wait in the outbox). */
  events: Pick<NatsLink, 'connected' | 'ready'>;
  outbox: OutboxWriter;
  logger: Logger;
  /** The process's metrics registry, served on the metrics port (not on this public one). */
  metrics?: Registry;
}

/** Set by the server when it starts shutting down: /readyz answers 503 and connections are not kept alive. */
export interface ApiLifecycle {
  draining: boolean;
}

/** Each readiness check gets this long; a dependency that hangs is as unready as one that refuses. */
const READINESS_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const splitList = (text: string) =>
  text
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A W3C trace context for the request: the caller's, or a new root. */
function traceparentFor(header: string | undefined): string {
  if (header && TRACEPARENT.test(header)) return header;
  return `00-${randomUUID().replace(/-/g, '')}-${randomUUID().replace(/-/g, '').slice(0, 16)}-01`;
}

const DESCRIPTION = `Checkout as a durable Temporal saga. Money is in integer minor units with an ISO 4217 currency.

**Authentication.** Send \`Authorization: Bearer <JWT>\` (HS256, issuer \`flowmart-orders\`, audience \`flowmart-api\`,
claims \`sub\` and \`role\`: \`customer\` | \`operator\` | \`service\`; \`npm run token -- --role <role> [--sub <customerId>]\`
prints one) or \`X-API-Key\` (keys from API_KEYS, one role each). A missing, invalid or expired credential is 401 with
\`WWW-Authenticate\`. Customers see and change only their own orders: another customer's order answers 404, as if it did
not exist; placing an order for another customerId is 403. Services update shipments and stock but do not place orders;
operators may do everything. \`AUTH=off\` (local demos only, never in production) makes every caller an operator.

**Placing an order.** \`POST /v1/orders\` starts the order's workflow and waits up to ORDER_CREATE_WAIT (default 3s) for
the workflow to persist the order: 201 with the order, or 202 with \`Location\` when it has not yet (the worker is behind
or down). \`GET\` on that location answers 202 until the order is persisted, then 200. \`Prefer: wait=N\` (N <= 30 seconds)
holds the answer until the order is confirmed, backordered or cancelled: the saga is started with Update-with-Start, so
that answer comes in one round trip (201 with the order, or 202 with \`Location\` if the wait runs out first). Prices
come from the catalog: an unknown product, a \`price\` that differs from the catalog's, a product priced in another
currency, an empty order or more than 50 lines are 422 with field-level \`errors\`.

**Idempotency.** Every mutating route honours \`Idempotency-Key\` (8-255 characters of letters, digits, \`_ . : -\`),
with Stripe's semantics: a retry with the same key and body returns the first response with \`Idempotent-Replayed: true\`;
the same key with a different body is **422** IDEMPOTENCY_KEY_REUSED (Stripe answers 400; 422 because the request is
well-formed but cannot be processed); a retry while the first request is still running is 409 IDEMPOTENCY_KEY_IN_USE.
Only executed requests are remembered (2xx, 404, 409): a request refused by authentication or validation, or failed
with a 5xx, leaves the key free to retry. Keys are scoped to the caller and expire after IDEMPOTENCY_KEY_TTL (default 24h).
Amendments and cancellations use the key as the Temporal update id, so the order applies each at most once.

**Errors** are RFC 9457 \`application/problem+json\` documents carrying the catalog Error fields \`code\` (stable, switch
on it), \`message\` and \`details[]\`, plus \`errors[]\` with the field of each problem. 400: malformed JSON; 404: no
such resource (or not yours); 409: the resource's state forbids the change; 413: body over 32 kB; 415: not JSON;
422: invalid fields (unknown fields are rejected, not ignored); 429: rate limited; 503: a dependency is down, retry.
No response ever carries a stack trace or an internal message.`;

export function buildOpenApiDocument(registry: OpenAPIRegistry) {
  registry.registerComponent('securitySchemes', 'BearerAuth', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'HS256 JWT with iss flowmart-orders, aud flowmart-api, sub and role claims',
  });
  registry.registerComponent('securitySchemes', 'ApiKeyAuth', {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description: 'A key from API_KEYS (role:key pairs), for services that cannot hold a JWT',
  });
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'FlowMart Orders Service API', version: '1.0.0', description: DESCRIPTION },
    servers: [{ url: '/' }],
  });
}

const Health = z.object({ status: z.literal('ok') }).openapi('Health');
const Readiness = z
  .object({
    status: z.enum(['ready', 'degraded', 'unavailable', 'draining']),
    checks: z.object({ postgres: z.boolean(), nats: z.boolean(), temporal: z.boolean() }),
  })
  .openapi('Readiness');

/** The operational endpoints are public and outside /v1, but part of the contract all the same. */
function registerOperationalPaths(registry: OpenAPIRegistry) {
  const common = { tags: ['operations'], security: [] };
  registry.registerPath({
    ...common,
    method: 'get',
    path: '/healthz',
    operationId: 'Health',
    summary: 'Liveness: the process serves HTTP',
    responses: { 200: { description: 'Alive', content: { 'application/json': { schema: Health } } } },
  });
  registry.registerPath({
    ...common,
    method: 'get',
    path: '/readyz',
    operationId: 'Readiness',
    summary: 'Readiness: PostgreSQL and Temporal answer within 2 s, and the server is not shutting down',
    description:
      'NATS is reported but does not decide readiness: orders are taken and run without it (their events wait in ' +
      'the outbox and are published when it is back), so an outage answers 200 with `status: degraded` and ' +
      '`checks.nats: false`.',
    responses: {
      200: { description: 'Ready', content: { 'application/json': { schema: Readiness } } },
      503: { description: 'Not ready', content: { 'application/json': { schema: Readiness } } },
    },
  });
  registry.registerPath({
    ...common,
    method: 'get',
    path: '/openapi.json',
    operationId: 'OpenApiDocument',
    summary: 'This document',
    responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } },
  });
  registry.registerPath({
    ...common,
    method: 'get',
    path: '/docs',
    operationId: 'Docs',
    summary: 'This document for people',
    responses: { 200: { description: 'HTML', content: { 'text/html': { schema: { type: 'string' } } } } },
  });
}

export function createApp(deps: ApiDeps) {
  const { config, db, temporal, codec, events, outbox, logger } = deps;
  const metrics = deps.metrics ?? new Registry();
  const app = express();
  const lifecycle: ApiLifecycle = { draining: false };
  const registry = new OpenAPIRegistry();
  const queries = new OrderQueries(db, temporal);
  const commands = new OrderCommands(db, temporal, config, queries);
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    registers: [metrics],
  });

  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use((req, res, next) => {
    const requestId = req.get('x-request-id');
    res.locals.requestId = requestId && /^[\w.-]{1,128}$/.test(requestId) ? requestId : randomUUID();
    // Traced, the request's server span is the parent of everything the order does; untraced, a context is made up
    // so that events still carry one.
    const span = trace.getActiveSpan();
    res.locals.traceparent = currentTraceparent() ?? traceparentFor(req.get('traceparent'));
    res.set('X-Request-Id', res.locals.requestId as string);
    if (lifecycle.draining) res.set('Connection', 'close');
    const stop = httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      stop({ route: route ?? 'unmatched', status: res.statusCode });
      if (route)
        span?.updateName(`${req.method} ${req.baseUrl}${route}`).setAttribute('http.route', `${req.baseUrl}${route}`);
    });
    next();
  });
  app.use(helmet({ contentSecurityPolicy: { directives: { 'script-src': ["'self'"] } } }));
  const auth = authenticate({
    enabled: config.AUTH === 'on',
    ...(config.JWT_SECRET ? { jwtSecret: config.JWT_SECRET } : {}),
    ...(config.JWT_JWKS_URL && config.JWT_ISSUER && config.JWT_AUDIENCE
      ? { jwks: { url: config.JWT_JWKS_URL, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE } }
      : {}),
    apiKeys: config.API_KEYS,
  });
  // Before the API's CORS: the codec server answers the Web UI's origin, which the API need not allow.
  if (codec)
    app.use('/codec', codecServer({ codec, origins: splitList(config.CODEC_CORS_ORIGINS), authenticate: auth }));
  const origins = splitList(config.CORS_ORIGINS);
  app.use(
    cors({
      origin: origins.length ? origins : false,
      exposedHeaders: ['Location', 'X-Request-Id', 'Idempotent-Replayed'],
    })
  );

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const check = (probe: () => Promise<unknown>) =>
      withTimeout(probe(), READINESS_TIMEOUT_MS).then(
        () => true,
        () => false
      );
    const deadline = Date.now() + READINESS_TIMEOUT_MS;
    const [postgres, natsOk, temporalOk] = await Promise.all([
      check(() => db.$queryRaw`SELECT 1`),
      check(async () => {
        if (!events.connected()) throw new Error('not connected');
        await (await events.ready).nats.flush();
      }),
      check(() =>
        temporal.connection.withDeadline(deadline, () => temporal.connection.workflowService.getSystemInfo({}))
      ),
    ]);
    const checks = { postgres, nats: natsOk, temporal: temporalOk };
    // A load balancer keeps sending orders during a NATS outage: they need only PostgreSQL and Temporal.
    const ready = postgres && temporalOk && !lifecycle.draining;
    const status = lifecycle.draining ? 'draining' : !ready ? 'unavailable' : natsOk ? 'ready' : 'degraded';
    res.status(ready ? 200 : 503).json({ status, checks });
  });

  const v1 = express.Router();
  v1.use(
    rateLimit({
      windowMs: 60_000,
      limit: config.RATE_LIMIT_PER_MINUTE,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      handler: (_req, _res, next) => next(new ApiError(429, ErrorCode.RATE_LIMITED, 'too many requests; slow down')),
    })
  );
  v1.use(auth);
  const routes: RouteEnv = {
    router: v1,
    registry,
    idempotency: idempotencyStore(db, config.IDEMPOTENCY_KEY_TTL, logger),
  };
  orderRoutes(routes, commands, queries);
  catalogRoutes(routes, { db, outbox, temporal });
  fulfilmentRoutes(routes, commands, db);
  returnRoutes(routes, new ReturnCommands(db, outbox, temporal, config));
  app.use('/v1', v1);

  registerOperationalPaths(registry);
  const document = buildOpenApiDocument(registry);
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.get('/docs', (_req, res) => {
    res.type('html').send(docsPage(document));
  });

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return { app, document, lifecycle };
}
