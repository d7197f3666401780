import { createHash } from 'node:crypto';
import type { FailureAnalysis, RuleResult } from '../shared/heal-types.js';
import type { ActivityDeps } from './deps.js';

export interface CreateAvoidanceRuleInput {
  healId: string;
  sourceVersionId: string;
  failureId: number;
  analysis: FailureAnalysis;
}

/** Rule ids derive from the heal, so a retried step writes the same rule once. */
export function ruleIdFor(healId: string): string {
  return `avoid_${createHash('sha256').update(healId).digest('hex').slice(0, 8)}`;
}

/** Step 4: turns the analysis into an avoidance rule, held by the version that broke. */
export function createAvoidanceRuleActivity(deps: ActivityDeps) {
  return async function createAvoidanceRule(input: CreateAvoidanceRuleInput): Promise<RuleResult> {
    const ruleId = ruleIdFor(input.healId);
    const failure = await deps.store.failures.find(input.failureId);
    const a = input.analysis;
    await deps.store.rules.create({
      ruleId,
      description: a.ruleDescription,
      patternToAvoid: a.problematicPattern,
      patternKind: a.patternKind,
      reason: failure?.description ?? a.reason,
      sourceVersionId: input.sourceVersionId,
      scope: a.scope,
      healId: input.healId,
    });
    return { ruleId, scope: a.scope };
  };
}
