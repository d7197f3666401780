import { context, propagation, trace, type Context } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { TRACER_NAME } from '../shared/constants.js';
import { currentTracing, setTracing, type Tracing } from './tracing-state.js';

export { currentTracing, type Tracing } from './tracing-state.js';

/**
 * Installs OpenTelemetry tracing once per process: an OTLP/HTTP exporter to `otlpEndpoint`
 * (observability.tracing.otlp_endpoint), or the given exporter (tests: an in-memory one). With
 * neither, nothing is installed and no span is made: the API's no-op tracer costs callers nothing.
 */
export function installTracing(options: {
  otlpEndpoint?: string | null;
  serviceName?: string;
  exporter?: SpanExporter;
}): Tracing | null {
  const installed = currentTracing();
  if (installed) return installed;
  const exporter =
    options.exporter ?? (options.otlpEndpoint ? new OTLPTraceExporter({ url: options.otlpEndpoint }) : null);
  if (!exporter) return null;
  const resource = new Resource({ 'service.name': options.serviceName ?? 'dise-heal' });
  const provider = new BasicTracerProvider({
    resource,
    // Tests read spans as they end; an OTLP collector gets them in batches, off the callers' path.
    spanProcessors: [options.exporter ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter)],
  });
  provider.register({
    contextManager: new AsyncLocalStorageContextManager().enable(),
    propagator: new W3CTraceContextPropagator(),
  });
  const tracing = { tracer: trace.getTracer(TRACER_NAME), exporter, resource, shutdown: () => provider.shutdown() };
  setTracing(tracing);
  return tracing;
}

/** The W3C traceparent of a context (the active one by default), to carry it inside a message. */
export function traceparentOf(ctx: Context = context.active()): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent;
}
