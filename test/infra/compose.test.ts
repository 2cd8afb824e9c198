/**
 * Checks docker-compose.yml (and the Dockerfile it builds) with a REAL compose parser, without a Docker daemon:
 * `config` only reads, interpolates and validates the file.
 *
 * Parser, in order of preference:
 *   1. $COMPOSE_BIN (path to a `docker-compose` binary, v1 or v2)
 *   2. `docker compose` (the v2 CLI plugin) - understands the current Compose spec and prints JSON
 *   3. `docker-compose` (v2 standalone, or v1 from Debian's `docker-compose` package; v1 prints YAML)
 * With none of them the suite is skipped with a loud reason, or fails when REQUIRE_COMPOSE=1.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Histogram } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  searchAttributeArgs,
  TEMPORAL_SERVER,
  TEMPORAL_UI_SERVER,
  temporalServerArgs,
} from '../../scripts/lib/temporal-cluster.js';
import { createMetrics, registerStateGauges } from '../../src/metrics/metrics.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const COMPOSE_FILE = join(ROOT, 'docker-compose.yml');
const DOCKERFILE = join(ROOT, 'Dockerfile');

const JWT_SECRET = 'compose-test-secret-0123456789abcdef0123456789';
const PAYLOAD_ENCRYPTION_KEYS = 'compose:Y29tcG9zZS10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGU=';
const APP_SERVICES = ['migrate', 'api', 'worker', 'relay'] as const;
const APP_ENV_NAMES = [
  'DATABASE_URL',
  'NATS_URL',
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_TASK_QUEUE',
  'EVENTS_ENV',
] as const;
/** Where compose mounts deploy/temporal, the directory `npm run cluster` uses in place. */
const TEMPORAL_DEPLOY_MOUNT = '/etc/temporal/flowmart';

interface ComposeParser {
  label: string;
  command: string;
  baseArgs: string[];
  /** v2 prints the model as JSON; v1 only as YAML. */
  json: boolean;
}

interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
  error?: Error;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): RunResult {
  const result = spawnSync(command, args, { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  return {
    status: result.status,
    stdout: result.stdout ?? '',
    stderr: result.stderr ?? '',
    ...(result.error ? { error: result.error } : {}),
  };
}

function probe(label: string, command: string, baseArgs: string[]): ComposeParser | undefined {
  const version = run(command, [...baseArgs, 'version']);
  if (version.error || version.status !== 0) return undefined;
  const text = `${version.stdout}${version.stderr}`;
  // v1 says "docker-compose version 1.29.2, build ..."; v2 says "Docker Compose version v2.x" (or "dev").
  const v1 = /docker-compose version 1\./i.test(text);
  return {
    label: `${[command, ...baseArgs].join(' ')} (${text.split('\n')[0]?.trim()})`,
    command,
    baseArgs,
    json: !v1,
  };
}

function findParser(): ComposeParser | undefined {
  const explicit = process.env['COMPOSE_BIN'];
  if (explicit) return probe(explicit, explicit, []);
  return probe('docker compose', 'docker', ['compose']) ?? probe('docker-compose', 'docker-compose', []);
}

const parser = findParser();
if (!parser) {
  const reason =
    'NO COMPOSE PARSER: neither `docker compose` (v2 plugin) nor `docker-compose` is installed, so ' +
    'docker-compose.yml is NOT validated. Install one, e.g. `apt-get install -y docker-compose` (Debian bookworm: v1.29.2).';
  if (process.env['REQUIRE_COMPOSE'] === '1') throw new Error(reason);
  console.warn(`\n${'!'.repeat(100)}\n${reason}\n${'!'.repeat(100)}\n`);
}

type Json = Record<string, unknown>;

/** A scalar from the rendered model as text (null and missing become ''). */
function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function asRecord(value: unknown): Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : {};
}

/** The environment for compose itself: no inherited COMPOSE_* settings, no stray secrets. */
function composeEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('COMPOSE_') || key === 'JWT_SECRET' || key === 'PAYLOAD_ENCRYPTION_KEYS') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

let workDir = '';

