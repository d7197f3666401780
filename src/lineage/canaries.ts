import type { PrismaClient } from '../infra/database.js';
import type { CanaryStatus, CanaryVerdict } from '../shared/canary-types.js';
import type { Health, JsonValue } from '../shared/lineage-types.js';
import { asJson, type Db } from './sql.js';

export { runtimeCanaries, type ComparisonRow, type RuntimeCanaryRow } from './runtime-canaries.js';

export interface CanaryRecord {
  candidateId: string;
  toolName: string;
  stableId: string;
  targetHealth: Health;
  origin: 'registration' | 'heal';
  healId: string | null;
  workflowId: string;
  mirrorFraction: number;
  status: CanaryStatus;
  verdict: CanaryVerdict | null;
  decision: string | null;
  startedAt: string;
  endedAt: string | null;
}

/** A disagreeing call: the input and both answers (an error shows as its type). */
export interface Disagreement {
  input: JsonValue;
  stable: JsonValue;
  candidate: JsonValue;
  candidateError: string | null;
}

/** What the judge reads: counts, latency samples and the disagreements. */
export interface ComparisonSummary {
  mirrored: number;
  agreed: number;
  stableErrors: number;
  candidateErrors: number;
  stableMs: number[];
  candidateMs: number[];
  disagreements: Disagreement[];
}

type CanaryRow = Awaited<ReturnType<PrismaClient['canary']['findUniqueOrThrow']>>;

function toRecord(r: CanaryRow): CanaryRecord {
  return {
    candidateId: r.candidateId,
    toolName: r.toolName,
    stableId: r.stableId,
    targetHealth: r.targetHealth as Health,
    origin: r.origin as CanaryRecord['origin'],
    healId: r.healId,
    workflowId: r.workflowId,
    mirrorFraction: r.mirrorFraction,
    status: r.status as CanaryStatus,
    verdict: (r.verdict as unknown as CanaryVerdict | null) ?? null,
    decision: r.decision,
    startedAt: r.startedAt.toISOString(),
    endedAt: r.endedAt?.toISOString() ?? null,
  };
}

/** Most latencies per side the judge reads (the newest), and most disagreements kept as evidence. */
const LATENCY_SAMPLE = 5000;
const MAX_DISAGREEMENTS = 1000;

/** canaries and canary_comparisons: versions in shadow, what runtimes saw, how each canary ended. */
export class CanaryStore {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Puts a validated version in CANARY beside its tool's stable version (idempotent: a retry finds it).
   * A running canary of the same tool is superseded: its candidate is set FAILED, never routed.
   */
  async begin(
    c: {
      candidateId: string;
      toolName: string;
      stableId: string;
      targetHealth: Health;
      origin: 'registration' | 'heal';
      healId: string | null;
      workflowId: string;
      mirrorFraction: number;
    },
    db: Db = this.prisma,
  ): Promise<void> {
    const older = await db.canary.findMany({
      where: { toolName: c.toolName, status: 'running', candidateId: { not: c.candidateId } },
      select: { candidateId: true },
    });
    for (const o of older) {
      await db.canary.update({
        where: { candidateId: o.candidateId },
        data: { status: 'superseded', decision: `superseded by ${c.candidateId}`, endedAt: new Date() },
      });
      await db.toolLineage.updateMany({
        where: { toolId: o.candidateId, healthStatus: 'canary' },
        data: { healthStatus: 'failed', updatedAt: new Date() },
      });
    }
    await db.canary.upsert({ where: { candidateId: c.candidateId }, create: { ...c }, update: {} });
    await db.toolLineage.update({
      where: { toolId: c.candidateId },
      data: { healthStatus: 'canary', updatedAt: new Date() },
    });
  }

  async get(candidateId: string, db: Db = this.prisma): Promise<CanaryRecord | null> {
    const r = await db.canary.findUnique({ where: { candidateId } });
    return r ? toRecord(r) : null;
  }

