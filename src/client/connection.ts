import { Client, Connection } from '@temporalio/client';
import { connectionOptions, type TemporalSettings } from '../infra/temporal-connection.js';

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
  const client = new Client({ connection, namespace: settings.namespace });
  return { client, connection, settings, close: () => connection.close() };
}