function runConfig(env: NodeJS.ProcessEnv): RunResult {
  if (!parser) throw new Error('no compose parser');
  // An empty --env-file, so a developer's .env can neither satisfy nor break the checks.
  const envFile = join(workDir, 'empty.env');
  const args = [
    ...parser.baseArgs,
    '--project-directory',
    ROOT,
    '--env-file',
    envFile,
    '-f',
    COMPOSE_FILE,
    'config',
    ...(parser.json ? ['--format', 'json'] : []),
  ];
  return run(parser.command, args, env);
}

async function parseModel(stdout: string): Promise<Json> {
  if (parser?.json) return JSON.parse(stdout) as Json;
  const { parse } = await import('yaml');
  return asRecord(parse(stdout));
}

/** Host ports a service publishes, from the short ("127.0.0.1:5432:5432/tcp") or the long syntax. */
function published(service: Json): Array<{ host: number; target: number }> {
  const ports = Array.isArray(service['ports']) ? (service['ports'] as unknown[]) : [];
  return ports.flatMap((port) => {
    if (typeof port === 'string' || typeof port === 'number') {
      const parts = String(port)
        .replace(/\/\w+$/, '')
        .split(':');
      if (parts.length < 2) return [];
      return [{ host: Number(parts[parts.length - 2]), target: Number(parts[parts.length - 1]) }];
    }
    const long = asRecord(port);
    if (long['published'] === undefined || long['published'] === '') return [];
    return [{ host: Number(long['published']), target: Number(long['target']) }];
  });
}

function environment(service: Json): Record<string, string> {
  const env = service['environment'];
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const pair = text(entry);
        const at = pair.indexOf('=');
        return at === -1 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
      })
    );
  }
  return Object.fromEntries(Object.entries(asRecord(env)).map(([key, value]) => [key, text(value)]));
}

function dependsOn(service: Json): Record<string, string> {
  const deps = service['depends_on'];
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((name) => [text(name), 'service_started']));
  return Object.fromEntries(
    Object.entries(asRecord(deps)).map(([name, dep]) => [name, text(asRecord(dep)['condition']) || 'service_started'])
  );
}

function replicas(service: Json): number {
  const fromDeploy = asRecord(service['deploy'])['replicas'];
  if (fromDeploy !== undefined) return Number(fromDeploy);
  if (service['scale'] !== undefined) return Number(service['scale']);
  return 1;
}

function commandText(service: Json, key = 'command'): string {
  const command = service[key];
  return Array.isArray(command) ? command.map(text).join(' ') : text(command);
}

/** Bind mounts as `source -> target`, from the short ("src:dst:ro") or the long syntax. */
function mounts(service: Json): string[] {
  const volumes = Array.isArray(service['volumes']) ? (service['volumes'] as unknown[]) : [];
  return volumes.map((volume) => {
    if (typeof volume === 'string') {
      const [source, target] = volume.split(':');
      return `${source} -> ${target}`;
    }
    const long = asRecord(volume);
    return `${text(long['source'])} -> ${text(long['target'])}`;
  });
}

