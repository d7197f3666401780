import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
  type RetryPolicy,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { DiseActivities } from '../activities/index.js';
import {
  HEAL_NON_RETRYABLE_ERRORS,
  type CandidateValidation,
  type FailureAnalysis,
  type HealProgress,
  type HealSettings,
  type HealStatus,
  type HealStep,
  type RecordFailureResult,
  type RegenerationCandidate,
  type RegenerationStrategy,
  type Rejection,
  type SelfHealInput,
  taintedOthers,
} from '../shared/heal-types.js';
import { canaryStartOptions } from '../shared/canary-start.js';
import { healStepMessage, type HealStepMessageArgs } from '../shared/heal-steps.js';
import { healProgressQuery } from '../shared/messages.js';
import { DISE_HEAL_STATUS, DISE_HEAL_STEP } from '../shared/search-attributes.js';
import { canaryWorkflow } from './canary.js';

/**
 * The timeout and retry profiles of the heal's steps. Every activity heartbeats each second
 * (src/activities/heartbeat.ts): a lost worker is noticed within the heartbeat timeout, and
 * cancellation reaches a running step. WAIT_CANCELLATION_COMPLETED keeps a cancelled heal from
 * recording its end while a step is still writing. Errors no retry can fix (HEAL_NON_RETRYABLE_ERRORS,
 * e.g. a validation error) end the step at once.
 */
function stepProfile(
  timeouts: Pick<ActivityOptions, 'startToCloseTimeout' | 'heartbeatTimeout'>,
  retry: RetryPolicy,
): ActivityOptions {
  return {
    ...timeouts,
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: { ...retry, nonRetryableErrorTypes: [...HEAL_NON_RETRYABLE_ERRORS] },
  };
}

/** How short database steps are retried, patiently: a restarted PostgreSQL must not fail a heal. */
const QUICK_RETRY = {
  initialInterval: '500 milliseconds',
  backoffCoefficient: 2,
  maximumInterval: '10 seconds',
  maximumAttempts: 30,
  nonRetryableErrorTypes: [...HEAL_NON_RETRYABLE_ERRORS],
};

/** Short database steps (30 s). */
const quickStep = proxyActivities<DiseActivities>(
  stepProfile({ startToCloseTimeout: '30 seconds', heartbeatTimeout: '5 seconds' }, QUICK_RETRY),
);
/** Steps that may take minutes of local work (tool code run against suites, possibly many versions). */
const heavyStep = proxyActivities<DiseActivities>(
  stepProfile(
    { startToCloseTimeout: '2 minutes', heartbeatTimeout: '10 seconds' },
    { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '15 seconds', maximumAttempts: 20 },
  ),
);
/**
 * The record of a cancelled heal's end, run by the worker that holds the workflow (a local activity):
 * it takes no activity slot and waits behind no queued task, so a worker busy with other heals'
 * steps still ends a cancelled heal at once. Retried like a quick step.
 */
const cancelledEnd = proxyLocalActivities<DiseActivities>({ startToCloseTimeout: '30 seconds', retry: QUICK_RETRY });
/**
 * The short database steps of heals started since this change (record, prune, rule, propagate, order,
 * offline regenerate, finish, and promote when it has no tainted descendant to re-validate): local
 * activities, run by the worker that holds the heal with the retries of a quick step. A run of them
 * takes no round trip through Temporal between steps: their results are recorded (as markers) with
 * the next workflow task, which ends at the next heavy step (analysis, ancestor, validation) or at
 * the heal's end. A worker killed before that runs them again on the next worker from the last
 * recorded one: each is idempotent (keyed by the heal), and what a run of them follows has already
 * been recorded, so running again gives the same answers. A cancellation reaches a local step when
 * it ends (a step that hangs: at the workflow task's heartbeat, 80% of its 10 s timeout).
 */
const localStep = proxyLocalActivities<DiseActivities>({
  startToCloseTimeout: '30 seconds',
  cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  retry: QUICK_RETRY,
});
/** Steps that may call the LLM: slow answers, and transient errors (429, 5xx, timeouts) retried a few times. */
const llmStep = proxyActivities<DiseActivities>(
  stepProfile(
    { startToCloseTimeout: '3 minutes', heartbeatTimeout: '10 seconds' },
    { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 4 },
  ),
);

