import { describe, expect, it } from 'vitest';
import { ConfigError, eventSubject, loadConfig } from '../../src/config/config.js';
import { parseDuration } from '../../src/config/duration.js';

describe('config - one schema parsed at start-up', () => {
  it('has working defaults for a local demo', () => {
    const config = loadConfig({ AUTH: 'off' });
    expect(config).toMatchObject({
      DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/orders',
      NATS_URL: 'nats://127.0.0.1:4222',
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      TEMPORAL_NAMESPACE: 'default',
      TEMPORAL_TASK_QUEUE: 'orders',
      PORT: 3000,
      EVENTS_ENV: 'dev',
      RESERVATION_HOLD: 15 * 60_000,
      BACKORDER_WINDOW: 0,
    });
    expect(eventSubject(config, 'orders')).toBe('orders.dev.events');
  });

  it('reports every bad value at once, naming each', () => {
    const error = (() => {
      try {
        loadConfig({
          PORT: '-1',
          EVENTS_ENV: 'Dev Env',
          RESERVATION_HOLD: 'soon',
          DATABASE_URL: 'mysql://x',
          AUTH: 'maybe',
        });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const key of ['PORT', 'EVENTS_ENV', 'RESERVATION_HOLD', 'DATABASE_URL', 'AUTH'])
      expect(problems).toContain(key);
  });

  it('requires a long enough JWT secret unless auth is off', () => {
    expect(() => loadConfig({})).toThrow(/JWT_SECRET is required/);
    expect(() => loadConfig({ JWT_SECRET: 'short' })).toThrow(/at least 32 characters/);
    expect(loadConfig({ JWT_SECRET: 'x'.repeat(32) }).AUTH).toBe('on');
  });

  it('refuses a re-authorization lead that is not shorter than the authorization hold', () => {
    expect(() => loadConfig({ AUTH: 'off', AUTHORIZATION_HOLD: '1d', REAUTHORIZE_BEFORE: '1d' })).toThrow(
      /REAUTHORIZE_BEFORE .*shorter than AUTHORIZATION_HOLD/
    );
    expect(loadConfig({ AUTH: 'off', AUTHORIZATION_HOLD: '4s', REAUTHORIZE_BEFORE: '2s' }).REAUTHORIZE_BEFORE).toBe(
      2_000
    );
  });

  it('reads durations with units', () => {
    expect([
      parseDuration('500ms'),
      parseDuration('30s'),
      parseDuration('15m'),
      parseDuration('2h'),
      parseDuration('3d'),
      parseDuration('250'),
    ]).toEqual([500, 30_000, 900_000, 7_200_000, 259_200_000, 250]);
    expect(parseDuration('-1s')).toBeUndefined();
    expect(parseDuration('1 week')).toBeUndefined();
  });
});