describe.skipIf(!parser)(`docker-compose.yml through ${parser?.label ?? 'no parser'}`, () => {
  let config: RunResult;
  let model: Json = {};
  let services: Record<string, Json> = {};
  const service = (name: string): Json => asRecord(services[name]);

  beforeAll(async () => {
    workDir = mkdtempSync(join(tmpdir(), 'compose-test-'));
    writeFileSync(join(workDir, 'empty.env'), '');
    config = runConfig(composeEnv({ JWT_SECRET, PAYLOAD_ENCRYPTION_KEYS }));
    if (config.status === 0) {
      model = await parseModel(config.stdout);
      services = Object.fromEntries(Object.entries(asRecord(model['services'])).map(([k, v]) => [k, asRecord(v)]));
    }
  }, 120_000);

  afterAll(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('is accepted by the parser (config exits 0)', () => {
    expect(config.error, String(config.error)).toBeUndefined();
    expect(config.status, `compose config failed:\n${config.stderr}`).toBe(0);
    expect(Object.keys(services).length).toBeGreaterThan(0);
  });

  it('defines the whole system', () => {
    for (const name of [
      'postgres',
      'nats',
      'temporal-schema',
      'temporal',
      'temporal-admin-tools',
      'temporal-ui',
      ...APP_SERVICES,
    ]) {
      expect(services, `service ${name}`).toHaveProperty([name]);
    }
  });

  it('publishes the API on 3000 and the Temporal Web UI on 8233 (the dev server address)', () => {
    expect(published(service('api'))).toContainEqual({ host: 3000, target: 3000 });
    expect(published(service('temporal-ui'))).toContainEqual({ host: 8233, target: 8080 });
    expect(environment(service('temporal-ui'))).toMatchObject({
      TEMPORAL_ADDRESS: 'temporal:7233',
      TEMPORAL_CORS_ORIGINS: 'http://localhost:3000',
    });
  });

  it('runs several workers and relays, none of them publishing a port', () => {
    expect(replicas(service('worker'))).toBeGreaterThanOrEqual(2);
    expect(replicas(service('relay'))).toBeGreaterThanOrEqual(2);
    expect(published(service('worker'))).toEqual([]);
    expect(published(service('relay'))).toEqual([]);
  });

  it('starts the app only after the migrations completed and Temporal is set up', () => {
    expect(dependsOn(service('api'))).toMatchObject({
      migrate: 'service_completed_successfully',
      'temporal-admin-tools': 'service_completed_successfully',
      nats: 'service_healthy',
    });
    expect(dependsOn(service('worker'))).toMatchObject({
      migrate: 'service_completed_successfully',
      'temporal-admin-tools': 'service_completed_successfully',
    });
    expect(dependsOn(service('relay'))).toMatchObject({
      migrate: 'service_completed_successfully',
      'temporal-admin-tools': 'service_completed_successfully',
      nats: 'service_healthy',
    });
    expect(dependsOn(service('migrate'))).toMatchObject({ postgres: 'service_healthy' });
    expect(dependsOn(service('temporal-schema'))).toMatchObject({ postgres: 'service_healthy' });
    expect(dependsOn(service('temporal'))).toMatchObject({ 'temporal-schema': 'service_completed_successfully' });
  });

  it('gives every app service the shared settings, with JWT_SECRET interpolated', () => {
    // Any service built from this repo is an app role and must be listed (and so checked) here.
    const built = Object.entries(services)
      .filter(([, svc]) => svc['build'] !== undefined)
      .map(([name]) => name)
      .sort();
    expect(built).toEqual([...APP_SERVICES].sort());
    for (const name of APP_SERVICES) {
      const env = environment(service(name));
      for (const key of APP_ENV_NAMES) expect(env[key], `${name}.${key}`).toBeTruthy();
      expect(env, name).toMatchObject({
        NATS_URL: 'nats://nats:4222',
        TEMPORAL_ADDRESS: 'temporal:7233',
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_TASK_QUEUE: 'orders',
        EVENTS_ENV: 'dev',
        AUTH: 'on',
        JWT_SECRET,
        PAYLOAD_ENCRYPTION_KEYS,
      });
      expect(env['DATABASE_URL'], name).toMatch(/^postgresql:\/\/postgres:postgres@postgres:5432\/orders(\?|$)/);
    }
    // dbmate's driver would insist on TLS, which the postgres image does not serve.
    expect(environment(service('migrate'))['DATABASE_URL']).toContain('sslmode=disable');
  });

  it('runs each role of the one image by its command', () => {
    const images = new Set(APP_SERVICES.map((name) => service(name)['image']));
    expect(images.size).toBe(1);
    expect(commandText(service('api'))).toBe('node dist/api/main.js');
    expect(commandText(service('worker'))).toBe('node dist/worker/main.js');
    expect(commandText(service('relay'))).toBe('node dist/events/relay-main.js');
    expect(commandText(service('migrate'))).toMatch(
      /^npx dbmate --migrations-dir prisma\/migrations --no-dump-schema( --wait)? up$/
    );
  });

  it('backs the infrastructure with healthchecks, volumes and the search-attribute one-shot', () => {
    expect(JSON.stringify(asRecord(service('postgres')['healthcheck'])['test'])).toContain('pg_isready');
    expect(environment(service('postgres'))).toMatchObject({ POSTGRES_DB: 'orders' });
    expect(commandText(service('nats'))).toMatch(/-js -sd \/data -m 8222/);
    expect(JSON.stringify(asRecord(service('nats')['healthcheck'])['test'])).toContain('8222/healthz');
    expect(published(service('temporal'))).toContainEqual({ host: 7233, target: 7233 });
    expect(Object.keys(asRecord(model['volumes']))).toEqual(expect.arrayContaining(['postgres-data', 'nats-data']));
  });

  it('runs the Temporal server version, schema setup and settings that `npm run cluster` runs', () => {
    const version = TEMPORAL_SERVER.version.replace(/^v/, '');
    expect(text(service('temporal')['image'])).toBe(`temporalio/server:${version}`);
    for (const oneShot of ['temporal-schema', 'temporal-admin-tools']) {
      expect(text(service(oneShot)['image'])).toMatch(new RegExp(`^temporalio/admin-tools:${version}-`));
    }
    expect(text(service('temporal-ui')['image'])).toBe(`temporalio/ui:${TEMPORAL_UI_SERVER.version.replace(/^v/, '')}`);
    // The same files: deploy/temporal mounted where the commands read it.
    for (const name of ['temporal-schema', 'temporal', 'temporal-admin-tools']) {
      expect(mounts(service(name)), name).toContain(`${join(ROOT, 'deploy', 'temporal')} -> ${TEMPORAL_DEPLOY_MOUNT}`);
    }
    // The same schema setup: the sql tool over the server version's postgresql/v12 schema, via setup-schema.sh.
    expect(commandText(service('temporal-schema'), 'entrypoint')).toBe(`sh ${TEMPORAL_DEPLOY_MOUNT}/setup-schema.sh`);
    expect(environment(service('temporal-schema'))).toMatchObject({
      SQL_TOOL: 'temporal-sql-tool',
      SCHEMA_DIR: '/etc/temporal/schema/postgresql/v12',
      TEMPORAL_DB_HOST: 'postgres',
      TEMPORAL_DB: 'temporal',
      TEMPORAL_VISIBILITY_DB: 'temporal_visibility',
    });
    // The same config template and dynamic config, with the arguments the local server gets.
    expect(commandText(service('temporal'))).toContain(
      `exec temporal-server ${temporalServerArgs('/etc/temporal', 'flowmart').join(' ')}`
    );
    expect(environment(service('temporal'))).toMatchObject({
      TEMPORAL_DB_HOST: 'postgres',
      TEMPORAL_DB: 'temporal',
      TEMPORAL_VISIBILITY_DB: 'temporal_visibility',
      TEMPORAL_BIND_IP: '0.0.0.0',
      TEMPORAL_DYNAMIC_CONFIG: `${TEMPORAL_DEPLOY_MOUNT}/dynamicconfig.yaml`,
    });
    // The same namespace setup: setup-namespace.sh with src/workflows/search-attributes.ts, attribute for attribute.
    expect(commandText(service('temporal-admin-tools'), 'entrypoint')).toBe(
      `sh ${TEMPORAL_DEPLOY_MOUNT}/setup-namespace.sh`
    );
    expect(commandText(service('temporal-admin-tools'))).toBe(searchAttributeArgs().join(' '));
  });

  it('runs Prometheus and Grafana with the configuration, rules and dashboard from monitoring/', () => {
    const mounts = (name: string) => JSON.stringify(service(name)['volumes']);
    expect(text(service('prometheus')['image'])).toMatch(/^prom\/prometheus:/);
    expect(mounts('prometheus')).toContain('monitoring/prometheus/prometheus.yml');
    expect(mounts('prometheus')).toContain('monitoring/prometheus/alerts.yml');
    expect(published(service('prometheus'))).toContainEqual({ host: 9090, target: 9090 });
    expect(text(service('grafana')['image'])).toMatch(/^grafana\/grafana:/);
    expect(mounts('grafana')).toContain('monitoring/grafana/provisioning');
    expect(mounts('grafana')).toContain('monitoring/grafana/dashboards');
    expect(dependsOn(service('grafana'))).toHaveProperty('prometheus');
    expect(Object.keys(asRecord(model['volumes']))).toEqual(
      expect.arrayContaining(['prometheus-data', 'grafana-data'])
    );
  });

  it('lets Prometheus reach every app process: metrics listen on all interfaces, on the scraped ports', async () => {
    for (const name of ['api', 'worker', 'relay'])
      expect(environment(service(name))['METRICS_HOST'], name).toBe('0.0.0.0');
    const targets = JSON.stringify(await scrapeConfigs());
    for (const target of ['api:9464', '"worker"', '9465', '9467', '"relay"', '9466']) expect(targets).toContain(target);
  });

  it('refuses to render without JWT_SECRET (the :? guard), naming the variable', () => {
    const result = runConfig(composeEnv({ PAYLOAD_ENCRYPTION_KEYS }));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/JWT_SECRET/);
    expect(result.stderr).toMatch(/set JWT_SECRET/);
  });

  it('refuses to render without PAYLOAD_ENCRYPTION_KEYS: histories are never written in clear', () => {
    const result = runConfig(composeEnv({ JWT_SECRET }));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/set PAYLOAD_ENCRYPTION_KEYS/);
  });
});