/**
 * One healing cycle for one version (workflow id `heal:<versionId>`): record the failure, analyse and
 * bisect it, prune the version that introduced it and taint its descendants, turn it into an
 * avoidance rule and propagate it, find a healthy ancestor (minting the failing inputs into tests on
 * it), regenerate up to `max_regeneration_attempts` times — each candidate validated, each rejection
 * fed to the next attempt — and promote the first that passes. Query `progress` for live state.
 * Cancellation leaves the lineage consistent: callers routed to a usable version, the run recorded.
 */
export async function selfHealWorkflow(input: SelfHealInput): Promise<HealProgress> {
  const heal = beginHeal(input);
  const { healId, workflowId, progress, quick } = heal;
  const versionId = input.versionId;
  try {
    heal.enter('recordFailure', versionId);
    const recorded = await quick.recordFailure({
      healId,
      workflowId,
      versionId,
      failure: input.failure,
      trigger: input.trigger,
    });
    const settings = recorded.settings;
    progress.failureId = recorded.failureId;
    progress.maxAttempts = settings.maxRegenerationAttempts;
    if (!settings.enabled)
      return await heal.finish(
        'disabled',
        'self-healing is disabled (self_healing.enabled: false); the failure is recorded',
      );
    if (recorded.healedBy) {
      progress.newVersionId = recorded.healedBy;
      return await heal.finish(
        'healed',
        `already pruned and replaced by ${recorded.healedBy}; the new failure is recorded`,
      );
    }

    heal.enter('analyzeFailure', settings.llm);
    const analysis = await analyzeWithFallback(heal, recorded);
    progress.analysis = analysis;
    const culpritId = analysis.verdict === 'mutation' ? analysis.culpritId : null;
    if (!culpritId)
      return await heal.finish(analysis.verdict === 'unrecoverable' ? 'unhealed' : 'not_pruned', analysis.reason);
    if (!analysis.recoverable) return await heal.finish('unhealed', `not recoverable: ${analysis.reason}`);
    if (!settings.autoPruneCritical)
      return await heal.finish(
        'not_pruned',
        `auto-pruning is off; ${culpritId} introduced the failure: ${analysis.reason}`,
      );

    heal.enter('pruneBranch', culpritId, settings.taintDescendants);
    progress.prune = await quick.pruneBranch({
      healId,
      failedId: versionId,
      failureId: recorded.failureId,
      analysis,
      taintDescendants: settings.taintDescendants,
    });

    heal.enter('createAvoidanceRule');
    const rule = await quick.createAvoidanceRule({
      healId,
      sourceVersionId: culpritId,
      failureId: recorded.failureId,
      analysis,
    });
    progress.rule = rule;

    heal.enter('propagateRule', rule.ruleId, rule.scope);
    progress.propagation = await quick.propagateRule({ ruleId: rule.ruleId });

    heal.enter('findHealthyAncestor');
    heal.publish();
    const ancestor = await heavyStep.findHealthyAncestor({
      healId,
      failedId: versionId,
      culpritId,
      failureId: recorded.failureId,
    });
    progress.ancestor = ancestor;
    if (!ancestor.ancestorId)
      return await heal.finish('unhealed', `no ancestor of ${culpritId} passes today's suite and the failing inputs`);
    if (!settings.autoRegenerate)
      return await heal.finish(
        'routed_to_ancestor',
        `regeneration is off: callers are routed to ${ancestor.ancestorId}`,
      );

    return await regenerateUntilOnePasses(heal, {
      settings,
      analysis,
      culpritId,
      ancestorId: ancestor.ancestorId,
      ruleIds: [rule.ruleId],
    });
  } catch (err) {
    return await endOnError(heal, err);
  }
}

