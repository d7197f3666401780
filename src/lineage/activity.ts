import type { PrismaClient } from '../infra/database.js';
import type { JsonValue } from '../shared/lineage-types.js';

/** Calls and failures of a version in one time bucket. */
export interface ExecutionBucket {
  at: string;
  calls: number;
  failures: number;
  meanMs: number;
}

export interface FitnessPoint {
  at: string;
  score: number;
}

export interface IntroducedTest {
  id: number;
  name: string;
  input: JsonValue;
  expected: JsonValue;
  critical: boolean;
  origin: string;
  sourceFailureId: number | null;
}

export interface HealRunListing {
  id: string;
  workflowId: string;
  versionId: string;
  toolName: string;
  status: string;
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  step: string | null;
  attempt: number | null;
  newVersionId: string | null;
  error: string | null;
}

/**
 * The reads the dashboard needs beyond the CLI's: recent error rates, executions and fitness over
 * time, the tests a version introduced, heal runs, and which versions hold a rule.
 */
export class ActivityReads {
  constructor(private readonly prisma: PrismaClient) {}

  /** Error rate over the last `window` calls of each version (null: never called). */
  async errorRates(versionIds: string[], window: number): Promise<Map<string, { calls: number; rate: number | null }>> {
    if (!versionIds.length) return new Map();
    const rows = await this.prisma.$queryRaw<{ tool_id: string; calls: number; fails: number }[]>`
      SELECT v.id AS tool_id, count(e.*)::int AS calls, count(e.*) FILTER (WHERE NOT e.ok)::int AS fails
      FROM unnest(${versionIds}::text[]) AS v(id)
      LEFT JOIN LATERAL (SELECT ok FROM executions WHERE tool_id = v.id ORDER BY id DESC LIMIT ${window}) e ON true
      GROUP BY v.id`;
    return new Map(rows.map((r) => [r.tool_id, { calls: r.calls, rate: r.calls ? r.fails / r.calls : null }]));
  }

  /** A version's calls per time bucket (`buckets` equal slices from its first to its last call). */
  async executionSeries(versionId: string, buckets = 24): Promise<ExecutionBucket[]> {
    const rows = await this.prisma.$queryRaw<
      { b: number; at: Date; calls: number; failures: number; mean_ms: number }[]
    >`
      WITH span AS (SELECT min(created_at) AS lo, max(created_at) AS hi FROM executions WHERE tool_id = ${versionId}),
      e AS (
        SELECT width_bucket(extract(epoch FROM x.created_at), extract(epoch FROM s.lo), extract(epoch FROM s.hi) + 0.001, ${buckets}) AS b, x.ok, x.duration_ms, x.created_at
        FROM executions x, span s WHERE x.tool_id = ${versionId})
      SELECT b::int AS b, min(created_at) AS at, count(*)::int AS calls, count(*) FILTER (WHERE NOT ok)::int AS failures, avg(duration_ms)::float8 AS mean_ms
      FROM e GROUP BY b ORDER BY b`;
    return rows.map((r) => ({ at: r.at.toISOString(), calls: r.calls, failures: r.failures, meanMs: r.mean_ms }));
  }

  async fitnessSeries(versionId: string, limit = 200): Promise<FitnessPoint[]> {
    const rows = await this.prisma.fitnessHistory.findMany({
      where: { toolId: versionId },
      orderBy: { id: 'desc' },
      take: limit,
      select: { fitnessScore: true, timestamp: true },
    });
    return rows.reverse().map((r) => ({ at: r.timestamp.toISOString(), score: r.fitnessScore }));
  }

  /** Tests a version introduced (authored with it, or minted onto it by a heal). */
  async testsIntroducedBy(versionId: string): Promise<IntroducedTest[]> {
    const rows = await this.prisma.testCase.findMany({ where: { toolId: versionId }, orderBy: { id: 'asc' } });
    return rows.map((t) => ({
      id: t.id,
      name: t.name,
      input: t.input as JsonValue,
      expected: t.expected as JsonValue,
      critical: t.critical,
      origin: t.origin,
      sourceFailureId: t.sourceFailureId,
    }));
  }

  /** Heal runs, running first, then newest first, with their step and attempt from the recorded progress. */
  async healRuns(limit = 200, toolName?: string): Promise<HealRunListing[]> {
    const rows = await this.prisma.$queryRaw<
      {
        id: string;
        workflow_id: string;
        tool_id: string;
        tool_name: string;
        status: string;
        trigger: string;
        started_at: Date;
        finished_at: Date | null;
        step: string | null;
        attempt: number | null;
        new_version: string | null;
        error: string | null;
      }[]
    >`
      -- Running heals first, then the latest of the rest: two halves so that each is read newest
      -- first by an index (idx_heal_runs_status, idx_heal_runs_started) and stops at the limit.
      WITH listed AS (
        SELECT h.id, h.workflow_id, h.tool_id, t.tool_name, h.status, h.trigger, h.started_at, h.finished_at,
               h.result->>'step' AS step, (h.result->>'attempt')::int AS attempt, h.result->>'newVersionId' AS new_version, h.error
        FROM heal_runs h JOIN tool_lineage t ON t.tool_id = h.tool_id
        WHERE h.status = 'running' AND (${toolName ?? null}::text IS NULL OR t.tool_name = ${toolName ?? null})
        ORDER BY h.started_at DESC LIMIT ${limit}
      ), rest AS (
        SELECT h.id, h.workflow_id, h.tool_id, t.tool_name, h.status, h.trigger, h.started_at, h.finished_at,
               h.result->>'step' AS step, (h.result->>'attempt')::int AS attempt, h.result->>'newVersionId' AS new_version, h.error
        FROM heal_runs h JOIN tool_lineage t ON t.tool_id = h.tool_id
        WHERE h.status <> 'running' AND (${toolName ?? null}::text IS NULL OR t.tool_name = ${toolName ?? null})
        ORDER BY h.started_at DESC LIMIT ${limit}
      )
      SELECT * FROM (SELECT * FROM listed UNION ALL SELECT * FROM rest) u
      ORDER BY (u.status = 'running') DESC, u.started_at DESC LIMIT ${limit}`;
    return rows.map((r) => ({
      id: r.id,
      workflowId: r.workflow_id,
      versionId: r.tool_id,
      toolName: r.tool_name,
      status: r.status,
      trigger: r.trigger,
      startedAt: r.started_at.toISOString(),
      finishedAt: r.finished_at?.toISOString() ?? null,
      step: r.step,
      attempt: r.attempt,
      newVersionId: r.new_version,
      error: r.error,
    }));
  }

  /** The description of each version. */
  async descriptions(versionIds: string[]): Promise<Map<string, string>> {
    const rows = await this.prisma.toolLineage.findMany({
      where: { toolId: { in: versionIds } },
      select: { toolId: true, description: true },
    });
    return new Map(rows.map((r) => [r.toolId, r.description]));
  }

  /** The versions holding each rule (at most `limit` per rule, newest first). */
  async ruleHolders(ruleIds: string[], limit = 20): Promise<Map<string, string[]>> {
    if (!ruleIds.length) return new Map();
    const rows = await this.prisma.$queryRaw<{ rule_id: string; ids: string[] }[]>`
      SELECT r.id AS rule_id, ARRAY(SELECT i.tool_id FROM rule_inheritance i WHERE i.rule_id = r.id ORDER BY i.tool_id DESC LIMIT ${limit}) AS ids
      FROM unnest(${ruleIds}::text[]) AS r(id)`;
    return new Map(rows.map((r) => [r.rule_id, r.ids]));
  }
}
