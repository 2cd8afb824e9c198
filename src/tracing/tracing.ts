import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import type { InstrumentationBase } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-node';
import { BatchSpanProcessor, NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import http from 'node:http';
import pg from 'pg';
import type { Config } from '../config/config.js';
import { tracingEndpoint } from '../config/config.js';

/** A process's tracing: the Temporal plugin for its client and worker, and a flush on shutdown. */
export interface Tracing {
  temporal: OpenTelemetryPlugin;
  shutdown(): Promise<void>;
}

/** Tracing as configured (OTEL_* variables), or undefined: off by default, and then nothing is loaded or patched. */
export function tracingFromConfig(config: Config, role: string): Tracing | undefined {
  const url = tracingEndpoint(config);
  if (!url) return undefined;
  const exporter = new OTLPTraceExporter({ url });
  return startTracing(config.OTEL_SERVICE_NAME ?? `flowmart-${role}`, new BatchSpanProcessor(exporter));
}

/** Tests pass a SimpleSpanProcessor over an in-memory exporter. */
export function startTracing(serviceName: string, processor: SpanProcessor): Tracing {
  const resource = new Resource({ 'service.name': serviceName });
  const provider = new NodeTracerProvider({ resource, spanProcessors: [processor] });
  // Global tracer provider, W3C trace-context propagator and the AsyncLocalStorage context manager.
  provider.register();
  const pgInstrumentation = new PgInstrumentation({ requireParentSpan: true });
  const httpInstrumentation = new HttpInstrumentation({
    ignoreIncomingRequestHook: (req) => req.url === '/healthz',
    // Only the API's own requests: the metrics port and outgoing calls (JWKS) are not part of an order's trace.
    ignoreOutgoingRequestHook: () => true,
  });
  const unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [httpInstrumentation, pgInstrumentation],
  });
  // These are ES modules: `node:http` and `pg` (through Prisma's adapter) were imported before the require hook
  // above existed, so it never sees them. Patching the loaded modules' prototypes covers servers and pools
  // created before or after this point. (Express 5 has no maintained instrumentation for this SDK line; the API
  // names its server span after the matched route instead.)
  patchLoaded(httpInstrumentation, 'http', http);
  patchLoaded(pgInstrumentation, 'pg', pg);
  return {
    temporal: new OpenTelemetryPlugin({ resource, spanProcessor: processor }),
    async shutdown() {
      unregister();
      await provider.shutdown();
    },
  };
}

interface ModuleDefinition {
  name: string;
  patch?(moduleExports: unknown, version?: string): unknown;
}

function patchLoaded(instrumentation: InstrumentationBase, name: string, moduleExports: unknown): void {
  // Protected in the typings; it is how an instrumentation describes what it patches.
  const definitions = (
    instrumentation as unknown as { getModuleDefinitions(): ModuleDefinition[] }
  ).getModuleDefinitions();
  for (const definition of definitions) if (definition.name === name) definition.patch?.(moduleExports);
}
