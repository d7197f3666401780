import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  ParentClosePolicy,
  proxyActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { DiseActivities } from '../activities/index.js';
import {
  HEAL_NON_RETRYABLE_ERRORS,
  type CandidateValidation,
  type HealProgress,
  type HealStatus,
  type HealStep,
  type RegenerationCandidate,
  type Rejection,
  type SelfHealInput,
} from '../shared/heal-types.js';
import { canaryStartOptions } from '../shared/canary-start.js';
import { healStepMessage, type HealStepMessageArgs } from '../shared/heal-steps.js';
import { healProgressQuery } from '../shared/messages.js';
import { DISE_HEAL_STATUS, DISE_HEAL_STEP } from '../shared/search-attributes.js';
import { canaryWorkflow } from './canary.js';

const NON_RETRYABLE = [...HEAL_NON_RETRYABLE_ERRORS];

/** Database steps: quick, retried patiently (a restarted PostgreSQL must not fail a heal). */
// Every activity heartbeats each second (src/activities/heartbeat.ts): a lost worker is noticed within
// the heartbeat timeout, and cancellation reaches a running step. WAIT_CANCELLATION_COMPLETED keeps a
// cancelled heal from recording its end while a step is still writing.
const dbStep: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  heartbeatTimeout: '5 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 30, nonRetryableErrorTypes: NON_RETRYABLE },
};
/** Steps that run tool code in the sandbox (validation against suites), possibly many versions. */
const sandboxStep: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '15 seconds', maximumAttempts: 20, nonRetryableErrorTypes: NON_RETRYABLE },
};
/** Steps that may call the LLM: transient errors (429, 5xx, timeouts) are retried a few times. */
const llmStep: ActivityOptions = {
  startToCloseTimeout: '3 minutes',
  heartbeatTimeout: '10 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 4, nonRetryableErrorTypes: NON_RETRYABLE },
};

const db = proxyActivities<DiseActivities>(dbStep);
const sandbox = proxyActivities<DiseActivities>(sandboxStep);
const llm = proxyActivities<DiseActivities>(llmStep);

