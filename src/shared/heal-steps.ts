import type { HealStep } from './heal-types.js';

/**
 * The catalogue of heal steps: for every HealStep, the line the CLI prints when the step starts
 * (`line`), the activity that runs it (if any), and the live message the workflow's `progress`
 * shows while it runs (`message`, given the step's particulars). Typed as a Record over HealStep,
 * so a step added to the type without an entry here is a compile error. Pure: imported by the
 * workflow and the CLI alike.
 */
export interface HealStepEntry {
  /** What the step does, in a few words, for `dise heal --wait`'s step lines. */
  line: string;
  /** The activity the workflow schedules for this step (null for steps without one). */
  activity: string | null;
  /** The workflow's progress message while the step runs. */
  message: (...args: never) => string;
}

export const HEAL_STEPS = {
  starting: {
    line: 'starting',
    activity: null,
    message: () => 'starting',
  },
  recordFailure: {
    line: 'recording the failure',
    activity: 'recordFailure',
    message: (versionId: string) => `recording the failure of ${versionId}`,
  },
  analyzeFailure: {
    line: 'analysing the failure and bisecting the lineage',
    activity: 'analyzeFailure',
    message: (llm: boolean) => `analysing the failure${llm ? ' (LLM)' : ' (offline)'} and bisecting the lineage`,
  },
  pruneBranch: {
    line: 'pruning the version that introduced it and tainting its descendants',
    activity: 'pruneBranch',
    message: (culpritId: string, taintDescendants: boolean) =>
      `pruning ${culpritId}${taintDescendants ? ' and tainting its descendants' : ''}`,
  },
  createAvoidanceRule: {
    line: 'turning the failure into an avoidance rule',
    activity: 'createAvoidanceRule',
    message: () => 'turning the failure into an avoidance rule',
  },
  propagateRule: {
    line: 'propagating the rule',
    activity: 'propagateRule',
    message: (ruleId: string, scope: string) => `propagating ${ruleId} (${scope})`,
  },
  findHealthyAncestor: {
    line: 'validating ancestors against today’s suite and minting regression tests',
    activity: 'findHealthyAncestor',
    message: () => 'validating ancestors against today’s suite and minting regression tests',
  },
  chooseStrategies: {
    line: 'choosing the order of the strategies from their record',
    activity: 'chooseStrategies',
    message: (mode: string) =>
      mode === 'learned' ? 'choosing the order of the strategies from their record' : 'keeping the configured order',
  },
  regenerate: {
    line: 'making a candidate (revert, LLM or rollback)',
    activity: 'regenerate',
    message: (strategy: string, baseId: string, attempt: number, maxAttempts: number) =>
      `${strategy === 'revert' ? `reverting the culprit's change on ${baseId}` : strategy === 'rollback' ? `rolling back to ${baseId}` : `regenerating with the LLM from ${baseId}`} (attempt ${attempt} of ${maxAttempts})`,
  },
  validateCandidate: {
    line: 'validating the candidate',
    activity: 'validateCandidate',
    message: (attempt: number) => `validating attempt ${attempt}`,
  },
  promote: {
    line: 'promoting the new version and routing callers to it',
    activity: 'promote',
    message: (attempt: number) => `promoting attempt ${attempt} and routing callers to it`,
  },
  done: {
    line: 'recording how the heal ended',
    activity: 'finishHeal',
    /** How the heal ended, in the workflow's words. */
    message: (outcome: string) => outcome,
  },
} as const satisfies Record<HealStep, HealStepEntry>;

export type HealStepMessageArgs<S extends HealStep> = Parameters<(typeof HEAL_STEPS)[S]['message']>;

/** The progress message of a step, from its particulars. */
export function healStepMessage<S extends HealStep>(step: S, ...args: HealStepMessageArgs<S>): string {
  return (HEAL_STEPS[step].message as (...a: HealStepMessageArgs<S>) => string)(...args);
}

/** Every step, in the order a heal reaches them. */
export const HEAL_STEP_ORDER = Object.keys(HEAL_STEPS) as HealStep[];

/** The step an activity type runs, for reading a heal's history; undefined for other activities. */
export function healStepOfActivity(activityType: string): HealStep | undefined {
  return HEAL_STEP_ORDER.find((step) => HEAL_STEPS[step].activity === activityType);
}
