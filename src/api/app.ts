import { randomUUID } from 'node:crypto';
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Client } from '@temporalio/client';
import cors from 'cors';
import express from 'express';
import { rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import type { Config } from '../config/config.js';
import type { Db } from '../db/client.js';
import type { OutboxWriter } from '../events/outbox.js';
import { authenticate } from './auth.js';
import { docsPage } from './docs.js';
import { ApiError, ErrorCode, errorHandler, notFoundHandler } from './errors.js';
import { idempotency } from './idempotency.js';
import { OrderService } from './order-service.js';
import { catalogRoutes } from './routes/catalog.js';
import { fulfilmentRoutes } from './routes/fulfilment.js';
import { orderRoutes } from './routes/orders.js';

export interface ApiDeps {
  config: Config;
  db: Db;
  temporal: Client;
  nats: NatsConnection;
  outbox: OutboxWriter;
  logger: Logger;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** A W3C trace context for the request: the caller's, or a new root. */
function traceparentFor(header: string | undefined): string {
  if (header && TRACEPARENT.test(header)) return header;
  return `00-${randomUUID().replace(/-/g, '')}-${randomUUID().replace(/-/g, '').slice(0, 16)}-01`;
}

export function buildOpenApiDocument(registry: OpenAPIRegistry) {
  registry.registerComponent('securitySchemes', 'BearerAuth', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  registry.registerComponent('securitySchemes', 'ApiKeyAuth', { type: 'apiKey', in: 'header', name: 'X-API-Key' });
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'FlowMart Orders Service API',
      version: '1.0.0',
      description:
        'Checkout as a durable Temporal saga. Money is in integer minor units with an ISO 4217 currency. ' +
        'Errors are RFC 9457 problem documents carrying the catalog Error fields code, message and details.',
    },
    servers: [{ url: '/' }],
  });
}

export function createApp(deps: ApiDeps) {
  const { config, db, temporal, nats, outbox, logger } = deps;
  const app = express();
  const registry = new OpenAPIRegistry();
  const orders = new OrderService(db, temporal, config);
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
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
    res.locals.traceparent = traceparentFor(req.get('traceparent'));
    res.set('X-Request-Id', res.locals.requestId as string);
    const stop = httpDuration.startTimer({ method: req.method });
    res.on('finish', () =>
      stop({ route: (req.route as { path?: string } | undefined)?.path ?? 'unmatched', status: res.statusCode })
    );
    next();
  });
  app.use(helmet({ contentSecurityPolicy: { directives: { 'script-src': ["'self'"] } } }));
  const origins = config.CORS_ORIGINS.split(',')
    .map((origin) => origin.trim())
    .filter(Boolean);
  app.use(
    cors({
      origin: origins.length ? origins : false,
      exposedHeaders: ['Location', 'X-Request-Id', 'Idempotent-Replayed'],
    })
  );
  app.use(express.json({ limit: '32kb', strict: true, type: ['application/json', 'application/*+json'] }));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const checks = {
      postgres: await db.$queryRaw`SELECT 1`.then(
        () => true,
        () => false
      ),
      nats:
        !nats.isClosed() &&
        (await nats.flush().then(
          () => true,
          () => false
        )),
      temporal: await temporal.connection.workflowService.getSystemInfo({}).then(
        () => true,
        () => false
      ),
    };
    const ready = Object.values(checks).every(Boolean);
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
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
  v1.use(
    authenticate({
      enabled: config.AUTH === 'on',
      ...(config.JWT_SECRET ? { jwtSecret: config.JWT_SECRET } : {}),
      apiKeys: config.API_KEYS,
    })
  );
  const idempotent = idempotency(db, config.IDEMPOTENCY_KEY_TTL);
  v1.use((req, res, next) =>
    ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method) ? idempotent(req, res, next) : next()
  );
  orderRoutes(v1, registry, orders, db);
  catalogRoutes(v1, registry, { db, outbox, orders });
  fulfilmentRoutes(v1, registry, orders, db);
  app.use('/v1', v1);

  const document = buildOpenApiDocument(registry);
  app.get('/openapi.json', (_req, res) => {
    res.json(document);
  });
  app.get('/docs', (_req, res) => {
    res.type('html').send(docsPage(document));
  });

  app.use(notFoundHandler);
  app.use(errorHandler(logger));
  return { app, document, orders };
}
