/** The canary's vocabulary, shared by the workflow, its activities, the runtime, the judge and the CLI. */

export const CANARY_STATUSES = ['running', 'promoted', 'refused', 'aborted', 'superseded'] as const;
export type CanaryStatus = (typeof CANARY_STATUSES)[number];

/** not_enough_data: the judge refuses to decide yet; pass / fail: it decided. */
export type CanaryDecision = 'not_enough_data' | 'pass' | 'fail';

/** The judge's verdict over the comparisons recorded so far. */
export interface CanaryVerdict {
  decision: CanaryDecision;
  /** Why, in words (each check that decided or is missing). */
  reasons: string[];
  mirrored: number;
  minCalls: number;
  agreed: number;
  /** Disagreements the candidate's differential check lists as accepted (a feature's new answers). */
  accepted: number;
  /** Disagreements outside the accepted differences. */
  disagreed: number;
  /** Share of mirrored calls that agreed or differed only as accepted (0..1; 1 with no calls). */
  agreement: number;
  stableErrors: number;
  candidateErrors: number;
  /** One-sided Fisher's exact test: candidate errors more likely than stable errors (null: not run). */
  errorPValue: number | null;
  /** One-sided Mann-Whitney U: candidate latencies greater than stable ones (null: not run). */
  latencyPValue: number | null;
  stableMedianMs: number | null;
  candidateMedianMs: number | null;
  judgedAt: string;
}

/** How the canary workflow is told to run (read once from config.yaml by an activity). */
export interface CanarySettings {
  checkIntervalSeconds: number;
  maxDurationSeconds: number;
  onTimeout: 'promote' | 'refuse';
}

export interface CanaryInput {
  candidateId: string;
  /** Carried over continue-as-new: when the canary began (epoch ms, workflow time). */
  startedAtMs?: number;
  checks?: number;
  /** Carried over continue-as-new: how long the canary has waited on its timers (ms). */
  waitedMs?: number;
}

export type CanaryOutcome = 'promoted' | 'refused' | 'aborted' | 'ended';

/** The canary workflow's live state (query `progress`). */
export interface CanaryProgress {
  candidateId: string;
  stableId: string | null;
  status: 'running' | CanaryOutcome;
  checks: number;
  verdict: CanaryVerdict | null;
  /** ISO time at which on_timeout applies. */
  deadline: string | null;
  message: string;
}

/** What ended a canary and how the candidate was left. */
export interface CanaryEnd {
  outcome: CanaryOutcome;
  decision: string;
}
