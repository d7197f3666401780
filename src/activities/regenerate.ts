import { regenerateWithLlm } from '../llm/regenerator.js';
import { MalformedAnswerError, PermanentLlmError } from '../llm/client.js';
import type { RegenerationCandidate } from '../shared/heal-types.js';
import { activitySignal } from './cancellation.js';
import { requireVersion, type ActivityDeps } from './deps.js';

export interface RegenerateInput {
  healId: string;
  attempt: number;
  ancestorId: string;
  culpritId: string;
  ruleIds: string[];
  /** Why earlier attempts were rejected: fed to the next one. */
  rejections: string[];
  useLlm: boolean;
}

/**
 * Step 7: a new version from the healthy ancestor that keeps the mutation's goal and obeys every rule
 * in scope — by the LLM when configured, else a rollback (the ancestor's own code). An unusable
 * answer is returned as a failed attempt (code null); transient LLM errors are thrown for Temporal
 * to retry.
 */
export function regenerateActivity(deps: ActivityDeps) {
  return async function regenerate(input: RegenerateInput): Promise<RegenerationCandidate> {
    const ancestor = await requireVersion(deps, input.ancestorId);
    if (!input.useLlm || !deps.llm) {
      return { strategy: 'rollback', code: ancestor.code, notes: `rollback to ${input.ancestorId}'s code (offline strategy)` };
    }
    const goal = (await deps.store.graph.latestMutation(input.culpritId))?.description ?? `improve ${input.ancestorId}`;
    const rules = await deps.store.rules.inScopeWith(input.ancestorId, input.ruleIds);
    try {
      const answer = await regenerateWithLlm(deps.llm, {
        ancestorId: input.ancestorId,
        ancestorCode: ancestor.code,
        goal,
        rules: rules.map((r) => ({ ruleId: r.ruleId, description: r.description, patternToAvoid: r.patternToAvoid, reason: r.reason, sourceFailure: r.sourceFailure })),
        rejections: input.rejections,
        attempt: input.attempt,
      }, activitySignal());
      return { strategy: 'llm', code: answer.code, notes: answer.notes };
    } catch (err) {
      if (err instanceof MalformedAnswerError || err instanceof PermanentLlmError) {
        return { strategy: 'llm', code: null, notes: err.message };
      }
      throw err;
    }
  };
}
