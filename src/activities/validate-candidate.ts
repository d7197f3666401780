import { judgeWithScope } from '../judge/plans.js';
import type { CandidateValidation } from '../shared/heal-types.js';
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
 * answer recorded real inputs of the failed versions as the ancestor does, and pass the differential
 * check beside the ancestor under the culprit's declared mutation type. Each rejection says
 * why, for the next attempt.
 */
export function validateCandidateActivity(deps: ActivityDeps) {
  return async function validateCandidate(input: ValidateCandidateInput): Promise<CandidateValidation> {
    await requireVersion(deps, input.ancestorId);
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
        // The candidate keeps the culprit's goal, and so its promise: an optimization's candidate
        // must answer every corpus input as the ancestor does.
        parentIds: [input.ancestorId],
        mutationOf: input.culpritId,
        skip: input.requireTests ? {} : { suite: why, regression: why },
      },
    );
    return { ok: verdict.passed, rejections: verdict.rejections, testsRun: verdict.testsRun, replayed: verdict.replayed };
  };
}
