import type { PrismaClient } from '../infra/database.js';
import type { HealProgress, HealTrigger } from '../shared/heal-types.js';
import { tallyRecord, type ArmRecord, type PastHeal } from '../healing/strategy-bandit.js';
import { REGENERATION_STRATEGIES, type RegenerationStrategy } from '../shared/heal-types.js';
import type { ToolLanguage } from '../shared/language.js';
import type { MutationType } from '../shared/lineage-types.js';
import { asJson, type Db } from './sql.js';

/** One failure context's record, as `dise strategies` shows it. */
export interface StrategyContextRecord {
  contextKey: string;
  heals: number;
  lastHeal: Date;
  record: Partial<Record<RegenerationStrategy, ArmRecord>>;
}

interface PastHealRow {
  context_key: string;
  started_at: Date;
  attempts: { strategy: string; ok: boolean }[] | null;
  strategy: string | null;
  status: string;
  canary_outcome: string | null;
  health_status: string | null;
  execution_count: number | null;
  failure_count: number | null;
}

/** A heal run the database calls running, for comparing with Temporal. */
export interface RunningHealRun {
  id: string;
  workflowId: string;
  toolId: string;
}

export interface HealStats {
  events: number;
  successes: number;
  failures: number;
  running: number;
  averageRecoverySeconds: number | null;
}

/** heal_runs: each heal as the CLI, the health report and `dise doctor` see it. */
export class HealRunStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** Opens the run of a heal (once: a retried step finds it open). */
  async open(
    run: { healId: string; workflowId: string; versionId: string; trigger: HealTrigger },
    db: Db = this.prisma,
  ): Promise<void> {
    // One INSERT … ON CONFLICT DO NOTHING (an upsert with nothing to update is three statements).
    await db.healRun.createMany({
      data: [
        { id: run.healId, workflowId: run.workflowId, toolId: run.versionId, status: 'running', trigger: run.trigger },
      ],
      skipDuplicates: true,
    });
  }

  /**
   * What a heal's failure context is made of, in one statement: the failed version's language, the
   * triggering failure's type and the culprit's latest mutation type (null: the version is unknown).
   */
  async failureContextOf(
    failedId: string,
    culpritId: string,
    failureId: number,
  ): Promise<{ language: ToolLanguage; failureType: string | null; mutationType: MutationType | null } | null> {
    const [row] = await this.prisma.$queryRaw<
      { language: ToolLanguage; failure_type: string | null; mutation_type: MutationType | null }[]
    >`
      SELECT t.language, f.failure_type, m.mutation_type
      FROM tool_lineage t
      LEFT JOIN failures f ON f.id = ${failureId}
      LEFT JOIN LATERAL (
        SELECT mutation_type FROM mutations WHERE tool_id = ${culpritId} ORDER BY id DESC LIMIT 1
      ) m ON true
      WHERE t.tool_id = ${failedId}`;
    return row ? { language: row.language, failureType: row.failure_type, mutationType: row.mutation_type } : null;
  }

  /** When a heal's run was opened (null: never opened), for the heal-duration metric. */
  async startedAt(healId: string): Promise<Date | null> {
    const run = await this.prisma.healRun.findUnique({ where: { id: healId }, select: { startedAt: true } });
    return run?.startedAt ?? null;
  }
  /** Records how a heal ended, with its whole progress. */
  async finish(
    run: { healId: string; workflowId: string; versionId: string; progress: HealProgress; error?: string | null },
    db: Db = this.prisma,
  ): Promise<void> {
    const ended = {
      status: run.progress.status,
      result: asJson(run.progress),
      error: run.error ?? null,
      finishedAt: new Date(),
    };
    await db.healRun.upsert({
      where: { id: run.healId },
      create: { id: run.healId, workflowId: run.workflowId, toolId: run.versionId, ...ended },
      update: ended,
    });
  }

  /** Records a heal as healed by `newVersionId` (inside the promotion's transaction). */
  async healed(healId: string, progress: HealProgress, newVersionId: string, db: Db = this.prisma): Promise<void> {
    await db.healRun.update({
      where: { id: healId },
      data: {
        status: 'healed',
        result: asJson({ ...progress, newVersionId, status: 'healed', step: 'done' }),
        finishedAt: new Date(),
      },
    });
  }

  /** Tells a heal how the canary of the version it made ended (kept in its result as `canary`). */
  async noteCanary(
    healId: string,
    canary: { candidateId: string; outcome: string; decision: string },
    db: Db = this.prisma,
  ): Promise<void> {
    const run = await db.healRun.findUnique({ where: { id: healId }, select: { result: true } });
    if (!run) return;
    const result = (run.result ?? {}) as Record<string, unknown>;
    await db.healRun.update({ where: { id: healId }, data: { result: asJson({ ...result, canary }) } });
  }

  /**
   * The strategies' record in one failure context (the learned order's evidence): the latest
   * `limit` heals that recorded their choice in it. A promoted candidate survived once it served
   * `survivalCalls` calls with no failure recorded on it, or once its canary promoted it.
   */
  async strategyRecord(
    contextKey: string,
    survivalCalls: number,
    limit = 500,
  ): Promise<Partial<Record<RegenerationStrategy, ArmRecord>>> {
    const rows = await this.pastHeals(contextKey, limit);
    return tallyRecord(rows.map((r) => toPastHeal(r, survivalCalls)));
  }

  /** Every failure context's record (`dise strategies`, the dashboard, `dise health`), most heals first. */
  async strategyRecords(survivalCalls: number, limit = 5000): Promise<StrategyContextRecord[]> {
    const rows = await this.pastHeals(null, limit);
    const byContext = new Map<string, PastHealRow[]>();
    for (const r of rows) byContext.set(r.context_key, [...(byContext.get(r.context_key) ?? []), r]);
    return [...byContext.entries()]
      .map(([key, heals]) => ({
        contextKey: key,
        heals: heals.length,
        lastHeal: heals[0]!.started_at,
        record: tallyRecord(heals.map((r) => toPastHeal(r, survivalCalls))),
      }))
      .sort((a, b) => b.heals - a.heals || a.contextKey.localeCompare(b.contextKey));
  }

  private pastHeals(contextKey: string | null, limit: number): Promise<PastHealRow[]> {
    return this.prisma.$queryRaw<PastHealRow[]>`
      SELECT h.result->'strategyChoice'->>'contextKey' AS context_key,
             h.started_at,
             h.result->'attempts' AS attempts,
             CASE WHEN h.status = 'healed' THEN h.result->>'strategy' END AS strategy,
             h.status,
             h.result->'canary'->>'outcome' AS canary_outcome,
             v.health_status,
             v.execution_count,
             v.failure_count
      FROM heal_runs h
      LEFT JOIN tool_lineage v ON v.tool_id = h.result->>'newVersionId'
      WHERE h.status <> 'running'
        AND h.result->'strategyChoice'->>'contextKey' IS NOT NULL
        AND (${contextKey}::text IS NULL OR h.result->'strategyChoice'->>'contextKey' = ${contextKey}::text)
      ORDER BY h.started_at DESC
      LIMIT ${limit}`;
  }

  async running(): Promise<RunningHealRun[]> {
    return this.prisma.healRun.findMany({
      where: { status: 'running' },
      select: { id: true, workflowId: true, toolId: true },
      orderBy: { startedAt: 'asc' },
    });
  }

  /** The recorded end of the latest run of a workflow id, if any. */
  async latestResult(workflowId: string): Promise<HealProgress | null> {
    const run = await this.prisma.healRun.findFirst({
      where: { workflowId },
      orderBy: { startedAt: 'desc' },
      select: { result: true },
    });
    return (run?.result as unknown as HealProgress | null) ?? null;
  }

  /** Heal runs by status (the dashboard's dise_heal_runs gauge). */
  async countByStatus(): Promise<Map<string, number>> {
    const rows = await this.prisma.healRun.groupBy({ by: ['status'], _count: { _all: true } });
    return new Map(rows.map((r) => [r.status, r._count._all]));
  }

  /** Heal events, successes, failures, running heals and the mean time to heal. */
  async stats(): Promise<HealStats> {
    const [s] = await this.prisma.$queryRaw<
      { events: number; successes: number; failures: number; running: number; avg_seconds: number | null }[]
    >`
      SELECT count(*)::int AS events,
             count(*) FILTER (WHERE status = 'healed')::int AS successes,
             count(*) FILTER (WHERE status IN ('unhealed', 'failed'))::int AS failures,
             count(*) FILTER (WHERE status = 'running')::int AS running,
             avg(EXTRACT(EPOCH FROM finished_at - started_at)) FILTER (WHERE status = 'healed')::float8 AS avg_seconds
      FROM heal_runs`;
    return {
      events: s?.events ?? 0,
      successes: s?.successes ?? 0,
      failures: s?.failures ?? 0,
      running: s?.running ?? 0,
      averageRecoverySeconds: s?.avg_seconds ?? null,
    };
  }
}

