import type { JsonValue, PropagationScope, Severity } from './lineage-types.js';

/** Failure types of heal activities that no retry can fix (thrown as non-retryable application failures). */
export const HEAL_NON_RETRYABLE_ERRORS = [
  'UnknownVersion',
  'InvalidHealInput',
  'PermanentLlmError',
  'LineageError',
] as const;

/**
 * How a heal makes a candidate, in the order tried by default: undo the culprit's change on top of
 * the failed version (revert), have the LLM rewrite the failed version without the mistake (llm), or
 * copy the healthy ancestor's code (rollback, which loses every later change).
 */
export const REGENERATION_STRATEGIES = ['revert', 'llm', 'rollback'] as const;
export type RegenerationStrategy = (typeof REGENERATION_STRATEGIES)[number];

/**
 * How a heal orders its regeneration strategies: `fixed` keeps the configured order; `learned` orders
 * them by Thompson sampling over what strategies achieved in earlier heals of the same failure context.
 */
export const STRATEGY_ORDER_MODES = ['learned', 'fixed'] as const;
export type StrategyOrderMode = (typeof STRATEGY_ORDER_MODES)[number];

/** What a heal's strategies are learned per: heals alike in these tend to be healed by the same strategy. */
export interface StrategyContext {
  /** The failure's type (wrong_output, exception, timeout, ...). */
  failureType: string;
  /** The culprit's mutation type (bug_fix, feature_add, ...; `none` when it has none). */
  mutationType: string;
  language: string;
  /** The failed version is itself the culprit: no later work to keep, no revert possible. */
  culpritIsFailed: boolean;
}

/** One strategy's record in a context: candidates that were promoted and survived, and those that did not. */
export interface ArmRecord {
  successes: number;
  failures: number;
}

export interface ArmChoice extends ArmRecord {
  strategy: RegenerationStrategy;
  /** Posterior mean of Beta(1 + successes, 1 + failures). */
  mean: number;
  /** The Thompson draw that placed it (null in fixed mode). */
  draw: number | null;
}

/** The order a heal tries its strategies in, and why (recorded on the heal run). */
export interface StrategyChoice {
  mode: StrategyOrderMode;
  order: RegenerationStrategy[];
  context: StrategyContext;
  contextKey: string;
  arms: ArmChoice[];
  /** The strategy put first by the exploration floor rather than by its draw, if any. */
  explored: RegenerationStrategy | null;
  reason: string;
}

/** What triggers a heal: a runtime report, the health monitor, or an operator. */
export type HealTrigger = 'report' | 'monitor' | 'manual' | 'runtime';

export interface HealFailureInput {
  failureType: string;
  description: string;
  severity: Severity;
  detectionMethod: string;
  /** When the failure is already stored (e.g. reported through the runtime). */
  failureId?: number | null;
  /** For wrong outputs: what was observed. */
  evidence?: JsonValue;
}

export interface SelfHealInput {
  versionId: string;
  failure: HealFailureInput;
  trigger: HealTrigger;
  /**
   * The W3C traceparent of the report that started the heal, when it was traced: the heal's spans
   * join that trace (src/workflows/tracing.ts puts it in the child's start headers).
   */
  traceparent?: string;
}

/** The worker's configuration as it applies to one heal (recorded in history by recordFailure). */
export interface HealSettings {
  enabled: boolean;
  autoPruneCritical: boolean;
  taintDescendants: boolean;
  autoRegenerate: boolean;
  maxRegenerationAttempts: number;
  requireTestValidation: boolean;
  llm: boolean;
  /** The strategies to try, in order (llm only when an LLM is configured). */
  strategies: RegenerationStrategy[];
  /** fixed: `strategies` as configured; learned: ordered per heal by chooseStrategies (healing.strategy_order). */
  strategyOrder?: StrategyOrderMode;
}

export interface RecordFailureResult {
  failureId: number;
  toolName: string;
  settings: HealSettings;
  /** The version is already pruned and replaced by this routable version: nothing left to heal. */
  healedBy: string | null;
}

export type Verdict =
  /** The failed version (or an ancestor between it and the last good one) introduced the failure. */
  | 'mutation'
  /** The last validated ancestor fails the same way: an older bug or the environment, not this mutation. */
  | 'not_this_mutation'
  /** The failure does not reproduce now and looks transient (timeouts, limits, unreachable dependencies). */
  | 'transient'
  /** Nothing to heal from: no ancestor passes its suite. */
  | 'unrecoverable';

/** A FailureAnalysis (the data model's), plus where the failure came from. */
export interface FailureAnalysis {
  recoverable: boolean;
  verdict: Verdict;
  reason: string;
  /** The version that introduced the failure (bisected), the one to prune. */
  culpritId: string | null;
  /** The version the culprit changed (its parent on the path from the last good one): what a revert restores. */
  culpritParentId: string | null;
  /** The nearest ancestor that passes today's suite and does not reproduce the failure. */
  lastGoodId: string | null;
  /** A failing input was reproduced on the culprit: only then is a machine-checkable rule (a gate) learned. */
  reproduced: boolean;
  /** Versions tried while bisecting, with their result. */
  bisect: { id: string; bad: boolean }[];
  problematicPattern: string;
  /** How the pattern is checked: regex, ast (esquery selector), tokens (regex over the normalised token stream) or semantic (description only: no gate). */
  patternKind: 'regex' | 'ast' | 'tokens' | 'semantic';
  ruleDescription: string;
  scope: PropagationScope;
  /** Where the analysis came from. */
  source: 'llm' | 'offline';
  /** How many failing inputs the verdict rests on. */
  failingCases: number;
}

