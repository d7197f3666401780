import { findHealthyAlternative } from '../healing/alternative.js';
import type { HealProgress } from '../shared/heal-types.js';
import { checkpoint } from './cancellation.js';
import type { ActivityDeps } from './deps.js';

export interface FinishHealInput {
  healId: string;
  workflowId: string;
  versionId: string;
  progress: HealProgress;
  error?: string | null;
}

export interface FinishHealResult {
  routedTo: string | null;
  /** Set when callers were left on a version known wrong: the alternative answering instead, or null. */
  knownWrong?: { versionId: string; alternativeId: string | null };
}

/**
 * Ends a heal that did not promote a version (unhealed, not pruned, disabled, cancelled, failed):
 * records how it ended and makes sure callers of the tool are routed to a version they may use —
 * the heal's healthy ancestor when it found one, else the newest routable version of the tool.
 *
 * When an unhealed heal leaves callers on the broken version itself (the only version of the tool,
 * or one no routable version of the tool can replace), the route is marked known wrong and a healthy
 * alternative (findHealthyAlternative) is named on it; the runtime then answers from the
 * alternative, or with neither, refuses or warns (runtime.known_wrong_policy).
 */
export function finishHealActivity(deps: ActivityDeps) {
  return async function finishHeal(input: FinishHealInput): Promise<FinishHealResult> {
    const { store } = deps;
    const version = await store.graph.version(input.versionId);
    const { routedTo } = await store.transaction(async (tx) => {
      await store.healRuns.finish(input, tx);
      if (!version) return { routedTo: null };
      const preferred = input.progress.ancestor?.ancestorId ?? input.progress.analysis?.lastGoodId ?? null;
      return {
        routedTo: await store.routing.ensureRoutable(
          version.name,
          preferred,
          `heal ${input.healId} ended ${input.progress.status}`,
          tx,
        ),
      };
    });
    if (!version || !routedTo || input.progress.status !== 'unhealed') return { routedTo };
    const culprit = input.progress.analysis?.culpritId ?? input.versionId;
    const leftOnBroken =
      routedTo === input.versionId || routedTo === culprit || !(await store.routing.isRoutable(routedTo));
    if (!leftOnBroken) return { routedTo };
    const { alternativeId } = await findHealthyAlternative(deps, input.versionId, input.progress.failureId, checkpoint);
    const why = `heal ${input.healId} ended unhealed: ${input.progress.message || 'no healthy version'}`;
    await store.routing.markKnownWrong(version.name, routedTo, why, alternativeId);
    return { routedTo, knownWrong: { versionId: routedTo, alternativeId } };
  };
}
