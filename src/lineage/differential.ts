import type { PrismaClient } from '../infra/database.js';
import type { DifferentialReport, JsonValue, MutationType } from '../shared/lineage-types.js';
import { toDifferentialReport, type DifferentialRow } from './quick-reads.js';
import { asJson, type Db } from './sql.js';

/** differential_checks (and the declared mutation a check reads): what each version was compared on. */
export class DifferentialStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** The mutation a version declares (its latest), or null for a root or a version without one. */
  async declaredMutation(
    versionId: string,
    db: Db = this.prisma,
  ): Promise<{ type: MutationType; description: string } | null> {
    const row = await db.mutation.findFirst({
      where: { toolId: versionId },
      orderBy: { id: 'desc' },
      select: { mutationType: true, description: true },
    });
    return row ? { type: row.mutationType as MutationType, description: row.description } : null;
  }

  /** Stores one check of a stored version, with every difference and both outputs. */
  async record(report: DifferentialReport, db: Db = this.prisma): Promise<void> {
    await db.differentialCheck.create({
      data: {
        toolId: report.versionId,
        parentIds: asJson(report.parents),
        mutationType: report.mutationType,
        judgedAs: report.judgedAs,
        verdict: report.verdict,
        seed: report.seed,
        inputs: report.inputs,
        sources: asJson({
          ...report.sources,
          unjudged: report.unjudged,
          notRun: report.notRun ?? 0,
          differing: report.differing,
          ...(report.brokenSources?.length ? { broken: report.brokenSources } : {}),
        }),
        differences: asJson(report.differences),
        message: report.message,
        durationMs: report.durationMs,
      },
    });
  }

  /** The latest check of each version, by id. */
  async latestFor(versionIds: string[], db: Db = this.prisma): Promise<Map<string, DifferentialReport>> {
    if (!versionIds.length) return new Map();
    const rows = await db.differentialCheck.findMany({
      where: { toolId: { in: versionIds } },
      orderBy: { id: 'desc' },
      distinct: ['toolId'],
    });
    return new Map(rows.map((r) => [r.toolId, toDifferentialReport(r as unknown as DifferentialRow)]));
  }

  /** Every stored difference input of a version (for tests and the doctor). */
  async differenceInputs(versionId: string, db: Db = this.prisma): Promise<JsonValue[]> {
    const latest = (await this.latestFor([versionId], db)).get(versionId);
    return latest ? latest.differences.map((d) => d.input) : [];
  }
}
