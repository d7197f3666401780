import type { PrismaClient } from '../infra/database.js';
import type { DetectedFailure, JsonValue, Severity } from '../shared/lineage-types.js';
import type { Db } from './sql.js';
import { prismaRunner, type SqlRunner } from './sql-runner.js';
import { jsonbSafeText, textSafe } from './sql-text.js';

/** A failure to store against a version. */
export interface FailureInput {
  failureType: string;
  description: string;
  stackTrace?: string | null;
  testCaseFailed?: string | null;
  detectionMethod: string;
  severity: Severity;
  evidence?: JsonValue | null;
  /** Stores the failure once however often it is offered (e.g. `<healId>:trigger`). */
  dedupeKey?: string | null;
}

/**
 * The one statement that stores failures: inserts them (a dedupe key already stored is skipped) and
 * adds what was inserted to the version's failure_count, atomically. Returns the new ids and count.
 * Registration, heals and the runtime (over node-postgres) all store failures through it.
 */
const INSERT_FAILURES_SQL = `
  WITH f AS (
    INSERT INTO failures (tool_id, failure_type, description, stack_trace, test_case_failed, detection_method, severity, evidence, dedupe_key)
    SELECT $1, v.* FROM unnest($2::varchar[], $3::text[], $4::text[], $5::varchar[], $6::varchar[], $7::varchar[], $8::json[], $9::varchar[])
      AS v(failure_type, description, stack_trace, test_case_failed, detection_method, severity, evidence, dedupe_key)
    ON CONFLICT (dedupe_key) DO NOTHING
    RETURNING id
  ), c AS (
    UPDATE tool_lineage SET failure_count = failure_count + (SELECT count(*)::int FROM f) WHERE tool_id = $1 RETURNING failure_count
  )
  SELECT COALESCE((SELECT array_agg(id ORDER BY id) FROM f), '{}') AS ids, (SELECT failure_count FROM c) AS failure_count`;

export async function insertFailures(
  runner: SqlRunner,
  versionId: string,
  failures: FailureInput[],
): Promise<{ ids: number[]; failureCount: number }> {
  const [row] = await runner.query<{ ids: number[]; failure_count: number | null }>(INSERT_FAILURES_SQL, [
    versionId,
    failures.map((f) => f.failureType),
    failures.map((f) => textSafe(f.description)),
    failures.map((f) => textSafe(f.stackTrace ?? null)),
    failures.map((f) => textSafe(f.testCaseFailed?.slice(0, 255) ?? null)),
    failures.map((f) => f.detectionMethod),
    failures.map((f) => f.severity),
    failures.map((f) =>
      f.evidence === undefined || f.evidence === null ? null : jsonbSafeText(JSON.stringify(f.evidence)),
    ),
    failures.map((f) => f.dedupeKey ?? null),
  ]);
  return { ids: (row?.ids ?? []).map(Number), failureCount: row?.failure_count ?? 0 };
}

export interface StoredFailure {
  id: number;
  toolId: string;
  failureType: string;
  description: string;
  detectionMethod: string;
  severity: string;
  evidence: JsonValue | null;
}

/** A failed call's input, as the caller sent it, and how the call ended. */
export interface FailedCall {
  input: JsonValue;
  errorType: string | null;
}

/** A version's newest failures and failed calls (FailureStore.recentEvidence). */
export interface RecentEvidence {
  versionId: string;
  failures: StoredFailure[];
  failedCalls: FailedCall[];
}

/** The `failures` table and each version's failure_count. */
export class FailureStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** Stores detector findings against a version and counts them in failure_count. */
  async record(
    versionId: string,
    failures: (DetectedFailure | FailureInput)[],
    db: Db = this.prisma,
  ): Promise<{ ids: number[]; failureCount: number }> {
    if (!failures.length) return { ids: [], failureCount: 0 };
    return insertFailures(prismaRunner(db), versionId, failures);
  }

  /** The failure a heal was started for, stored once per heal (a retried step finds it again). */
  async recordOnce(
    versionId: string,
    failure: FailureInput & { dedupeKey: string },
    db: Db = this.prisma,
  ): Promise<number> {
    const existing = await db.failure.findUnique({ where: { dedupeKey: failure.dedupeKey }, select: { id: true } });
    if (existing) return existing.id;
    const { ids } = await this.record(versionId, [failure], db);
    if (ids[0] !== undefined) return ids[0];
    // Another attempt stored it between the read and the insert.
    return (await db.failure.findUniqueOrThrow({ where: { dedupeKey: failure.dedupeKey }, select: { id: true } })).id;
  }

  /**
   * What each version got wrong, in one statement: its newest failures (at most `failureLimit`) and
   * the inputs of its newest failed calls (at most `callLimit`), newest first, in the order asked.
   */
  async recentEvidence(versionIds: string[], failureLimit: number, callLimit: number): Promise<RecentEvidence[]> {
    const rows = await this.prisma.$queryRaw<{ failures: StoredFailure[]; calls: FailedCall[] }[]>`
      SELECT
        (SELECT coalesce(json_agg(f ORDER BY f.id DESC), '[]') FROM (
          SELECT id, tool_id AS "toolId", failure_type AS "failureType", description,
                 detection_method AS "detectionMethod", severity, evidence
          FROM failures WHERE tool_id = v.id ORDER BY id DESC LIMIT ${failureLimit}) f) AS failures,
        (SELECT coalesce(json_agg(json_build_object('input', e.input, 'errorType', e.error_type) ORDER BY e.id DESC), '[]') FROM (
          SELECT id, input, error_type FROM executions
          WHERE tool_id = v.id AND NOT ok AND input IS NOT NULL ORDER BY id DESC LIMIT ${callLimit}) e) AS calls
      FROM unnest(${versionIds}::varchar[]) WITH ORDINALITY AS v(id, n)
      ORDER BY v.n`;
    return rows.map((r, i) => ({ versionId: versionIds[i]!, failures: r.failures, failedCalls: r.calls }));
  }

  async find(id: number, db: Db = this.prisma): Promise<StoredFailure | null> {
    const f = await db.failure.findUnique({ where: { id } });
    return f ? toStored(f) : null;
  }

  /** What static analysis and the rule gates found against a version. */
  async staticFindings(
    versionId: string,
    db: Db = this.prisma,
  ): Promise<{ failureType: string; description: string }[]> {
    return db.failure.findMany({
      where: { toolId: versionId, detectionMethod: { in: ['static_analysis', 'rule_gate'] } },
      select: { failureType: true, description: true },
    });
  }
}

function toStored(f: {
  id: number;
  toolId: string;
  failureType: string;
  description: string;
  detectionMethod: string;
  severity: string;
  evidence: unknown;
}): StoredFailure {
  return {
    id: f.id,
    toolId: f.toolId,
    failureType: f.failureType,
    description: f.description,
    detectionMethod: f.detectionMethod,
    severity: f.severity,
    evidence: (f.evidence ?? null) as JsonValue | null,
  };
}