async function readYaml(path: string): Promise<Json> {
  const { parse } = await import('yaml');
  return asRecord(parse(readFileSync(join(ROOT, path), 'utf8')));
}

async function scrapeConfigs(): Promise<unknown[]> {
  const prometheus = await readYaml('monitoring/prometheus/prometheus.yml');
  return Array.isArray(prometheus['scrape_configs']) ? (prometheus['scrape_configs'] as unknown[]) : [];
}

describe('monitoring/ (Prometheus rules, Grafana dashboard)', () => {
  it('the scrape configuration loads the alert rules', async () => {
    const prometheus = await readYaml('monitoring/prometheus/prometheus.yml');
    expect(prometheus['rule_files']).toEqual(['/etc/prometheus/alerts.yml']);
    expect((await scrapeConfigs()).map((job) => asRecord(job)['job_name'])).toEqual(
      expect.arrayContaining(['api', 'worker', 'temporal-worker', 'relay'])
    );
  });

  it('has an alert for outbox lag, parked messages, NeedsAttention and failing compensation, each on a real metric', async () => {
    const rules = await readYaml('monitoring/prometheus/alerts.yml');
    const groups = Array.isArray(rules['groups']) ? (rules['groups'] as unknown[]).map(asRecord) : [];
    const alerts = groups.flatMap((group) => (Array.isArray(group['rules']) ? group['rules'] : []).map(asRecord));
    const byMetric = new Map<string, string>();
    const known = definedMetrics();
    for (const alert of alerts) {
      expect(text(alert['alert']), JSON.stringify(alert)).toMatch(/^[A-Z]\w+$/);
      expect(text(asRecord(alert['labels'])['severity']), text(alert['alert'])).toMatch(/^(page|ticket)$/);
      for (const metric of metricNames(text(alert['expr']))) {
        expect(known, `${text(alert['alert'])} names ${metric}`).toContain(metric);
        byMetric.set(metric, text(alert['alert']));
      }
    }
    for (const metric of [
      'flowmart_outbox_lag_seconds',
      'flowmart_parked_messages',
      'flowmart_orders_needing_attention',
      'flowmart_compensation_failures_total',
    ]) {
      expect(byMetric.has(metric), `an alert on ${metric}`).toBe(true);
    }
  });

  it('the provisioned dashboard is JSON whose queries name only metrics the service defines', async () => {
    const dashboard = asRecord(
      JSON.parse(readFileSync(join(ROOT, 'monitoring/grafana/dashboards/flowmart.json'), 'utf8')) as unknown
    );
    const provider = await readYaml('monitoring/grafana/provisioning/dashboards/flowmart.yml');
    expect(JSON.stringify(provider)).toContain('/var/lib/grafana/dashboards');
    const panels = Array.isArray(dashboard['panels']) ? (dashboard['panels'] as unknown[]).map(asRecord) : [];
    const exprs = panels.flatMap((panel) =>
      (Array.isArray(panel['targets']) ? panel['targets'] : []).map((target) => text(asRecord(target)['expr']))
    );
    const known = definedMetrics();
    const used = new Set(exprs.flatMap(metricNames));
    for (const metric of used) expect(known, `the dashboard names ${metric}`).toContain(metric);
    // orders/s, the confirmation latency histogram, outbox lag, parked messages, orders needing attention.
    expect([...used]).toEqual(
      expect.arrayContaining([
        'http_request_duration_seconds_count',
        'flowmart_order_confirmation_seconds_bucket',
        'flowmart_outbox_lag_seconds',
        'flowmart_parked_messages',
        'flowmart_orders_needing_attention',
      ])
    );
  });
});