function toPastHeal(r: PastHealRow, survivalCalls: number): PastHeal {
  const promoted = r.status === 'healed' ? r.strategy : null;
  let survived: boolean | null = null;
  if (promoted) {
    const failed = (r.failure_count ?? 0) > 0 || r.health_status === 'pruned';
    const canaryRefused = r.canary_outcome !== null && r.canary_outcome !== 'promoted' && r.canary_outcome !== 'ended';
    if (failed || canaryRefused) survived = false;
    else if (r.canary_outcome === 'promoted' || (r.execution_count ?? 0) >= survivalCalls) survived = true;
  }
  return { attempts: Array.isArray(r.attempts) ? r.attempts : [], promoted, survived };
}

/** One failure context as `dise strategies` shows it: each strategy's record and the order it favours. */
export interface StrategyPreference {
  context: string;
  heals: number;
  lastHeal: string;
  /** Strategies by posterior mean, best first (what the learned order tries first most often). */
  preferred: RegenerationStrategy[];
  strategies: { strategy: RegenerationStrategy; successes: number; failures: number; mean: number }[];
}

/** Each context's strategies by the posterior mean of Beta(1 + successes, 1 + failures), best first. */
export function strategyPreferences(records: StrategyContextRecord[]): StrategyPreference[] {
  return records.map((r) => {
    const strategies = REGENERATION_STRATEGIES.map((strategy) => {
      const { successes, failures } = r.record[strategy] ?? { successes: 0, failures: 0 };
      return { strategy, successes, failures, mean: (1 + successes) / (2 + successes + failures) };
    }).filter((s) => s.successes + s.failures > 0);
    return {
      context: r.contextKey,
      heals: r.heals,
      lastHeal: r.lastHeal.toISOString(),
      preferred: [...strategies].sort((a, b) => b.mean - a.mean).map((s) => s.strategy),
      strategies,
    };
  });
}
