import type { HealFailureInput, HealTrigger, RecordFailureResult } from '../shared/heal-types.js';
import { nonRetryable, requireVersion, type ActivityDeps } from './deps.js';

export interface RecordFailureInput {
  healId: string;
  workflowId: string;
  versionId: string;
  failure: HealFailureInput;
  trigger: HealTrigger;
}

/**
 * Step 1: records the failure on the version (once, however often retried) and opens the heal run.
 * Returns the worker's healing settings, so the workflow's decisions are recorded in its history.
 */
export function recordFailureActivity(deps: ActivityDeps) {
  return async function recordFailure(input: RecordFailureInput): Promise<RecordFailureResult> {
    const { store } = deps;
    const version = await requireVersion(deps, input.versionId);
    let failureId = input.failure.failureId ?? null;
    // No transaction: both writes are idempotent, so a retry after a crash between them completes the pair.
    if (failureId !== null) {
      const existing = await store.failures.find(failureId);
      if (!existing || existing.toolId !== input.versionId) {
        throw nonRetryable('InvalidHealInput', `failure #${failureId} is not a failure of ${input.versionId}`);
      }
    } else {
      failureId = await store.failures.recordOnce(input.versionId, {
        failureType: input.failure.failureType,
        description: input.failure.description,
        detectionMethod: input.failure.detectionMethod,
        severity: input.failure.severity,
        evidence: input.failure.evidence ?? null,
        dedupeKey: `${input.healId}:trigger`,
      });
    }
    await store.healRuns.open({
      healId: input.healId,
      workflowId: input.workflowId,
      versionId: input.versionId,
      trigger: input.trigger,
    });
    const c = deps.config.self_healing;
    let healedBy: string | null = null;
    if (version.health === 'pruned') {
      const replacement = await store.graph.healedReplacement(input.versionId);
      healedBy = replacement && (await store.routing.isRoutable(replacement)) ? replacement : null;
    }
    return {
      healedBy,
      failureId: failureId!,
      toolName: version.name,
      settings: {
        enabled: c.enabled,
        autoPruneCritical: c.pruning.auto_prune_critical,
        taintDescendants: c.pruning.taint_descendants,
        autoRegenerate: c.regeneration.auto_regenerate,
        maxRegenerationAttempts: c.regeneration.max_regeneration_attempts,
        requireTestValidation: c.regeneration.require_test_validation,
        llm: deps.llm !== null,
        strategies: c.regeneration.strategies.filter((s) => s !== 'llm' || deps.llm !== null),
        strategyOrder: c.regeneration.strategy_order,
      },
    };
  };
}
