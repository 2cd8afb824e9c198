import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, tracingEndpoint } from '../../src/config/config.js';

const endpoint = (env: Record<string, string>) => tracingEndpoint(loadConfig({ AUTH: 'off', ...env }));

describe('tracing is decided by the standard OTEL_* variables', () => {
  it('is off by default', () => {
    expect(endpoint({})).toBeUndefined();
  });

  it('exports to <OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces, or to the traces endpoint as given', () => {
    expect(endpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toBe('http://collector:4318/v1/traces');
    expect(
      endpoint({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:4318/custom',
      })
    ).toBe('http://traces:4318/custom');
  });

  it('uses the specification default collector for OTEL_TRACES_EXPORTER=otlp alone', () => {
    expect(endpoint({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe('http://localhost:4318/v1/traces');
  });

  it('stays off with OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none, whatever the endpoint', () => {
    expect(
      endpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })
    ).toBeUndefined();
    expect(
      endpoint({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' })
    ).toBeUndefined();
  });

  it('refuses an endpoint that is not an http(s) URL', () => {
    expect(() => loadConfig({ AUTH: 'off', OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(ConfigError);
  });
});