  /** Canaries, running first then newest; of `toolNames` when given. */
  async list(options: { running?: boolean; toolNames?: string[]; limit?: number } = {}): Promise<CanaryRecord[]> {
    const rows = await this.prisma.canary.findMany({
      where: {
        ...(options.running ? { status: 'running' } : {}),
        ...(options.toolNames ? { toolName: { in: options.toolNames } } : {}),
      },
      orderBy: [{ startedAt: 'desc' }],
      take: options.limit ?? 200,
    });
    return rows.map(toRecord).sort((a, b) => Number(b.status === 'running') - Number(a.status === 'running'));
  }

  /** Everything recorded about a candidate's mirrored calls, in three statements. */
  async summary(candidateId: string): Promise<ComparisonSummary> {
    const [counts] = await this.prisma.$queryRaw<
      { n: number; agreed: number; stable_errors: number; candidate_errors: number }[]
    >`
      SELECT count(*)::int AS n, count(*) FILTER (WHERE agree)::int AS agreed,
             count(*) FILTER (WHERE NOT stable_ok)::int AS stable_errors, count(*) FILTER (WHERE NOT candidate_ok)::int AS candidate_errors
      FROM canary_comparisons WHERE candidate_id = ${candidateId}`;
    const latencies = await this.prisma.$queryRaw<{ s: number; c: number }[]>`
      SELECT stable_ms AS s, candidate_ms AS c FROM canary_comparisons
      WHERE candidate_id = ${candidateId} AND stable_ok AND candidate_ok ORDER BY id DESC LIMIT ${LATENCY_SAMPLE}`;
    const differing = await this.prisma.$queryRaw<
      { input: JsonValue; stable_output: JsonValue; candidate_output: JsonValue; candidate_error: string | null }[]
    >`
      SELECT input, stable_output, candidate_output, candidate_error FROM canary_comparisons
      WHERE candidate_id = ${candidateId} AND NOT agree ORDER BY id LIMIT ${MAX_DISAGREEMENTS}`;
    return {
      mirrored: counts?.n ?? 0,
      agreed: counts?.agreed ?? 0,
      stableErrors: counts?.stable_errors ?? 0,
      candidateErrors: counts?.candidate_errors ?? 0,
      stableMs: latencies.map((l) => l.s),
      candidateMs: latencies.map((l) => l.c),
      disagreements: differing.map((d) => ({
        input: d.input,
        stable: d.stable_output,
        candidate: d.candidate_output,
        candidateError: d.candidate_error,
      })),
    };
  }

  /** How many comparisons are stored per candidate (for listings). */
  async mirroredCounts(candidateIds: string[]): Promise<Map<string, { mirrored: number; agreed: number }>> {
    if (!candidateIds.length) return new Map();
    const rows = await this.prisma.$queryRaw<{ id: string; n: number; agreed: number }[]>`
      SELECT candidate_id AS id, count(*)::int AS n, count(*) FILTER (WHERE agree)::int AS agreed
      FROM canary_comparisons WHERE candidate_id = ANY(${candidateIds}::varchar[]) GROUP BY candidate_id`;
    return new Map(rows.map((r) => [r.id, { mirrored: r.n, agreed: r.agreed }]));
  }

  /** Stores the judge's latest verdict on a running canary. */
  async saveVerdict(candidateId: string, verdict: CanaryVerdict): Promise<void> {
    await this.prisma.canary.updateMany({
      where: { candidateId, status: 'running' },
      data: { verdict: asJson(verdict) },
    });
  }

  /**
   * Ends a running canary (once: false when it had already ended). The caller changes the candidate's
   * health and the route in the same transaction.
   */
  async end(
    candidateId: string,
    status: Exclude<CanaryStatus, 'running'>,
    decision: string,
    verdict: CanaryVerdict | null,
    db: Db = this.prisma,
  ): Promise<boolean> {
    const { count } = await db.canary.updateMany({
      where: { candidateId, status: 'running' },
      data: { status, decision, endedAt: new Date(), ...(verdict ? { verdict: asJson(verdict) } : {}) },
    });
    return count === 1;
  }

  /** Running canaries, for `dise doctor` to compare with Temporal. */
  async running(): Promise<{ candidateId: string; workflowId: string }[]> {
    return this.prisma.canary.findMany({
      where: { status: 'running' },
      select: { candidateId: true, workflowId: true },
      orderBy: { startedAt: 'asc' },
    });
  }
}