/** Series names the processes expose: src/metrics' instruments, histograms with their _bucket/_count/_sum. */
function definedMetrics(): string[] {
  const metrics = createMetrics();
  // The gauges query the database only when scraped; listing them never does.
  registerStateGauges(metrics, {} as Parameters<typeof registerStateGauges>[1]);
  const names = metrics.registry.getMetricsAsArray().map((metric) => ({
    name: (metric as unknown as { name: string }).name,
    histogram: metric instanceof Histogram,
  }));
  // The API's request histogram lives with the Express app (src/api/app.ts), on the same registry.
  const api = readFileSync(join(ROOT, 'src/api/app.ts'), 'utf8');
  if (api.includes("name: 'http_request_duration_seconds'"))
    names.push({ name: 'http_request_duration_seconds', histogram: true });
  return names.flatMap(({ name, histogram }) =>
    histogram ? [name, `${name}_bucket`, `${name}_count`, `${name}_sum`] : [name]
  );
}

const PROMQL_WORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
]);

/** Metric names in a PromQL expression: identifiers that are neither functions, keywords, labels nor literals. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...stripped.matchAll(/(?<![\w.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()/g)]
    .map((match) => match[1] ?? '')
    .filter((word) => !PROMQL_WORDS.has(word) && !/^(Inf|NaN)$/i.test(word));
}

describe('Dockerfile', () => {
  const text = existsSync(DOCKERFILE) ? readFileSync(DOCKERFILE, 'utf8') : '';

  it('builds on node:20-bookworm-slim in stages and runs unprivileged under an init', () => {
    expect(text.match(/^FROM\s/gm)?.length ?? 0).toBeGreaterThanOrEqual(2);
    expect(text).toMatch(/node:20-bookworm-slim/);
    // Exactly the lockfile, as CI installs it.
    expect(text).toMatch(/^RUN npm ci --no-audit --no-fund --ignore-scripts$/m);
    expect(text).not.toMatch(/^\s*RUN\b.*\bnpm install\b/m);
    expect(text).toMatch(/PRISMA_SCHEMA_ENGINE_BINARY=\/bin\/true/);
    expect(text).toMatch(/npx prisma generate/);
    expect(text).toMatch(/npx tsc -p tsconfig\.build\.json/);
    expect(text).toMatch(/^USER (?!root)\S+/m);
    expect(text).toMatch(/NODE_ENV=production/);
    expect(text).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--"\]/m);
    expect(text).toMatch(/^HEALTHCHECK [\s\S]*fetch\([\s\S]*\/healthz/m);
    for (const dir of ['dist', 'prisma', 'contracts', 'node_modules']) {
      expect(text, dir).toMatch(new RegExp(`^COPY --from=build .*/app/${dir} \\./${dir}$`, 'm'));
    }
  });

  it("compose's role commands point at entry points that exist in src/", () => {
    for (const entry of ['api/main', 'worker/main', 'events/relay-main']) {
      expect(existsSync(join(ROOT, 'src', `${entry}.ts`)), `src/${entry}.ts (built to dist/${entry}.js)`).toBe(true);
    }
    expect(existsSync(join(ROOT, 'prisma', 'migrations'))).toBe(true);
  });
});
