import type { Prisma } from '../generated/prisma/client.js';
import { gatherFailingCases } from '../healing/failing-cases.js';
import { lineDiff } from '../healing/offline-analysis.js';
import type { FailureAnalysis, PruneResult } from '../shared/heal-types.js';
import { requireVersion, type ActivityDeps } from './deps.js';

export interface PruneBranchInput {
  healId: string;
  failedId: string;
  failureId: number;
  analysis: FailureAnalysis;
  taintDescendants: boolean;
}

/**
 * Step 3: the version that introduced the failure becomes PRUNED (kept for learning, never deleted),
 * the failed version FAILED if it is another one, every healthy descendant DEGRADED, and every route
 * to any of them moves to the last good ancestor (or the newest routable version of that tool) — all
 * in one transaction of set-based SQL. The decision's evidence is stored on the pruned version.
 */
export function pruneBranchActivity(deps: ActivityDeps) {
  return async function pruneBranch(input: PruneBranchInput): Promise<PruneResult> {
    const culpritId = input.analysis.culpritId ?? input.failedId;
    const culprit = await requireVersion(deps, culpritId);
    const lastGood = input.analysis.lastGoodId ? await requireVersion(deps, input.analysis.lastGoodId) : null;
    const failure = await deps.prisma.failure.findUnique({ where: { id: input.failureId } });
    const staticFindings = await deps.prisma.failure.findMany({
      where: { toolId: culpritId, detectionMethod: { in: ['static_analysis', 'rule_gate'] } },
      select: { failureType: true, description: true },
    });
    const evidence = {
      healId: input.healId,
      failure: failure ? { id: failure.id, type: failure.failureType, description: failure.description, severity: failure.severity, detection: failure.detectionMethod } : null,
      metricWindow: failure?.detectionMethod === 'runtime' ? failure.evidence : null,
      failingTests: failure && ['test_failure', 'regression'].includes(failure.failureType) ? failure.evidence : null,
      failingInputs: (await gatherFailingCases(deps.prisma, input.failedId, input.failureId)).slice(0, 10).map((c) => ({
        input: c.input,
        ...(c.observed !== undefined ? { observed: c.observed } : {}),
        ...(c.expected !== undefined ? { expected: c.expected } : {}),
        ...(c.errorType ? { errorType: c.errorType } : {}),
        source: c.source,
      })),
      staticFindings,
      diff: lastGood ? lineDiff(lastGood.code, culprit.code) : null,
      analysis: input.analysis,
    };

    return deps.prisma.$transaction(async (tx) => {
      await tx.toolLineage.update({
        where: { toolId: culpritId },
        data: { healthStatus: 'pruned', prunedAt: culprit.prunedAt ?? new Date(), pruneEvidence: evidence as unknown as Prisma.InputJsonValue, updatedAt: new Date() },
      });
      if (input.failedId !== culpritId) {
        await tx.toolLineage.updateMany({ where: { toolId: input.failedId, healthStatus: { notIn: ['pruned'] } }, data: { healthStatus: 'failed', updatedAt: new Date() } });
      }
      const tainted = input.taintDescendants ? await deps.store.taintDescendants(culpritId, tx) : [];
      // Everything under the pruned version is out of routing, tainted or not.
      const affected = [culpritId, input.failedId, ...(await deps.store.descendants(culpritId, tx)).map((d) => d.id)];
      const rerouted = await tx.$queryRaw<{ tool_name: string; version_id: string | null }[]>`
        WITH affected AS (SELECT unnest(${affected}::varchar[]) AS id),
        moved AS (
          SELECT r.tool_name,
                 CASE WHEN ${lastGood?.toolName ?? null}::varchar = r.tool_name THEN ${lastGood?.toolId ?? null}::varchar
                 ELSE (SELECT t.tool_id FROM tool_lineage t
                       WHERE t.tool_name = r.tool_name AND t.health_status IN ('healthy', 'regenerated')
                         AND t.tool_id NOT IN (SELECT id FROM affected)
                       ORDER BY t.major DESC, t.minor DESC, t.patch DESC LIMIT 1) END AS version_id
          FROM routes r WHERE r.version_id IN (SELECT id FROM affected)
        )
        UPDATE routes r SET version_id = moved.version_id, reason = ${`pruned ${culpritId} (heal ${input.healId})`}, updated_at = now()
        FROM moved WHERE r.tool_name = moved.tool_name AND moved.version_id IS NOT NULL
        RETURNING r.tool_name, r.version_id`;
      const ownRoute = rerouted.find((r) => r.tool_name === culprit.toolName);
      return {
        prunedId: culpritId,
        prunedCount: 1,
        taintedCount: tainted.length,
        tainted: tainted.slice(0, 100),
        reroutedTo: ownRoute?.version_id ?? null,
      };
    });
  };
}
