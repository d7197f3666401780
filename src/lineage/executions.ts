import type pg from 'pg';
import type { PrismaClient } from '../infra/database.js';
import type { JsonValue } from '../shared/lineage-types.js';
import type { Db } from './sql.js';
import { jsonbSafeText, sqlText, textSafe } from './sql-text.js';

/** One call as the runtime stores it (`inputJson` is kept only when `keepInput`). */
export interface ExecutionRow {
  versionId: string;
  ok: boolean;
  errorType: string | null;
  errorMessage: string | null;
  durationMs: number;
  inputHash: string;
  inputJson: string | null;
}

/** A version's counters after a batch: for the runtime's threshold decision. */
export interface CountedVersion {
  tool_id: string;
  tool_name: string;
  after: number;
  fails: number;
}

/**
 * Inserts a batch of executions in one statement (node-postgres: the runtime's hot path). The rows
 * carry no foreign key: versions are never deleted, and the key made concurrent runtimes queue.
 */
export async function insertExecutions(client: pg.PoolClient, rows: ExecutionRow[]): Promise<void> {
  await client.query(
    `INSERT INTO executions (tool_id, ok, error_type, error_message, duration_ms, input_hash, input)
     SELECT * FROM unnest($1::varchar[], $2::bool[], $3::varchar[], $4::text[], $5::float8[], $6::varchar[], $7::json[])`,
    [
      rows.map((r) => r.versionId),
      rows.map((r) => r.ok),
      rows.map((r) => r.errorType),
      rows.map((r) => textSafe(r.errorMessage)),
      rows.map((r) => r.durationMs),
      rows.map((r) => r.inputHash),
      rows.map((r) => (r.inputJson === null ? null : jsonbSafeText(r.inputJson))),
    ],
  );
}

/**
 * Adds calls and failures to the versions' counters. Locks them first in one order (an UPDATE …
 * FROM locks in its join's order, which differs between batches and would deadlock two runtimes);
 * with `skipLocked`, versions another runtime is updating right now are left out (and not
 * returned), instead of queueing behind it.
 */
export async function addExecutionCounts(
  client: pg.PoolClient,
  ids: string[],
  calls: number[],
  fails: number[],
  skipLocked: boolean,
): Promise<CountedVersion[]> {
  if (!ids.length) return [];
  const { rows } = await client.query<CountedVersion>(
    `WITH locked AS MATERIALIZED (
       SELECT tool_id FROM tool_lineage WHERE tool_id = ANY($1::varchar[]) ORDER BY tool_id FOR NO KEY UPDATE ${skipLocked ? 'SKIP LOCKED' : ''}
     )
     UPDATE tool_lineage t
     SET execution_count = t.execution_count + v.calls,
         failure_count = t.failure_count + v.fails,
         success_rate = (t.success_rate * t.execution_count + (v.calls - v.fails)) / (t.execution_count + v.calls),
         last_executed = now()
     FROM unnest($1::varchar[], $2::int[], $3::int[]) AS v(id, calls, fails), locked
     WHERE t.tool_id = v.id AND locked.tool_id = v.id
     RETURNING t.tool_id, t.tool_name, t.failure_count AS after, v.fails`,
    [ids, calls, fails],
  );
  return rows;
}

/** A routable version's window of recent calls, or its fitness trend, as the fleet check finds it. */
/**
 * How far back the fleet check looks for a version's last calls: health is about how a version
 * behaves now, and the bound lets PostgreSQL prune every older day partition of executions (with a
 * 30-day retention, each version would otherwise be probed in 30+ partitions).
 */
export const FLEET_LOOKBACK = '24 hours';
const RECENT = `created_at > now() - interval '${FLEET_LOOKBACK}' AND created_at <= now()`;

export interface FleetRow {
  tool_id: string;
  kind: 'error_rate' | 'fitness';
  calls: number;
  errors: number;
  top_error: string | null;
  last_message: string | null;
  recent_fitness: number | null;
  historical_fitness: number | null;
}

/** executions (reads) and fitness_history: what versions did when called. */
export class ExecutionStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** Distinct recorded inputs of the versions, newest first: real calls to replay against a candidate. */
  async recordedInputs(versionIds: string[], limit: number, db: Db = this.prisma): Promise<JsonValue[]> {
    const rows = await db.execution.findMany({
      where: { toolId: { in: versionIds }, input: { not: null as never } },
      orderBy: { id: 'desc' },
      take: limit,
      distinct: ['inputHash'],
      select: { input: true },
    });
    return rows.map((r) => r.input as JsonValue);
  }

  /**
   * The fleet check in one statement: for every routable version (only routed ones with
   * `onlyRouted`), the error rate over its last `window` calls of the last FLEET_LOOKBACK (index-only
   * over the latest day partitions, however long the retention; at least 10 calls)
   * above `errorRate`, and the drop of its last 5 fitness scores against the earlier ones above
   * `degradation`.
   */
  async fleetFindings({
    window,
    errorRate,
    degradation,
    onlyRouted,
  }: {
    window: number;
    errorRate: number;
    degradation: number;
    onlyRouted: boolean;
  }): Promise<FleetRow[]> {
    // A plain statement (no Prisma.sql fragments): the runtime imports this module, and must not load
    // Prisma's client for it (`dise call` start-up).
    return this.prisma.$queryRawUnsafe<FleetRow[]>(
      `
      WITH candidates AS (
        SELECT t.tool_id FROM tool_lineage t
        WHERE ${sqlText.isRoutable('t')}
          AND (NOT $4::boolean OR EXISTS (SELECT 1 FROM routes r WHERE r.version_id = t.tool_id))
      ),
      rated AS (
        -- Index-only scans of (tool_id, id DESC, ok, error_type): the last N calls of every candidate.
        SELECT c.tool_id, w.calls, w.errors
        FROM candidates c
        CROSS JOIN LATERAL (
          SELECT count(*)::int AS calls, count(*) FILTER (WHERE NOT e.ok)::int AS errors
          FROM (SELECT ok FROM executions WHERE tool_id = c.tool_id AND ${RECENT} ORDER BY id DESC LIMIT $1) e
        ) w
        WHERE w.calls >= 10 AND w.errors::float8 / w.calls > $2
      ),
      windowed AS (
        -- Details only for the versions over the threshold: the most common error in the window
        -- (still index-only) and the message of the latest failure (one row).
        SELECT r.tool_id, r.calls, r.errors,
               (SELECT e.error_type FROM (SELECT ok, error_type FROM executions WHERE tool_id = r.tool_id AND ${RECENT}
                                          ORDER BY id DESC LIMIT $1) e
                WHERE NOT e.ok GROUP BY e.error_type ORDER BY count(*) DESC, e.error_type LIMIT 1) AS top_error,
               (SELECT error_message FROM executions WHERE tool_id = r.tool_id AND NOT ok AND ${RECENT} ORDER BY id DESC LIMIT 1) AS last_message
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
      WHERE historical > 0 AND (historical - recent) / historical > $3
      ORDER BY 1, 2`,
      window,
      errorRate,
      degradation,
      onlyRouted,
    );
  }
}
