import { failureAndCases } from '../healing/failing-cases.js';
import { lineDiff } from '../healing/offline-analysis.js';
import type { FailureAnalysis, PruneResult } from '../shared/heal-types.js';
import type { JsonValue } from '../shared/lineage-types.js';
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
    const { store } = deps;
    const culpritId = input.analysis.culpritId ?? input.failedId;
    // Independent reads, at once: a heal is measured end to end, one database round trip at a time.
    const [culprit, lastGood, { focus: failure, cases: failingCases }, staticFindings] = await Promise.all([
      requireVersion(deps, culpritId),
      input.analysis.lastGoodId ? requireVersion(deps, input.analysis.lastGoodId) : null,
      failureAndCases(store, input.failedId, input.failureId),
      store.failures.staticFindings(culpritId),
    ]);
    const evidence = {
      healId: input.healId,
      failure: failure
        ? {
            id: failure.id,
            type: failure.failureType,
            description: failure.description,
            severity: failure.severity,
            detection: failure.detectionMethod,
          }
        : null,
      metricWindow: failure?.detectionMethod === 'runtime' ? failure.evidence : null,
      failingTests: failure && ['test_failure', 'regression'].includes(failure.failureType) ? failure.evidence : null,
      failingInputs: failingCases.slice(0, 10).map((c) => ({
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

    return store.transaction(async (tx) => {
      await store.graph.prune(culpritId, input.failedId, evidence as unknown as JsonValue, tx);
      const { descendants, tainted } = await store.graph.taintBelow(culpritId, input.taintDescendants, tx);
      // Everything under the pruned version is out of routing, tainted or not.
      const affected = [culpritId, input.failedId, ...descendants];
      const rerouted = await store.routing.rerouteAway(
        affected,
        lastGood ? { id: lastGood.id, toolName: lastGood.name } : null,
        `pruned ${culpritId} (heal ${input.healId})`,
        tx,
      );
      const ownRoute = rerouted.find((r) => r.toolName === culprit.name);
      return {
        prunedId: culpritId,
        prunedCount: 1,
        taintedCount: tainted.length,
        tainted: tainted.slice(0, 100),
        reroutedTo: ownRoute?.versionId ?? null,
      };
    });
  };
}
