import type { HealProgress } from '../shared/heal-types.js';
import type { ActivityDeps } from './deps.js';

export interface FinishHealInput {
  healId: string;
  workflowId: string;
  versionId: string;
  progress: HealProgress;
  error?: string | null;
}

/**
 * Ends a heal that did not promote a version (unhealed, not pruned, disabled, cancelled, failed):
 * records how it ended and makes sure callers of the tool are routed to a version they may use —
 * the heal's healthy ancestor when it found one, else the newest routable version of the tool.
 */
export function finishHealActivity(deps: ActivityDeps) {
  return async function finishHeal(input: FinishHealInput): Promise<{ routedTo: string | null }> {
    const { store } = deps;
    const version = await store.graph.version(input.versionId);
    return store.transaction(async (tx) => {
      await store.healRuns.finish(input, tx);
      if (!version) return { routedTo: null };
      const preferred = input.progress.ancestor?.ancestorId ?? input.progress.analysis?.lastGoodId ?? null;
      const routedTo = await store.routing.ensureRoutable(version.name, preferred, `heal ${input.healId} ended ${input.progress.status}`, tx);
      return { routedTo };
    });
  };
}
