import type { PrismaClient } from '../infra/database.js';
import type { ImmunityReport } from '../shared/immunity-types.js';
import { asJson } from './sql.js';

/** The latest adversarial self-test of a version, as lists show it. */
export interface ImmunityScore {
  mutants: number;
  killedBefore: number;
  killedAfter: number;
  pinned: number;
  /** killedAfter / mutants, 0..1 (null without mutants). */
  score: number | null;
  at: Date;
}

/** immunity_runs: each `dise immunity` of a version, newest last. */
export class ImmunityStore {
  constructor(private readonly prisma: PrismaClient) {}

  async record(report: ImmunityReport): Promise<void> {
    await this.prisma.immunityRun.create({
      data: {
        toolId: report.versionId,
        mutants: report.mutants,
        killedBefore: report.killedBefore,
        killedAfter: report.killedAfter,
        pinned: report.pinned.length,
        report: asJson(report as unknown as Parameters<typeof asJson>[0]),
      },
    });
  }

  /** The newest run of each version named, by version id. */
  async latest(versionIds: string[]): Promise<Map<string, ImmunityScore>> {
    if (!versionIds.length) return new Map();
    const rows = await this.prisma.immunityRun.findMany({
      where: { toolId: { in: versionIds } },
      orderBy: { id: 'desc' },
      distinct: ['toolId'],
    });
    return new Map(
      rows.map((r) => [
        r.toolId,
        {
          mutants: r.mutants,
          killedBefore: r.killedBefore,
          killedAfter: r.killedAfter,
          pinned: r.pinned,
          score: r.mutants ? r.killedAfter / r.mutants : null,
          at: r.createdAt,
        },
      ]),
    );
  }
}
