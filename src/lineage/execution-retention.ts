import type { PrismaClient } from '../infra/database.js';

/** What one maintenance run did. */
export interface MaintenanceReport {
  /** Day partitions created (today and the days ahead). */
  created: number;
  /** Hours (per version) summed into execution_rollups in this run. */
  rolledUpRows: number;
  /** Everything before this instant is in execution_rollups. */
  rolledUntil: string;
  /** Day partitions dropped (older than the retention). */
  dropped: string[];
  /** Rows those partitions held. */
  droppedRows: number;
}

/** A version whose execution_count differs from what the rollups and the remaining executions account for. */
export interface CounterMismatch {
  tool_id: string;
  counted: number;
  accounted: number;
}

const DAY_MS = 86_400_000;
/** Partitions made ahead, so a quiet maintenance schedule never sends calls to executions_default. */
const DAYS_AHEAD = 7;

function utcDay(ms: number): Date {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS);
}

/**
 * Keeps `executions` bounded: it is partitioned by day (UTC); each run makes the coming days'
 * partitions, sums every finished hour into execution_rollups (calls, errors, p50/p95/p99/max
 * latency per version and hour, kept for history), then drops the day partitions older than the
 * retention, whose hours are all in the rollups by then. Dropping a partition is a catalogue
 * change, however many rows it holds. One run at a time (an advisory lock); idempotent.
 */
export class ExecutionRetention {
  constructor(private readonly prisma: PrismaClient) {}

  async maintain({
    retentionDays,
    now = new Date(),
  }: {
    retentionDays: number;
    now?: Date;
  }): Promise<MaintenanceReport> {
    return this.prisma.$transaction(
      async (tx) => {
        await tx.$executeRawUnsafe(`SELECT pg_advisory_xact_lock(hashtext('dise_execution_maintenance'))`);
        const today = utcDay(now.getTime());
        let created = 0;
        for (let d = -1; d <= DAYS_AHEAD; d++) {
          const day = new Date(today.getTime() + d * DAY_MS).toISOString().slice(0, 10);
          const [row] = await tx.$queryRawUnsafe<{ made: boolean }[]>(
            `SELECT dise_ensure_execution_partition($1::date) AS made`,
            day,
          );
          if (row?.made) created++;
        }

        // Every hour that has ended (a minute of slack for transactions still committing), again
        // from the hour before the last run's end, for rows that committed after it.
        const until = new Date(Math.floor((now.getTime() - 60_000) / 3_600_000) * 3_600_000);
        const [state] = await tx.$queryRawUnsafe<{ rolled_until: Date | null }[]>(
          `SELECT rolled_until FROM execution_maintenance WHERE id = 1`,
        );
        const from = state?.rolled_until ? new Date(state.rolled_until.getTime() - 3_600_000) : new Date(0);
        const rolledUpRows = await tx.$executeRawUnsafe(
          `INSERT INTO execution_rollups (tool_id, hour, calls, errors, p50_ms, p95_ms, p99_ms, max_ms)
           SELECT tool_id, date_trunc('hour', created_at, 'UTC'), count(*), count(*) FILTER (WHERE NOT ok),
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms),
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms),
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY duration_ms),
                  max(duration_ms)
           FROM executions WHERE created_at >= $1 AND created_at < $2
           GROUP BY 1, 2
           ON CONFLICT (tool_id, hour) DO UPDATE SET calls = EXCLUDED.calls, errors = EXCLUDED.errors, p50_ms = EXCLUDED.p50_ms,
             p95_ms = EXCLUDED.p95_ms, p99_ms = EXCLUDED.p99_ms, max_ms = EXCLUDED.max_ms`,
          from,
          until,
        );
        const rolledUntil = state?.rolled_until && state.rolled_until > until ? state.rolled_until : until;

        // Whole days before the retention, and only what the rollups already cover.
        const cutoff = new Date(
          Math.min(today.getTime() - retentionDays * DAY_MS, utcDay(rolledUntil.getTime()).getTime()),
        );
        const parts = await tx.$queryRawUnsafe<{ name: string; day: Date; rows: number }[]>(
          `SELECT c.relname AS name, to_date(substr(c.relname, 13), 'YYYYMMDD')::timestamp AT TIME ZONE 'UTC' AS day,
                  GREATEST(c.reltuples, 0)::bigint::int AS rows
           FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
           WHERE p.relname = 'executions' AND c.relname ~ '^executions_p[0-9]{8}$'
           ORDER BY c.relname`,
        );
        const dropped: string[] = [];
        let droppedRows = 0;
        for (const part of parts) {
          if (part.day.getTime() + DAY_MS > cutoff.getTime()) continue;
          await tx.$executeRawUnsafe(`DROP TABLE "${part.name}"`);
          dropped.push(part.name);
          droppedRows += part.rows;
        }
        // Calls that fell into executions_default for a day now gone (a clock far off): same rule.
        await tx.$executeRawUnsafe(`DELETE FROM executions_default WHERE created_at < $1`, cutoff);

        await tx.$executeRawUnsafe(
          `UPDATE execution_maintenance SET rolled_until = $1, last_run_at = $2, dropped_before = CASE WHEN $4::int > 0 THEN $3 ELSE dropped_before END WHERE id = 1`,
          rolledUntil,
          now,
          cutoff,
          dropped.length,
        );
        return { created, rolledUpRows, rolledUntil: rolledUntil.toISOString(), dropped, droppedRows };
      },
      { timeout: 600_000, maxWait: 10_000 },
    );
  }

  /** The day partitions of executions, oldest first. */
  async partitions(): Promise<string[]> {
    const rows = await this.prisma.$queryRawUnsafe<{ name: string }[]>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent
       WHERE p.relname = 'executions' ORDER BY c.relname`,
    );
    return rows.map((r) => r.name);
  }

  /**
   * Versions whose execution_count is not what the rollups (before rolled_until) plus the executions
   * still stored (from rolled_until on) account for: lost or double-counted calls. At most 1,000.
   */
  async counterMismatches(): Promise<CounterMismatch[]> {
    return this.prisma.$queryRawUnsafe<CounterMismatch[]>(
      `WITH m AS (SELECT COALESCE(rolled_until, '-infinity'::timestamptz) AS until FROM execution_maintenance WHERE id = 1),
       rolled AS (SELECT r.tool_id, sum(r.calls)::bigint AS n FROM execution_rollups r, m WHERE r.hour < m.until GROUP BY r.tool_id),
       recent AS (SELECT e.tool_id, count(*)::bigint AS n FROM executions e, m WHERE e.created_at >= m.until GROUP BY e.tool_id),
       accounted AS (
         SELECT tool_id, sum(n)::bigint AS n FROM (SELECT * FROM rolled UNION ALL SELECT * FROM recent) x GROUP BY tool_id
       )
       SELECT t.tool_id, t.execution_count AS counted, COALESCE(a.n, 0)::int AS accounted
       FROM tool_lineage t FULL JOIN accounted a ON a.tool_id = t.tool_id
       WHERE t.tool_id IS NOT NULL AND t.execution_count <> COALESCE(a.n, 0)
       ORDER BY t.tool_id LIMIT 1000`,
    );
  }
}
