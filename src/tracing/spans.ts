import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';

/** The span attribute naming the order (the aggregate) a span works for. */
export const ORDER_ID_ATTRIBUTE = 'flowmart.order_id';

/**
 * Runs `work` in a span continuing the W3C `traceparent` an event carries (NATS header or CloudEvent attribute).
 * Without a registered tracer provider the API is a no-op, so this costs nothing when tracing is off.
 */
export async function inEventSpan<T>(
  name: string,
  kind: 'producer' | 'consumer',
  traceparent: string | undefined,
  attributes: Record<string, string>,
  work: (span: Span) => Promise<T>
): Promise<T> {
  const parent = traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : context.active();
  const tracer = trace.getTracer('flowmart-events');
  return tracer.startActiveSpan(
    name,
    { kind: kind === 'producer' ? SpanKind.PRODUCER : SpanKind.CONSUMER, attributes },
    parent,
    async (span) => {
      try {
        return await work(span);
      } catch (error) {
        span.recordException(error as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: String(error) });
        throw error;
      } finally {
        span.end();
      }
    }
  );
}

/** The current span's context as a `traceparent` header value, for the next hop. */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier['traceparent'];
}
