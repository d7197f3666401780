import { Client, Connection } from '@temporalio/client';
import type { DiseConfig } from '../config/schema.js';
import { connectionOptions, type TemporalSettings } from '../infra/temporal-connection.js';
import { TemporalMonitorSignaler, type MonitorSignaler } from '../runtime/monitor-signaler.js';
import { resolveTemporal, type Output } from './context.js';

export interface TemporalHandle {
  client: Client;
  connection: Connection;
  settings: TemporalSettings;
  close(): Promise<void>;
}

export async function connectTemporal(config?: DiseConfig, settings: TemporalSettings = resolveTemporal(process.env, config)): Promise<TemporalHandle> {
  const connection = await Connection.connect({ ...connectionOptions(settings), connectTimeout: 5000 });
  const client = new Client({ connection, namespace: settings.namespace });
  return { client, connection, settings, close: () => connection.close() };
}

/**
 * A signaler to the health monitor when Temporal is reachable; otherwise none, said once.
 * DISE_SIGNAL_MONITOR=0 turns signalling off (failures are still recorded; the monitor's next check
 * finds them).
 */
export async function optionalSignaler(out: Output, config?: DiseConfig, env: NodeJS.ProcessEnv = process.env): Promise<{ signaler?: MonitorSignaler; close(): Promise<void> }> {
  if (env.DISE_SIGNAL_MONITOR === '0') return { close: async () => undefined };
  try {
    const temporal = await connectTemporal(config);
    return { signaler: new TemporalMonitorSignaler(temporal.client), close: temporal.close };
  } catch (err) {
    out.info(`note: not reporting to the health monitor (${(err as Error).message}); failures are still recorded`);
    return { close: async () => undefined };
  }
}
