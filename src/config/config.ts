import { z } from 'zod';
import { durationMs } from './duration.js';
import { payloadKeys } from './payload-keys.js';

/**
 * Every setting of every process, parsed once at start-up. This is the only module that reads the
 * environment: everything else receives the typed result.
 */
const configSchema = z.object({
  DATABASE_URL: z
    .url({ protocol: /^postgres(ql)?$/, error: 'must be a postgresql:// URL' })
    .default('postgresql://postgres@127.0.0.1:5432/orders'),
  NATS_URL: z
    .string()
    .regex(/^(nats|tls):\/\/[^\s]+$/, 'must be a nats:// URL')
    .default('nats://127.0.0.1:4222'),
  TEMPORAL_ADDRESS: z
    .string()
    .regex(/^[\w.-]+:\d{1,5}$/, 'must be host:port')
    .default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('orders'),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  EVENTS_ENV: z
    .string()
    .regex(/^[a-z0-9_-]{1,32}$/, 'must be a lower-case NATS subject token such as dev, sit or prod')
    .default('dev'),
  AUTH: z.enum(['on', 'off']).default('on'),
  JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  /** An identity provider's key set: RS256/ES256 tokens verified against it, besides HS256 ones. */
  JWT_JWKS_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s):// URL' }).optional(),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  API_KEYS: z.string().default('').describe('comma-separated role:key pairs for service callers, e.g. service:abc123'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Catalog reservation policy: hold 15 minutes until the order is confirmed. */
  RESERVATION_HOLD: durationMs.default(15 * 60_000),
  /** Card networks keep an authorization for about 7 days. */
  AUTHORIZATION_HOLD: durationMs.default(7 * 86_400_000),
  /** How long before the hold expires the workflow re-authorizes. */
  REAUTHORIZE_BEFORE: durationMs.default(86_400_000),
  /** Catalog backorder window is 3 days; 0 turns backordering off (the default). */
  BACKORDER_WINDOW: durationMs.default(0),
  /** An order not dispatched by then is flagged NeedsAttention (it is not cancelled). */
  DISPATCH_DEADLINE: durationMs.default(3 * 86_400_000),
  /** How long POST /v1/orders waits for the workflow to persist the order before answering 202. */
  ORDER_CREATE_WAIT: durationMs.default(3_000),
  /** How long a cancel waits for the compensations (release, void or refund) before answering 202. */
  CANCEL_WAIT: durationMs.default(10_000),
  /**
   * How long an amendment waits for the order's workflow to take it (a worker running its validator) before answering
   * 503: retried with the same Idempotency-Key, it is the same update and applies once.
   */
  AMEND_WAIT: durationMs.default(10_000),
  /** How long after delivery a customer may start a return; a shipped, not yet delivered order may always return. */
  RETURN_WINDOW: durationMs.default(30 * 86_400_000),
  COMPENSATION_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(100).default(8),
  /** The relay is woken by LISTEN/NOTIFY at each outbox commit (off: it only polls, e.g. behind a transaction pooler). */
  OUTBOX_LISTEN: z.enum(['on', 'off']).default('on'),
  /** How often the relay looks for events anyway: the fallback when listening, the pace when not (then use ~200ms). */
  OUTBOX_POLL_INTERVAL: durationMs.default(2_000),
  OUTBOX_RETENTION: durationMs.default(7 * 86_400_000),
  IDEMPOTENCY_KEY_TTL: durationMs.default(86_400_000),
  RESERVATION_SWEEP_INTERVAL: durationMs.default(60_000),
  /** How often the worker looks for orders whose workflow closed before a terminal stage (see reconciler.ts). */
  RECONCILE_INTERVAL: durationMs.default(60_000),
  CORS_ORIGINS: z.string().default(''),
  /** `id:base64key,...`, newest first: the first key encrypts Temporal payloads, every key decrypts. */
  PAYLOAD_ENCRYPTION_KEYS: payloadKeys.default([]),
  /** `required` (the default): processes that talk to Temporal refuse to start without a key. */
  PAYLOAD_ENCRYPTION: z.enum(['required', 'off']).default('required'),
  /** Origins allowed to call the codec server (/codec): the Temporal Web UI's. */
  CODEC_CORS_ORIGINS: z.string().default('http://localhost:8233'),
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  /** Prometheus metrics are served on their own port, on loopback unless this says otherwise. */
  /**
   * Tracing (OpenTelemetry, standard variable names): off unless an OTLP endpoint is set or OTEL_TRACES_EXPORTER is
   * `otlp`; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off. Read by tracingEndpoint().
   */
  OTEL_SDK_DISABLED: z.enum(['true', 'false']).default('false'),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'none']).optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s):// URL' }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s):// URL' }).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).optional(),
  METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  /** Unset: each role takes its own default (see DEFAULT_METRICS_PORTS) so all of them fit on one host. */
  METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  /**
   * Worker tuning (Temporal SDK options); unset, the SDK's defaults apply: cache sized from memory, 40 workflow tasks,
   * 100 activities and 100 local activities at once, pollers min(10, slots). On the 2-core bench the order is CPU-bound
   * long before any of these binds (bench/README.md).
   */
  WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).optional(),
  WORKER_MAX_CONCURRENT_WORKFLOW_TASKS: z.coerce.number().int().min(2).optional(),
  WORKER_MAX_CONCURRENT_ACTIVITIES: z.coerce.number().int().min(1).optional(),
  WORKER_MAX_CONCURRENT_LOCAL_ACTIVITIES: z.coerce.number().int().min(1).optional(),
  WORKER_WORKFLOW_TASK_POLLERS: z.coerce.number().int().min(2).optional(),
  WORKER_ACTIVITY_TASK_POLLERS: z.coerce.number().int().min(1).optional(),
  /** The worker's Temporal core runtime metrics (task slots, poll latency, sticky cache) on METRICS_HOST. */
  TEMPORAL_METRICS_PORT: z.coerce.number().int().min(1).max(65535).default(9467),
});

