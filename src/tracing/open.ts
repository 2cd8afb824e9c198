import type { Config } from '../config/config.js';
import { tracingEndpoint } from '../config/config.js';
import type { Tracing } from './tracing.js';

/**
 * The process's tracing when OTEL_* turn it on. Off (the default), the SDK is never loaded and nothing is patched:
 * the spans the code opens go to the OpenTelemetry API's no-op tracer.
 */
export async function openTracing(config: Config, role: string): Promise<Tracing | undefined> {
  if (!tracingEndpoint(config)) return undefined;
  const { tracingFromConfig } = await import('./tracing.js');
  return tracingFromConfig(config, role);
}
