import { analyzeFailureActivity } from './analyze-failure.js';
import { chooseStrategiesActivity } from './choose-strategies.js';
import { checkHealthActivity, monitorSettingsActivity } from './check-health.js';
import { createAvoidanceRuleActivity } from './create-avoidance-rule.js';
import type { ActivityDeps } from './deps.js';
import { finishCanaryActivity } from './finish-canary.js';
import { findHealthyAncestorActivity } from './find-healthy-ancestor.js';
import { finishHealActivity } from './finish-heal.js';
import { finishReviewActivity } from './finish-review.js';
import { judgeCanaryActivity } from './judge-canary.js';
import { maintainExecutionsActivity } from './maintain-executions.js';
import { promoteActivity } from './promote.js';
import { propagateRuleActivity } from './propagate-rule.js';
import { pruneBranchActivity } from './prune-branch.js';
import { pullRulePackActivity } from './pull-rule-pack.js';
import { recordFailureActivity } from './record-failure.js';
import { regenerateActivity } from './regenerate.js';
import { startHealsActivity } from './start-heals.js';
import { validateCandidateActivity } from './validate-candidate.js';

export type { ActivityDeps } from './deps.js';

/**
 * Builds the activity functions the worker registers. Each healing step lives in its own file and is
 * wired here with its dependencies (no module-level clients).
 */
export function createActivities(deps: ActivityDeps) {
  return {
    recordFailure: recordFailureActivity(deps),
    analyzeFailure: analyzeFailureActivity(deps),
    pruneBranch: pruneBranchActivity(deps),
    createAvoidanceRule: createAvoidanceRuleActivity(deps),
    propagateRule: propagateRuleActivity(deps),
    findHealthyAncestor: findHealthyAncestorActivity(deps),
    chooseStrategies: chooseStrategiesActivity(deps),
    regenerate: regenerateActivity(deps),
    validateCandidate: validateCandidateActivity(deps),
    promote: promoteActivity(deps),
    finishHeal: finishHealActivity(deps),
    checkHealth: checkHealthActivity(deps),
    startHeals: startHealsActivity(deps),
    monitorSettings: monitorSettingsActivity(deps),
    judgeCanary: judgeCanaryActivity(deps),
    finishCanary: finishCanaryActivity(deps),
    maintainExecutions: maintainExecutionsActivity(deps),
    pullRulePack: pullRulePackActivity(deps),
    finishReview: finishReviewActivity(deps),
  };
}

export type DiseActivities = ReturnType<typeof createActivities>;
