import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it, inject } from 'vitest';
import { ROOT } from '../../scripts/lib/database.js';
import { freePort } from '../../scripts/lib/temporal-server.js';
import { JWT_SECRET, TEST_PAYLOAD_KEYS } from '../support/system.js';

const temporalMetricsPort = await freePort();

/** Starts a real process role and returns how it ended. */
function start(role: 'api/main.ts' | 'worker/main.ts' | 'events/relay-main.ts', env: Record<string, string>) {
  const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'src', role)], {
    env: {
      PATH: process.env.PATH,
      DATABASE_URL: inject('databaseUrl'),
      NATS_URL: inject('natsUrl'),
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      EVENTS_ENV: inject('eventsEnv'),
      JWT_SECRET,
      PAYLOAD_ENCRYPTION_KEYS: TEST_PAYLOAD_KEYS,
      // Not the defaults: workers of other test files may hold them.
      METRICS_PORT: '0',
      TEMPORAL_METRICS_PORT: String(temporalMetricsPort),
      LOG_LEVEL: 'silent',
      ...env,
    },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { status: run.status, stderr: run.stderr.trim() };
}

describe('start-up - an unreachable service or a bad setting is one clear line, not a stack trace', () => {
  it.each([
    [
      'Postgres',
      { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/orders' },
      /^api: DATABASE_UNAVAILABLE: PostgreSQL is not reachable at postgresql:\/\/postgres@127\.0\.0\.1:1\/orders/,
    ],
    [
      'NATS',
      { NATS_URL: 'nats://127.0.0.1:1' },
      /^api: NATS_UNAVAILABLE: NATS is not reachable at nats:\/\/127\.0\.0\.1:1/,
    ],
    [
      'Temporal',
      { TEMPORAL_ADDRESS: '127.0.0.1:1' },
      /^api: TEMPORAL_UNAVAILABLE: Temporal is not reachable at 127\.0\.0\.1:1/,
    ],
    ['a bad PORT', { PORT: 'eighty' }, /^api: CONFIG_INVALID: invalid configuration: PORT /],
    ['a missing JWT secret', { JWT_SECRET: '' }, /^api: CONFIG_INVALID: .*JWT_SECRET is required when AUTH=on/],
  ])('%s', (_what, env, expected) => {
    const { status, stderr } = start('api/main.ts', env);
    expect(status).toBe(1);
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).toMatch(expected);
  });

  it('the worker and the relay report the same way', () => {
    expect(start('worker/main.ts', { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/orders' }).stderr).toMatch(
      /^worker: DATABASE_UNAVAILABLE: /
    );
    expect(start('events/relay-main.ts', { NATS_URL: 'nats://127.0.0.1:1' }).stderr).toMatch(
      /^relay: NATS_UNAVAILABLE: /
    );
  });
});
