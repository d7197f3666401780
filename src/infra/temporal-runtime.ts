import { DefaultLogger, makeTelemetryFilterString, Runtime, type LogLevel } from '@temporalio/worker';

let installed = false;

/**
 * Installs the Temporal runtime once, logging at `level` (default WARN, or DISE_LOG_LEVEL) so the CLI
 * shows our progress, not the SDK's chatter. Must run before the first worker or native connection.
 */
export function installTemporalRuntime(
  level: LogLevel = (process.env.DISE_LOG_LEVEL?.toUpperCase() as LogLevel) || 'WARN',
  /** The SDK core's own level (its gRPC retries are WARN); defaults to `level`. */
  coreLevel: LogLevel = level,
): void {
  if (installed) return;
  installed = true;
  Runtime.install({
    logger: new DefaultLogger(level),
    telemetryOptions: {
      // Forwarded to the logger above (stderr), never printed by the native side: the core's own
      // console logging writes to stdout, where a warning under load would break the JSON that
      // `--json`, `dise demo` and `dise mcp` (the protocol itself) print there.
      logging: { filter: makeTelemetryFilterString({ core: coreLevel, other: 'ERROR' }), forward: {} },
    },
  });
}
