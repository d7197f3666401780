import type { PrismaClient } from '../infra/database.js';
import type { ThresholdsConfig } from '../config/schema.js';
import type { Severity } from '../shared/lineage-types.js';
import type { DetectedFailure } from './types.js';

export interface RuntimeFinding {
  versionId: string;
  failure: DetectedFailure;
}

interface FleetRow {
  tool_id: string;
  kind: 'error_rate' | 'fitness';
  calls: number;
  errors: number;
  top_error: string | null;
  last_message: string | null;
  recent_fitness: number | null;
  historical_fitness: number | null;
}

/**
 * Runtime detection over the whole fleet in one SQL statement: for every routable version, the error
 * rate over its last `execution_window` calls (index-backed, at least 10 calls) against
 * `error_rate_threshold`, and the drop of its last 5 fitness scores against the earlier ones against
 * `performance_degradation`. `onlyRouted` limits it to the versions callers are routed to.
 */
export async function detectRuntimeFailures(
  prisma: PrismaClient,
  thresholds: ThresholdsConfig,
  { onlyRouted = false }: { onlyRouted?: boolean } = {},
): Promise<RuntimeFinding[]> {
  const rows = await prisma.$queryRaw<FleetRow[]>`
    WITH candidates AS (
      SELECT t.tool_id FROM tool_lineage t
      WHERE t.health_status IN ('healthy', 'regenerated')
        AND (NOT ${onlyRouted}::boolean OR EXISTS (SELECT 1 FROM routes r WHERE r.version_id = t.tool_id))
    ),
    rated AS (
      -- Index-only scans of (tool_id, id DESC, ok, error_type): the last N calls of every candidate.
      SELECT c.tool_id, w.calls, w.errors
      FROM candidates c
      CROSS JOIN LATERAL (
        SELECT count(*)::int AS calls, count(*) FILTER (WHERE NOT e.ok)::int AS errors
        FROM (SELECT ok FROM executions WHERE tool_id = c.tool_id ORDER BY id DESC LIMIT ${thresholds.execution_window}) e
      ) w
      WHERE w.calls >= 10 AND w.errors::float8 / w.calls > ${thresholds.error_rate_threshold}
    ),
    windowed AS (
      -- Details only for the versions over the threshold: the most common error in the window
      -- (still index-only) and the message of the latest failure (one row).
      SELECT r.tool_id, r.calls, r.errors,
             (SELECT e.error_type FROM (SELECT ok, error_type FROM executions WHERE tool_id = r.tool_id
                                        ORDER BY id DESC LIMIT ${thresholds.execution_window}) e
              WHERE NOT e.ok GROUP BY e.error_type ORDER BY count(*) DESC, e.error_type LIMIT 1) AS top_error,
             (SELECT error_message FROM executions WHERE tool_id = r.tool_id AND NOT ok ORDER BY id DESC LIMIT 1) AS last_message
      FROM rated r
    ),
    fitness AS (
      SELECT f.tool_id,
             avg(f.fitness_score) FILTER (WHERE f.rn <= 5) AS recent,
             avg(f.fitness_score) FILTER (WHERE f.rn > 5) AS historical
      FROM (SELECT tool_id, fitness_score, row_number() OVER (PARTITION BY tool_id ORDER BY id DESC) AS rn
            FROM fitness_history WHERE tool_id IN (SELECT tool_id FROM candidates)) f
      GROUP BY f.tool_id
      HAVING count(*) > 5
    )
    SELECT tool_id, 'error_rate' AS kind, calls, errors, top_error, last_message, NULL::float8 AS recent_fitness, NULL::float8 AS historical_fitness
    FROM windowed
    UNION ALL
    SELECT tool_id, 'fitness', 0, 0, NULL, NULL, recent, historical
    FROM fitness
    WHERE historical > 0 AND (historical - recent) / historical > ${thresholds.performance_degradation}
    ORDER BY 1, 2`;

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
          evidence: { calls: r.calls, errors: r.errors, errorRate: rate, topError: r.top_error, window: thresholds.execution_window },
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
