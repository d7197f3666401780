import type { DiseConfig } from '../config/schema.js';
import { connectTemporalClient, type TemporalHandle } from '../client/connection.js';
import type { TemporalSettings } from '../infra/temporal-connection.js';
import { TemporalMonitorSignaler, type MonitorSignaler } from '../runtime/monitor-signaler.js';
import { resolveTemporal, type Output } from './context.js';

export type { TemporalHandle } from '../client/connection.js';

/** The CLI's Temporal client: TEMPORAL_* / config.yaml, else the running `dise dev` stack. */
export async function connectTemporal(config?: DiseConfig, settings: TemporalSettings = resolveTemporal(process.env, config)): Promise<TemporalHandle> {
  return connectTemporalClient(settings);
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