/** A heal under way: its ids, its live progress (the `progress` query) and how it moves on and ends. */
interface Heal {
  input: SelfHealInput;
  healId: string;
  workflowId: string;
  progress: HealProgress;
  /** The short database steps: local activities, or (heals recorded before that change) normal ones. */
  quick: typeof quickStep;
  /** Enters a step: its message from the catalogue, and the search attributes the Temporal UI shows. */
  enter<S extends HealStep>(step: S, ...args: HealStepMessageArgs<S>): void;
  /**
   * Sets the search attributes to the step entered, before the heal waits on Temporal (an activity
   * of its own, or the end): see `enter`.
   */
  publish(): void;
  /** Ends the heal without a promotion, recording how (finishHeal routes callers to a usable version). */
  finish(status: HealStatus, message: string): Promise<HealProgress>;
}

function beginHeal(input: SelfHealInput): Heal {
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
  const quick = patched('local-quick-steps') ? localStep : quickStep;
  // Heals started since this change set the search attributes once per workflow task instead of at
  // every step: a run of local steps is recorded at once with the task that ends it, so Temporal only
  // ever showed the last of their upserts; the others were events (and visibility writes) nobody saw.
  const perTask = patched('step-attributes-per-task');
  let published: string | null = null;
  const upsert = () => {
    published = `${progress.step}:${progress.status}`;
    upsertSearchAttributes([
      { key: DISE_HEAL_STEP, value: progress.step },
      { key: DISE_HEAL_STATUS, value: progress.status },
    ]);
  };
  const heal: Heal = {
    input,
    healId,
    workflowId,
    progress,
    quick,
    // Every step's message comes from the catalogue in src/shared/heal-steps.ts, which the CLI reads too.
    enter(step, ...args) {
      progress.step = step;
      progress.message = healStepMessage(step, ...args);
      if (!perTask) upsert();
    },
    publish() {
      if (perTask && published !== `${progress.step}:${progress.status}`) upsert();
    },
    async finish(status, message) {
      progress.status = status;
      heal.enter('done', message);
      heal.publish();
      await quick.finishHeal({ healId, workflowId, versionId: input.versionId, progress, error: null });
      return progress;
    },
  };
  return heal;
}

/** The LLM's analysis when one is configured; when the LLM keeps failing, the diff-based analysis lets the heal go on. */
async function analyzeWithFallback(heal: Heal, recorded: RecordFailureResult): Promise<FailureAnalysis> {
  const { healId, input } = heal;
  const useLlm = recorded.settings.llm;
  const analysisInput = { healId, versionId: input.versionId, failureId: recorded.failureId, useLlm };
  heal.publish();
  try {
    return await llmStep.analyzeFailure(analysisInput);
  } catch (err) {
    if (!useLlm || isCancellation(err)) throw err;
    return await heavyStep.analyzeFailure({ ...analysisInput, useLlm: false });
  }
}

/** What every attempt of a heal builds on: the culprit, the healthy ancestor and the rules to obey. */
interface Regeneration {
  settings: HealSettings;
  analysis: FailureAnalysis;
  culpritId: string;
  ancestorId: string;
  ruleIds: string[];
}

/** A usable candidate: the strategy of the attempt that made it, its code and the version it is built on. */
interface Candidate {
  strategy: RegenerationStrategy;
  code: string;
  builtOn: string;
  notes: string;
}

/**
 * Makes and validates candidates, strategy by strategy, each rejection fed to the next attempt, and
 * promotes the first that passes; ends unhealed (callers staying on the ancestor) when none does.
 */
async function regenerateUntilOnePasses(heal: Heal, regeneration: Regeneration): Promise<HealProgress> {
  const { progress } = heal;
  const strategies = await orderStrategies(
    heal,
    regeneration,
    strategiesToTry(regeneration.settings, regeneration.culpritId, heal.input.versionId),
  );
  // The LLM gets max_regeneration_attempts tries; a revert or a rollback gives the same answer every time.
  const tries = (strategy: RegenerationStrategy) =>
    strategy === 'llm' ? regeneration.settings.maxRegenerationAttempts : 1;
  const attempts = strategies.flatMap((strategy) => Array.from({ length: tries(strategy) }, () => strategy));
  progress.maxAttempts = attempts.length;
  const rejections: string[] = [];
  for (const [index, strategy] of attempts.entries()) {
    const attempt = index + 1;
    progress.attempt = attempt;
    const candidate = await makeCandidate(heal, regeneration, strategy, attempt, rejections);
    if (!candidate) continue;

    heal.enter('validateCandidate', attempt);
    const validation = await validateCandidate(heal, regeneration, candidate, attempt);
    progress.attempts.push({ attempt, strategy, ok: validation.ok, rejections: validation.rejections });
    if (!validation.ok) {
      rejections.push(...validation.rejections.map((r) => `attempt ${attempt}: ${r.kind}: ${r.message}`));
      continue;
    }
    return await promote(heal, regeneration, candidate, validation, attempt);
  }
  return await heal.finish(
    'unhealed',
    `no candidate passed validation in ${attempts.length} attempt(s) (${strategies.join(', ')}); callers stay on ${regeneration.ancestorId}`,
  );
}

