import type { DiseConfig } from '../config/schema.js';
import type { TemporalHandle } from '../client/connection.js';
import type { TemporalSettings } from '../infra/temporal-connection.js';
import type { MonitorSignaler } from '../runtime/monitor-signaler.js';
import type { FailureReport } from '../shared/messages.js';
import { resolveTemporal, type Output } from './context.js';

export type { TemporalHandle } from '../client/connection.js';

/** The CLI's Temporal client: TEMPORAL_* / config.yaml, else the running `dise dev` stack. Loaded here, not at start-up: the client library alone takes ~1 s to load. */
export async function connectTemporal(
  config?: DiseConfig,
  settings: TemporalSettings = resolveTemporal(process.env, config),
): Promise<TemporalHandle> {
  const { connectTemporalClient } = await import('../client/connection.js');
  return connectTemporalClient(settings);
}

/**
 * A signaler to the health monitor that connects to Temporal only when there is something to report
 * (most `dise call`s and `dise report`s have nothing), so those commands start without the Temporal
 * client. When Temporal cannot be reached it says so once and drops the reports: the failures are
 * recorded either way, and the monitor's next check finds them.
 * DISE_SIGNAL_MONITOR=0 turns signalling off.
 */
export async function optionalSignaler(
  out: Output,
  config?: DiseConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ signaler?: MonitorSignaler; close(): Promise<void> }> {
  if (env.DISE_SIGNAL_MONITOR === '0') return { close: async () => undefined };
  let connecting: Promise<{ signaler: MonitorSignaler | null; close(): Promise<void> }> | undefined;
  const connect = () =>
    (connecting ??= (async () => {
      try {
        const temporal = await connectTemporal(config);
        const { TemporalMonitorSignaler } = await import('../runtime/monitor-signaler.js');
        return { signaler: new TemporalMonitorSignaler(temporal.client), close: temporal.close };
      } catch (err) {
        out.info(`note: not reporting to the health monitor (${(err as Error).message}); failures are still recorded`);
        return { signaler: null, close: async () => undefined };
      }
    })());
  const signaler: MonitorSignaler = {
    async failureReported(report: FailureReport): Promise<void> {
      const { signaler: real } = await connect();
      await real?.failureReported(report);
    },
  };
  return {
    signaler,
    close: async () => {
      if (connecting) await (await connecting).close();
    },
  };
}
