import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CanaryProgress } from './canary-types.js';
import type { HealProgress } from './heal-types.js';
import type { Severity } from './lineage-types.js';

/**
 * The signal contract between tool runtimes (in any language) and the health monitor workflow.
 * A runtime reports with signalWithStart on workflow id HEALTH_MONITOR_WORKFLOW_ID, workflow type
 * HEALTH_MONITOR_WORKFLOW_TYPE, task queue TASK_QUEUE, signal name `failureReported`, and one
 * argument shaped like FailureReport (JSON).
 */
export interface FailureReport {
  /** The version that failed, `name@semver`. */
  versionId: string;
  toolName: string;
  /** `threshold`: failure_count reached failure_count_trigger; `critical`: one critical failure. */
  kind: 'threshold' | 'critical';
  /** failure_count after the failures that caused this report. */
  failureCount: number;
  severity: Severity;
  /** e.g. timeout, TypeError, wrong_output, host_access. */
  failureType: string;
  description: string;
  /** Row id in `failures`, when the failure was stored as one. */
  failureId?: number | null;
  /** ISO-8601 time of the report. */
  reportedAt: string;
  /** The W3C traceparent of the call or report that sent this, when traced; the heal joins its trace. */
  traceparent?: string;
  /** Who reported: e.g. `runtime:host:pid`. */
  source: string;
}

export const failureReportedSignal = defineSignal<[FailureReport]>('failureReported');
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const checkNowSignal = defineSignal('checkNow');

export interface MonitorStatus {
  paused: boolean;
  lastCheckAt: string | null;
  checks: number;
  /** What the last check found. */
  findings: { versionId: string; reason: string }[];
  /** Versions whose heal this monitor started (newest last, at most 200). */
  healsStarted: string[];
  /** Reports received and not yet handled. */
  pendingReports: number;
  /** Reports handled so far, over every continue-as-new. */
  reportsHandled: number;
  /** Runs of this monitor (1 + continue-as-new count). */
  runs: number;
}
export const monitorStatusQuery = defineQuery<MonitorStatus>('status');

/** selfHealWorkflow's live state: step, attempt, partial results. */
export const healProgressQuery = defineQuery<HealProgress>('progress');

/** canaryWorkflow's live state: checks, the judge's current verdict, the deadline. */
export const canaryProgressQuery = defineQuery<CanaryProgress>('progress');
/** Promote the candidate now, whatever the judge says (an operator's decision, recorded as such). */
export const canaryPromoteSignal = defineSignal<[{ reason?: string }]>('promoteNow');
/** Stop the canary; the candidate is never routed (set FAILED, recorded). */
export const canaryAbortSignal = defineSignal<[{ reason?: string }]>('abort');