/**
 * Strategies in the configured order. A revert needs work after the culprit to keep; when the failed
 * version is the culprit, a revert of it would be the rollback, so it is not tried.
 */
function strategiesToTry(settings: HealSettings, culpritId: string, failedId: string): RegenerationStrategy[] {
  return settings.strategies.filter((s) => s !== 'revert' || culpritId !== failedId);
}

/**
 * The order to try the strategies in, chosen by an activity (it reads the record of earlier heals and
 * draws random numbers) and kept on the heal's progress, so the heal run records it and why. Heals
 * started before this step existed replay without it.
 */
async function orderStrategies(
  heal: Heal,
  regeneration: Regeneration,
  strategies: RegenerationStrategy[],
): Promise<RegenerationStrategy[]> {
  const { healId, input, progress, quick } = heal;
  if (!patched('strategy-choice') || progress.failureId === null) return strategies;
  const mode = regeneration.settings.strategyOrder ?? 'fixed';
  heal.enter('chooseStrategies', mode);
  const choice = await quick.chooseStrategies({
    healId,
    failedId: input.versionId,
    culpritId: regeneration.culpritId,
    failureId: progress.failureId,
    strategies,
    mode,
  });
  progress.strategyChoice = choice;
  // Only strategies the heal may use, whatever the activity answers.
  const allowed = choice.order.filter((s) => strategies.includes(s));
  return allowed.length === strategies.length ? allowed : strategies;
}

