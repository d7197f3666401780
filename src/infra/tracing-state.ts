import type { Tracer } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

/** This process's tracing, once installed: what the worker's workflow spans are exported through. */
export interface Tracing {
  tracer: Tracer;
  exporter: SpanExporter;
  resource: Resource;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

// Kept apart from the SDK (src/infra/tracing.ts), so a command that only asks pays no SDK import.
let installed: Tracing | null = null;

/** The installed tracing, or null when this process exports no spans. */
export function currentTracing(): Tracing | null {
  return installed;
}

export function setTracing(tracing: Tracing): void {
  installed = tracing;
}
