import type { PropagationResult } from '../shared/heal-types.js';
import { nonRetryable, type ActivityDeps } from './deps.js';

export interface PropagateRuleInput {
  ruleId: string;
}

/**
 * Step 5: propagates a rule by its scope, set-based: `descendants` (every descendant of the version
 * that broke), `all_similar` (those, plus every version of the tools whose description and code are
 * trigram-similar to it above propagation.similarity_threshold), `global` (every version). New
 * versions inherit it from their parents from then on.
 */
export function propagateRuleActivity(deps: ActivityDeps) {
  return async function propagateRule(input: PropagateRuleInput): Promise<PropagationResult> {
    const result = await deps.store.rules.propagate(
      input.ruleId,
      deps.config.self_healing.propagation.similarity_threshold,
    );
    if (!result) throw nonRetryable('InvalidHealInput', `unknown rule ${input.ruleId}`);
    return { ruleId: input.ruleId, ...result };
  };
}
