import { judgeWithScope } from '../judge/plans.js';
import type { CandidateValidation } from '../shared/heal-types.js';
import { checkpoint } from './cancellation.js';
import { requireVersion, type ActivityDeps } from './deps.js';

export interface ValidateCandidateInput {
  healId: string;
  attempt: number;
  code: string;
  ancestorId: string;
  failedId: string;
  culpritId: string;
  ruleIds: string[];
  requireTests: boolean;
}

/**
 * Step 8: the judge with the candidate plan, against the healthy ancestor it was made from: the
 * candidate must parse and define run(), pass static analysis and every rule gate in scope (the new
 * rules included), pass the ancestor's suite — minted tests included — wherever the ancestor does,
 * and answer recorded real inputs of the failed versions as the ancestor does. Each rejection says
 * why, for the next attempt.
 */
export function validateCandidateActivity(deps: ActivityDeps) {
  return async function validateCandidate(input: ValidateCandidateInput): Promise<CandidateValidation> {
    await requireVersion(deps, input.ancestorId);
    await checkpoint();
    const why = 'regeneration.require_test_validation is off in config.yaml';
    const verdict = await judgeWithScope(
      deps,
      'candidate',
      { id: `candidate ${input.attempt}`, code: input.code },
      {
        scopeOf: input.ancestorId,
        extraRuleIds: input.ruleIds,
        baselineId: input.ancestorId,
        replayFrom: [input.failedId, input.culpritId],
        skip: input.requireTests ? {} : { suite: why, regression: why },
      },
    );
    await checkpoint(); // the judge's verdict is moot for a cancelled heal
    return { ok: verdict.passed, rejections: verdict.rejections, testsRun: verdict.testsRun, replayed: verdict.replayed };
  };
}
