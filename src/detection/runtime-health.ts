import type { ExecutionStore } from '../lineage/executions.js';
import type { ThresholdsConfig } from '../config/schema.js';
import type { Severity } from '../shared/lineage-types.js';
import type { DetectedFailure } from './types.js';

export interface RuntimeFinding {
  versionId: string;
  failure: DetectedFailure;
}

/**
 * Runtime detection over the whole fleet in one SQL statement (ExecutionStore.fleetFindings): for every routable version, the error
 * rate over its last `execution_window` calls (index-backed, at least 10 calls) against
 * `error_rate_threshold`, and the drop of its last 5 fitness scores against the earlier ones against
 * `performance_degradation`. `onlyRouted` limits it to the versions callers are routed to.
 */
export async function detectRuntimeFailures(
  executions: ExecutionStore,
  thresholds: ThresholdsConfig,
  { onlyRouted = false }: { onlyRouted?: boolean } = {},
): Promise<RuntimeFinding[]> {
  const rows = await executions.fleetFindings({
    window: thresholds.execution_window,
    errorRate: thresholds.error_rate_threshold,
    degradation: thresholds.performance_degradation,
    onlyRouted,
  });

  return rows.map((r): RuntimeFinding => {
    if (r.kind === 'error_rate') {
      const rate = r.errors / r.calls;
      const severity: Severity = rate > 0.2 ? 'high' : 'medium';
      return {
        versionId: r.tool_id,
        failure: {
          failureType: 'runtime_errors',
          description: `error rate ${(rate * 100).toFixed(1)}% over the last ${r.calls} calls exceeds ${(thresholds.error_rate_threshold * 100).toFixed(1)}%${r.top_error ? ` (mostly ${r.top_error})` : ''}`,
          stackTrace: r.last_message,
          testCaseFailed: null,
          detectionMethod: 'runtime',
          severity,
          evidence: {
            calls: r.calls,
            errors: r.errors,
            errorRate: rate,
            topError: r.top_error,
            window: thresholds.execution_window,
          },
        },
      };
    }
    const drop = (r.historical_fitness! - r.recent_fitness!) / r.historical_fitness!;
    return {
      versionId: r.tool_id,
      failure: {
        failureType: 'performance_degradation',
        description: `fitness dropped ${(drop * 100).toFixed(1)}% (recent ${r.recent_fitness!.toFixed(3)} vs ${r.historical_fitness!.toFixed(3)})`,
        stackTrace: null,
        testCaseFailed: null,
        detectionMethod: 'runtime',
        severity: 'medium',
        evidence: { recentFitness: r.recent_fitness, historicalFitness: r.historical_fitness, drop },
      },
    };
  });
}