/** Metrics ports per process role when METRICS_PORT is unset. */
export const DEFAULT_METRICS_PORTS = { api: 9464, worker: 9465, relay: 9466 } as const;

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = Partial<Record<keyof z.input<typeof configSchema>, string>>;

export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment (or the given values); unknown keys are ignored, bad values all reported at once. */
export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  const values: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = source[key];
    if (value !== undefined && value !== '') values[key] = value;
  }
  const parsed = configSchema.safeParse(values);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`));
  }
  const config = parsed.data;
  if (config.AUTH === 'on' && !config.JWT_SECRET && !config.JWT_JWKS_URL) {
    throw new ConfigError(['JWT_SECRET is required when AUTH=on (set AUTH=off only for local demos)']);
  }
  if (config.JWT_JWKS_URL && (!config.JWT_ISSUER || !config.JWT_AUDIENCE)) {
    throw new ConfigError([
      'JWT_JWKS_URL needs JWT_ISSUER and JWT_AUDIENCE: tokens of any other issuer or audience are refused',
    ]);
  }
  if (config.REAUTHORIZE_BEFORE >= config.AUTHORIZATION_HOLD) {
    // The workflow renews the hold this long before it expires: a lead as long as the hold renews at once, forever.
    throw new ConfigError([
      `REAUTHORIZE_BEFORE (${config.REAUTHORIZE_BEFORE} ms) must be shorter than AUTHORIZATION_HOLD (${config.AUTHORIZATION_HOLD} ms)`,
    ]);
  }
  return config;
}

/** Subject of a bounded context's events, following the catalog channel `<context>.{env}.events`. */
export function eventSubject(config: Pick<Config, 'EVENTS_ENV'>, context: EventContext): string {
  return `${context}.${config.EVENTS_ENV}.events`;
}

export const EVENT_CONTEXTS = [
  'orders',
  'inventory',
  'payments',
  'notifications',
  'shipping',
  'subscriptions',
] as const;
export type EventContext = (typeof EVENT_CONTEXTS)[number];

/** Where spans go (OTLP over HTTP), or undefined when tracing is off, which is the default. */
export function tracingEndpoint(config: Config): string | undefined {
  if (config.OTEL_SDK_DISABLED === 'true' || config.OTEL_TRACES_EXPORTER === 'none') return undefined;
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  // The specification's default collector address, as every OTel SDK uses it.
  const base =
    config.OTEL_EXPORTER_OTLP_ENDPOINT ??
    (config.OTEL_TRACES_EXPORTER === 'otlp' ? 'http://localhost:4318' : undefined);
  return base ? `${base.replace(/\/+$/, '')}/v1/traces` : undefined;
}
