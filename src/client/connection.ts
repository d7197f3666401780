import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import { connectionOptions, type TemporalSettings } from '../infra/temporal-connection.js';
import { currentTracing } from '../infra/tracing-state.js';

/** A Temporal client and the connection it owns. */
export interface TemporalHandle {
  client: Client;
  connection: Connection;
  settings: TemporalSettings;
  close(): Promise<void>;
}

/**
 * Connects a Temporal client (dev server, self-hosted cluster or Cloud) with the same TLS/API-key
 * options the worker's native connection uses.
 */
export async function connectTemporalClient(
  settings: TemporalSettings,
  { connectTimeoutMs = 5000 }: { connectTimeoutMs?: number } = {},
): Promise<TemporalHandle> {
  const connection = await Connection.connect({ ...connectionOptions(settings), connectTimeout: connectTimeoutMs });
  // Traced processes send their span context with starts and signals, so workflows join the trace.
  const client = new Client({
    connection,
    namespace: settings.namespace,
    ...(currentTracing() ? { interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } } : {}),
  });
  return { client, connection, settings, close: () => connection.close() };
}