/** One attempt's candidate, or null (the reason recorded and kept for the next attempt) when none came of it. */
async function makeCandidate(
  heal: Heal,
  regeneration: Regeneration,
  strategy: RegenerationStrategy,
  attempt: number,
  rejections: string[],
): Promise<Candidate | null> {
  const { healId, input, progress } = heal;
  const { analysis, culpritId, ancestorId, ruleIds } = regeneration;
  const keepsLaterWork = strategy === 'revert' || (strategy === 'llm' && culpritId !== input.versionId);
  heal.enter('regenerate', strategy, keepsLaterWork ? input.versionId : ancestorId, attempt, progress.maxAttempts);
  let candidate: RegenerationCandidate;
  try {
    // A rollback or a revert reads the lineage and merges code: a short step (local for new heals).
    const offline = heal.quick === localStep ? localStep.regenerate : heavyStep.regenerate;
    const regenerate = strategy === 'llm' ? llmStep.regenerate : offline;
    if (strategy === 'llm' || heal.quick !== localStep) heal.publish();
    candidate = await regenerate({
      healId,
      attempt,
      strategy,
      ancestorId,
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
    return null;
  }
  if (candidate.code === null || candidate.builtOn === null) {
    const rejection: Rejection = { kind: strategy === 'revert' ? 'conflict' : 'malformed', message: candidate.notes };
    progress.attempts.push({ attempt, strategy, ok: false, rejections: [rejection] });
    rejections.push(
      `attempt ${attempt}: ${strategy === 'revert' ? 'no revert' : 'unusable answer'}: ${candidate.notes}`,
    );
    return null;
  }
  return { strategy, code: candidate.code, builtOn: candidate.builtOn, notes: candidate.notes };
}

function validateCandidate(
  heal: Heal,
  regeneration: Regeneration,
  candidate: Candidate,
  attempt: number,
): Promise<CandidateValidation> {
  const { healId, input } = heal;
  heal.publish();
  return heavyStep.validateCandidate({
    healId,
    attempt,
    code: candidate.code,
    strategy: candidate.strategy,
    builtOn: candidate.builtOn,
    ancestorId: regeneration.ancestorId,
    failedId: input.versionId,
    culpritId: regeneration.culpritId,
    ruleIds: regeneration.ruleIds,
    requireTests: regeneration.settings.requireTestValidation,
  });
}

/**
 * Registers the passing candidate, routes callers to it and records the heal (promote does all
 * three); under shadow deployment the new version first runs beside the stable one in a canary.
 */
async function promote(
  heal: Heal,
  regeneration: Regeneration,
  candidate: Candidate,
  validation: CandidateValidation,
  attempt: number,
): Promise<HealProgress> {
  const { healId, input, progress, quick } = heal;
  const strategy = candidate.strategy;
  heal.enter('promote', attempt);
  progress.status = 'healed';
  progress.strategy = strategy;
  progress.features = validation.features;
  progress.setAside = validation.setAside;
  // Promote re-validates the descendants the prune tainted (tool code, version after version): with
  // any to re-validate it stays a heartbeating activity, so a cancellation reaches it at once.
  const prune = progress.prune;
  const revalidates = taintedOthers(prune, input.versionId);
  const promoteStep = revalidates ? quickStep : quick;
  if (promoteStep === quickStep) heal.publish();
  const promoted = await promoteStep.promote({
    healId,
    failedId: input.versionId,
    culpritId: regeneration.culpritId,
    ancestorId: regeneration.ancestorId,
    code: candidate.code,
    strategy,
    builtOn: candidate.builtOn,
    setAside: validation.setAside,
    notes: candidate.notes,
    ruleIds: regeneration.ruleIds,
    progress,
  });
  progress.newVersionId = promoted.newVersionId;
  progress.restored = promoted.restored;
  const kept = validation.features.total
    ? `; features kept ${validation.features.kept}/${validation.features.total}`
    : '';
  if (promoted.canary) {
    // Shadow deployment: the canary outlives the heal (ABANDON) and tells its heal run how it ended.
    progress.canary = promoted.canary;
    heal.publish();
    await startChild(canaryWorkflow, {
      ...canaryStartOptions(promoted.newVersionId),
      parentClosePolicy: ParentClosePolicy.ABANDON,
    }).catch((err: unknown) => {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    });
    heal.enter(
      'done',
      `healed by ${strategy}: ${promoted.newVersionId} runs in shadow beside ${promoted.canary.stableId} until its canary promotes it (${promoted.canary.workflowId})${kept}`,
    );
    heal.publish();
    return progress;
  }
  heal.enter(
    'done',
    `healed by ${strategy}: callers of ${input.versionId.split('@')[0]} are routed to ${promoted.newVersionId}${kept}`,
  );
  heal.publish();
  return progress;
}

/**
 * A heal interrupted by cancellation or by a step that failed for good still leaves the lineage
 * consistent (finishHeal, in a scope that cannot be cancelled) before it ends as cancelled or failed.
 */
async function endOnError({ healId, workflowId, input, progress, quick }: Heal, err: unknown): Promise<never> {
  if (isCancellation(err)) {
    await CancellationScope.nonCancellable(async () => {
      progress.status = 'cancelled';
      progress.message = `cancelled during ${progress.step}`;
      // Heals cancelled before this change replay their recorded (normal) activity.
      const finish = patched('cancelled-end-local') ? cancelledEnd.finishHeal : quickStep.finishHeal;
      await finish({ healId, workflowId, versionId: input.versionId, progress, error: null });
    });
    throw err;
  }
  progress.status = 'failed';
  progress.message = describe(err);
  await CancellationScope.nonCancellable(() =>
    quick.finishHeal({ healId, workflowId, versionId: input.versionId, progress, error: describe(err) }),
  );
  throw ApplicationFailure.create({
    type: 'HealFailed',
    message: `heal of ${input.versionId} failed during ${progress.step}: ${describe(err)}`,
    nonRetryable: true,
  });
}

function describe(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}