function describe(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * One healing cycle for one version (workflow id `heal:<versionId>`): record the failure, analyse and
 * bisect it, prune the version that introduced it and taint its descendants, turn it into an
 * avoidance rule and propagate it, find a healthy ancestor (minting the failing inputs into tests on
 * it), regenerate up to `max_regeneration_attempts` times — each candidate validated, each rejection
 * fed to the next attempt — and promote the first that passes. Query `progress` for live state.
 * Cancellation leaves the lineage consistent: callers routed to a usable version, the run recorded.
 */
export async function selfHealWorkflow(input: SelfHealInput): Promise<HealProgress> {
  const { runId: healId, workflowId } = workflowInfo();
  const progress: HealProgress = {
    versionId: input.versionId,
    step: 'starting',
    status: 'running',
    attempt: 0,
    maxAttempts: 0,
    failureId: null,
    analysis: null,
    prune: null,
    rule: null,
    propagation: null,
    ancestor: null,
    attempts: [],
    newVersionId: null,
    strategy: null,
    features: null,
    setAside: [],
    restored: [],
    message: 'starting',
  };
  setHandler(healProgressQuery, () => progress);

  // Every step's message comes from the catalogue in src/shared/heal-steps.ts, which the CLI reads too.
  const enter = <S extends HealStep>(step: S, ...args: HealStepMessageArgs<S>) => {
    progress.step = step;
    progress.message = healStepMessage(step, ...args);
    upsertSearchAttributes([
      { key: DISE_HEAL_STEP, value: step },
      { key: DISE_HEAL_STATUS, value: progress.status },
    ]);
  };
  const finish = async (status: HealStatus, message: string, error: string | null = null): Promise<HealProgress> => {
    progress.status = status;
    enter('done', message);
    await db.finishHeal({ healId, workflowId, versionId: input.versionId, progress, error });
    return progress;
  };

  try {
    enter('recordFailure', input.versionId);
    const recorded = await db.recordFailure({ healId, workflowId, versionId: input.versionId, failure: input.failure, trigger: input.trigger });
    const settings = recorded.settings;
    progress.failureId = recorded.failureId;
    progress.maxAttempts = settings.maxRegenerationAttempts;
    if (!settings.enabled) return await finish('disabled', 'self-healing is disabled (self_healing.enabled: false); the failure is recorded');
    if (recorded.healedBy) {
      progress.newVersionId = recorded.healedBy;
      return await finish('healed', `already pruned and replaced by ${recorded.healedBy}; the new failure is recorded`);
    }

    enter('analyzeFailure', settings.llm);
    const analysisInput = { healId, versionId: input.versionId, failureId: recorded.failureId, useLlm: settings.llm };
    let analysis;
    try {
      analysis = await llm.analyzeFailure(analysisInput);
    } catch (err) {
      if (!settings.llm || isCancellation(err)) throw err;
      // The LLM kept failing: the diff-based analysis still lets the heal go on.
      analysis = await sandbox.analyzeFailure({ ...analysisInput, useLlm: false });
    }
    progress.analysis = analysis;
    if (analysis.verdict !== 'mutation' || !analysis.culpritId) {
      const status: HealStatus = analysis.verdict === 'unrecoverable' ? 'unhealed' : 'not_pruned';
      return await finish(status, analysis.reason);
    }
    if (!analysis.recoverable) return await finish('unhealed', `not recoverable: ${analysis.reason}`);
    if (!settings.autoPruneCritical) return await finish('not_pruned', `auto-pruning is off; ${analysis.culpritId} introduced the failure: ${analysis.reason}`);

    enter('pruneBranch', analysis.culpritId, settings.taintDescendants);
    progress.prune = await db.pruneBranch({ healId, failedId: input.versionId, failureId: recorded.failureId, analysis, taintDescendants: settings.taintDescendants });

    enter('createAvoidanceRule');
    progress.rule = await db.createAvoidanceRule({ healId, sourceVersionId: analysis.culpritId, failureId: recorded.failureId, analysis });

    enter('propagateRule', progress.rule.ruleId, progress.rule.scope);
    progress.propagation = await db.propagateRule({ ruleId: progress.rule.ruleId });

    enter('findHealthyAncestor');
    const ancestor = await sandbox.findHealthyAncestor({ healId, failedId: input.versionId, culpritId: analysis.culpritId, failureId: recorded.failureId });
    progress.ancestor = ancestor;
    if (!ancestor.ancestorId) return await finish('unhealed', `no ancestor of ${analysis.culpritId} passes today's suite and the failing inputs`);
    if (!settings.autoRegenerate) {
      return await finish('routed_to_ancestor', `regeneration is off: callers are routed to ${ancestor.ancestorId}`);
    }

    const ruleIds = [progress.rule.ruleId];
    const rejections: string[] = [];
    const culpritId = analysis.culpritId;
    // Strategies in the configured order. A revert needs work after the culprit to keep; when the
    // failed version is the culprit, a revert of it would be the rollback, so it is not tried.
    const plan = settings.strategies
      .filter((s) => s !== 'revert' || culpritId !== input.versionId)
      .map((strategy) => ({ strategy, tries: strategy === 'llm' ? settings.maxRegenerationAttempts : 1 }));
    progress.maxAttempts = plan.reduce((n, p) => n + p.tries, 0);
    let attempt = 0;
    for (const { strategy, tries } of plan) {
      for (let round = 1; round <= tries; round++) {
        attempt++;
        progress.attempt = attempt;
        const keepsLaterWork = strategy === 'revert' || (strategy === 'llm' && culpritId !== input.versionId);
        enter('regenerate', strategy, keepsLaterWork ? input.versionId : ancestor.ancestorId, attempt, progress.maxAttempts);
        let candidate: RegenerationCandidate;
        try {
          const regenerate = strategy === 'llm' ? llm.regenerate : sandbox.regenerate;
          candidate = await regenerate({
            healId,
            attempt,
            strategy,
            ancestorId: ancestor.ancestorId,
            failedId: input.versionId,
            culpritId,
            culpritParentId: analysis.culpritParentId,
            mistake: analysis.ruleDescription || analysis.reason,
            ruleIds,
            rejections,
          });
        } catch (err) {
          if (isCancellation(err)) throw err;
          const rejection: Rejection = { kind: 'llm_error', message: describe(err) };
          progress.attempts.push({ attempt, strategy, ok: false, rejections: [rejection] });
          rejections.push(`attempt ${attempt}: ${rejection.message}`);
          continue;
        }
        if (candidate.code === null || candidate.builtOn === null) {
          const rejection: Rejection = { kind: strategy === 'revert' ? 'conflict' : 'malformed', message: candidate.notes };
          progress.attempts.push({ attempt, strategy, ok: false, rejections: [rejection] });
          rejections.push(`attempt ${attempt}: ${strategy === 'revert' ? 'no revert' : 'unusable answer'}: ${candidate.notes}`);
          continue;
        }

        enter('validateCandidate', attempt);
        const validation: CandidateValidation = await sandbox.validateCandidate({
          healId,
          attempt,
          code: candidate.code,
          strategy,
          builtOn: candidate.builtOn,
          ancestorId: ancestor.ancestorId,
          failedId: input.versionId,
          culpritId,
          ruleIds,
          requireTests: settings.requireTestValidation,
        });
        progress.attempts.push({ attempt, strategy, ok: validation.ok, rejections: validation.rejections });
        if (!validation.ok) {
          rejections.push(...validation.rejections.map((r) => `attempt ${attempt}: ${r.kind}: ${r.message}`));
          continue;
        }

        enter('promote', attempt);
        progress.status = 'healed';
        progress.strategy = strategy;
        progress.features = validation.features;
        progress.setAside = validation.setAside;
        const promoted = await db.promote({
          healId,
          failedId: input.versionId,
          culpritId,
          ancestorId: ancestor.ancestorId,
          code: candidate.code,
          strategy,
          builtOn: candidate.builtOn,
          setAside: validation.setAside,
          notes: candidate.notes,
          ruleIds,
          progress,
        });
        progress.newVersionId = promoted.newVersionId;
        progress.restored = promoted.restored;
        const kept = validation.features.total ? `; features kept ${validation.features.kept}/${validation.features.total}` : '';
        if (promoted.canary) {
          // Shadow deployment: the canary outlives the heal (ABANDON) and tells its heal run how it ended.
          progress.canary = promoted.canary;
          await startChild(canaryWorkflow, { ...canaryStartOptions(promoted.newVersionId), parentClosePolicy: ParentClosePolicy.ABANDON }).catch((err: unknown) => {
            if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
          });
          enter('done', `healed by ${strategy}: ${promoted.newVersionId} runs in shadow beside ${promoted.canary.stableId} until its canary promotes it (${promoted.canary.workflowId})${kept}`);
          return progress;
        }
        enter('done', `healed by ${strategy}: callers of ${input.versionId.split('@')[0]} are routed to ${promoted.newVersionId}${kept}`);
        return progress;
      }
    }
    return await finish('unhealed', `no candidate passed validation in ${attempt} attempt(s) (${plan.map((p) => p.strategy).join(', ')}); callers stay on ${ancestor.ancestorId}`);
  } catch (err) {
    if (isCancellation(err)) {
      // Whatever step was interrupted, leave the lineage consistent before ending as cancelled.
      await CancellationScope.nonCancellable(async () => {
        progress.status = 'cancelled';
        progress.message = `cancelled during ${progress.step}`;
        await db.finishHeal({ healId, workflowId, versionId: input.versionId, progress, error: null });
      });
      throw err;
    }
    progress.status = 'failed';
    progress.message = describe(err);
    await CancellationScope.nonCancellable(() => db.finishHeal({ healId, workflowId, versionId: input.versionId, progress, error: describe(err) }));
    throw ApplicationFailure.create({ type: 'HealFailed', message: `heal of ${input.versionId} failed during ${progress.step}: ${describe(err)}`, nonRetryable: true });
  }
}