export interface PruneResult {
  prunedId: string;
  prunedCount: number;
  taintedCount: number;
  tainted: string[];
  reroutedTo: string | null;
}

/**
 * Did the prune taint versions promote must re-validate (any besides the failed version)? Unknown
 * (no prune recorded) counts as yes.
 */
export function taintedOthers(prune: PruneResult | null | undefined, failedId: string): boolean {
  return !prune || prune.taintedCount > prune.tainted.filter((id) => id === failedId).length;
}

export interface RuleResult {
  ruleId: string;
  scope: PropagationScope;
}

export interface PropagationResult {
  ruleId: string;
  scope: PropagationScope;
  reached: number;
  similarTools: string[];
}

export interface AncestorResult {
  ancestorId: string | null;
  /** Candidates looked at, nearest first, and why each was passed over. */
  tried: { id: string; passed: boolean; why: string | null }[];
  mintedTests: number;
}

export interface RegenerationCandidate {
  strategy: RegenerationStrategy;
  /** Null when no candidate came of it (a conflicting revert, an unusable LLM answer): a failed attempt. */
  code: string | null;
  notes: string;
  /**
   * The version the candidate is built on: the failed version for a revert (and an LLM rewrite of
   * it), the healthy ancestor for a rollback (and an LLM regeneration from it).
   */
  builtOn: string | null;
}

export interface Rejection {
  kind: 'test' | 'gate' | 'static' | 'replay' | 'differential' | 'malformed' | 'llm_error' | 'conflict';
  message: string;
}

/** A test set aside for a revert: the culprit introduced it and it encodes the bug. */
export interface SetAsideTest {
  testId: number;
  name: string;
  introducedBy: string;
}

/**
 * Features kept: of the tests introduced on the path from the culprit to the failed version (those
 * set aside left out), how many the new version passes.
 */
export interface FeaturesKept {
  kept: number;
  total: number;
  /** Names of the tests the new version fails: features lost. */
  lost: string[];
}

export interface CandidateValidation {
  ok: boolean;
  rejections: Rejection[];
  testsRun: number;
  replayed: number;
  setAside: SetAsideTest[];
  features: FeaturesKept;
}

export interface PromoteResult {
  newVersionId: string;
  restored: string[];
  /** Set when the new version entered CANARY (deployment.mode: shadow) instead of taking the route. */
  canary?: { stableId: string; workflowId: string } | null;
}

export type HealStep =
  | 'starting'
  | 'recordFailure'
  | 'analyzeFailure'
  | 'pruneBranch'
  | 'createAvoidanceRule'
  | 'propagateRule'
  | 'findHealthyAncestor'
  | 'chooseStrategies'
  | 'regenerate'
  | 'validateCandidate'
  | 'promote'
  | 'done';

export type HealStatus =
  'running' | 'healed' | 'unhealed' | 'not_pruned' | 'routed_to_ancestor' | 'disabled' | 'cancelled' | 'failed';

export interface HealAttempt {
  attempt: number;
  strategy: RegenerationStrategy | null;
  ok: boolean;
  rejections: Rejection[];
}

/** What the `progress` query returns, and what a heal ends with. */
export interface HealProgress {
  versionId: string;
  step: HealStep;
  status: HealStatus;
  attempt: number;
  maxAttempts: number;
  failureId: number | null;
  analysis: FailureAnalysis | null;
  prune: PruneResult | null;
  rule: RuleResult | null;
  propagation: PropagationResult | null;
  ancestor: AncestorResult | null;
  attempts: HealAttempt[];
  newVersionId: string | null;
  /** How the new version was made. */
  strategy: RegenerationStrategy | null;
  /** Of the features added after the culprit, how many the new version keeps. */
  features: FeaturesKept | null;
  /** Tests the culprit introduced that encode the bug, set aside for the new version. */
  setAside: SetAsideTest[];
  restored: string[];
  /** The new version's canary (deployment.mode: shadow): it takes traffic only once promoted. */
  canary?: { stableId: string; workflowId: string } | null;
  /** The order the strategies were tried in and why (chooseStrategies); absent on heals before it. */
  strategyChoice?: StrategyChoice | null;
  message: string;
}

/** One thing the health monitor found about a routed version. */
export interface HealthFinding {
  versionId: string;
  /** error_rate | fitness | failure_count | minted_tests | reported */
  reason: 'error_rate' | 'fitness' | 'failure_count' | 'minted_tests' | 'reported';
  severity: Severity;
  description: string;
  /** Whether the monitor should start a heal for it. */
  heal: boolean;
  failure: HealFailureInput;
}

export interface HealthCheckResult {
  checkedAt: string;
  versionsChecked: number;
  findings: HealthFinding[];
  /** Reported versions this check looked at (unknown or unroutable ones included). */
  handledReports: string[];
  healingEnabled: boolean;
}

export interface MonitorSettings {
  intervalSeconds: number;
  continuous: boolean;
}
