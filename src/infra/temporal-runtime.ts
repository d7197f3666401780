import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';
import { atCommandEnd } from './command-end.js';
import { HEAL_DURATION_BUCKETS, HEAL_METRICS } from '../shared/metric-names.js';

let installed = false;
let metricsAddress: string | null = null;

export interface TemporalRuntimeOptions {
  /**
   * host:port where this process serves Prometheus metrics at /metrics (observability.metrics.worker_address):
   * Temporal's own (task slots, schedule-to-start latency, request failures) and the heals'. None: not served.
   */
  metricsAddress?: string | null;
}

/**
 * Installs the Temporal runtime once, logging at `level` (default WARN, or DISE_LOG_LEVEL) so the CLI
 * shows our progress, not the SDK's chatter. Must run before the first worker or native connection.
 */
export function installTemporalRuntime(
  level: LogLevel = (process.env.DISE_LOG_LEVEL?.toUpperCase() as LogLevel) || 'WARN',
  /** The SDK core's own level (its gRPC retries are WARN); defaults to `level`. */
  coreLevel: LogLevel = level,
  options: TemporalRuntimeOptions = {},
): void {
  if (installed) return;
  installed = true;
  atCommandEnd(releaseTemporalRuntime);
  metricsAddress = options.metricsAddress ?? null;
  Runtime.install({
    logger: new DefaultLogger(level),
    telemetryOptions: {
      // Forwarded to the logger above (stderr), never printed by the native side: the core's own
      // console logging writes to stdout, where a warning under load would break the JSON that
      // `--json`, `dise demo` and `dise mcp` (the protocol itself) print there.
      logging: { filter: makeTelemetryFilterString({ core: coreLevel, other: 'ERROR' }), forward: {} },
      ...(metricsAddress
        ? {
            metrics: {
              // Prometheus conventions: `_total` counters, units in names, durations in seconds.
              prometheus: {
                bindAddress: metricsAddress,
                countersTotalSuffix: true,
                unitSuffix: true,
                useSecondsForDurations: true,
                histogramBucketOverrides: { [HEAL_METRICS.healDuration.name]: HEAL_DURATION_BUCKETS },
              },
            },
          }
        : {}),
    },
  });
}

/**
 * Shuts the Temporal runtime down once a command has ended (its workers and connections are closed
 * by then). A command that failed before its worker started would otherwise leave the runtime holding
 * the process open, deaf to SIGTERM (the runtime takes that signal for its workers' shutdown).
 */
export async function releaseTemporalRuntime(): Promise<void> {
  if (!installed) return;
  installed = false;
  await Runtime.instance().shutdown();
}

/** The URL of this process's worker metrics, when installTemporalRuntime was given an address. */
export function workerMetricsUrl(): string | null {
  return metricsAddress ? `http://${metricsAddress.replace(/^0\.0\.0\.0:/, '127.0.0.1:')}/metrics` : null;
}
