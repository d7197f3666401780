import {
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  ParentClosePolicy,
  patched,
  sleep,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { DiseActivities } from '../activities/index.js';
import { healStartOptions, type HealStartOptions } from '../shared/heal-start.js';
import type { HealthFinding } from '../shared/heal-types.js';
import { InvalidIdError } from '../shared/ids.js';
import {
  checkNowSignal,
  failureReportedSignal,
  monitorStatusQuery,
  pauseSignal,
  resumeSignal,
  type FailureReport,
  type MonitorStatus,
} from '../shared/messages.js';
import { selfHealWorkflow } from './self-heal.js';

/** Options a monitor is started with; the state fields carry it across continue-as-new. */
export interface HealthMonitorOptions {
  /** Overrides monitoring.health_check_interval_seconds from the worker's config. */
  intervalSeconds?: number;
  /** Continue as new once the history passes this many events (Temporal may suggest it sooner). */
  maxHistoryEvents?: number;
  /** Carried over by continue-as-new. */
  state?: MonitorState;
}

export interface MonitorState {
  paused: boolean;
  pendingReports: FailureReport[];
  checks: number;
  lastCheckAt: string | null;
  findings: { versionId: string; reason: string }[];
  healsStarted: string[];
  reportsHandled: number;
  runs: number;
  /** How often the executions were maintained; absent before the first upkeep. */
  maintenanceRuns?: number;
}

const checks = proxyActivities<DiseActivities>({
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/** Execution maintenance (partitions, rollups, retention): one long activity an hour. */
const maintenance = proxyActivities<DiseActivities>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 5 },
});
const MAINTENANCE_INTERVAL_MS = 3_600_000;
/** Histories recorded before the monitor ran the maintenance replay without it. */
const EXECUTION_MAINTENANCE_PATCH = 'execution-maintenance';
/** Histories recorded before the monitor started a check's heals together replay them one by one. */
const CONCURRENT_HEAL_STARTS_PATCH = 'concurrent-heal-starts';

/**
 * Histories recorded before the heals started through an activity (outside the monitor's history)
 * replay their child starts.
 */
const HEAL_STARTS_OUTSIDE_PATCH = 'heal-starts-outside-history';

/** How many started heals the status keeps (newest last). */
const KEEP_HEALS = 200;

/**
 * The long-running health monitor (one per namespace, id `dise-health-monitor`). Every
 * `monitoring.health_check_interval_seconds` (a Temporal timer), or at once on `checkNow` or a
 * `failureReported` signal, it runs one `checkHealth` activity over every routed version and, with one
 * `startHeals` activity, starts a selfHealWorkflow per finding that calls for one (not a child: its
 * events stay out of this history; a heal already running is joined, not duplicated). `pause`/`resume` stop and restart checks; query `status`. It
 * continues as new when Temporal suggests it (or past `maxHistoryEvents`), after its handlers have
 * finished, carrying its state and every report not yet handled.
 */
export async function healthMonitorWorkflow(options: HealthMonitorOptions = {}): Promise<void> {
  const state: MonitorState = options.state ?? {
    paused: false,
    pendingReports: [],
    checks: 0,
    lastCheckAt: null,
    findings: [],
    healsStarted: [],
    reportsHandled: 0,
    runs: 0,
  };
  state.runs++;
  let checkRequested = false;

  setHandler(failureReportedSignal, (report) => {
    state.pendingReports.push(report);
  });
  setHandler(checkNowSignal, () => {
    checkRequested = true;
  });
  setHandler(pauseSignal, () => {
    state.paused = true;
  });
  setHandler(resumeSignal, () => {
    state.paused = false;
  });
  setHandler(monitorStatusQuery, (): MonitorStatus => ({
    paused: state.paused,
    lastCheckAt: state.lastCheckAt,
    checks: state.checks,
    findings: state.findings,
    healsStarted: state.healsStarted,
    pendingReports: state.pendingReports.length,
    reportsHandled: state.reportsHandled,
    runs: state.runs,
  }));

  const settings = await checks.monitorSettings();
  const intervalMs = (options.intervalSeconds ?? settings.intervalSeconds) * 1000;
  const maxHistoryEvents = options.maxHistoryEvents ?? 10_000;

  // The upkeep timer: due at once the first time ever; in a continued run, an interval from its start.
  let maintenanceDue = state.maintenanceRuns === undefined;
  const armMaintenance = () => {
    maintenanceDue = false;
    // A timer only fails when the monitor is cancelled, which the main loop handles.
    void sleep(MAINTENANCE_INTERVAL_MS).then(
      () => {
        maintenanceDue = true;
      },
      () => undefined,
    );
  };
  if (!maintenanceDue) armMaintenance();

  for (;;) {
    const woken = await condition(
      () => !state.paused && (checkRequested || state.pendingReports.length > 0),
      intervalMs,
    );
    const timerFired = !woken;
    if (!state.paused && (timerFired ? settings.continuous || options.intervalSeconds !== undefined : true)) {
      checkRequested = false;
      // Take the reports now: any that arrive during the check wait for the next one.
      const reported = state.pendingReports.splice(0);
      const result = await checks.checkHealth({ reported });
      state.checks++;
      state.lastCheckAt = result.checkedAt;
      state.reportsHandled += result.handledReports.length;
      state.findings = result.findings.map((f) => ({ versionId: f.versionId, reason: f.reason }));
      if (result.healingEnabled) {
        // A heal joins the trace of the report that asked for it, when it was traced.
        const traces = new Map(reported.filter((r) => r.traceparent).map((r) => [r.versionId, r.traceparent]));
        const toHeal = result.findings.filter((f) => f.heal);
        // All the check's heals start in one workflow task: one after another, each start waited for
        // its own round trip to the server, and a storm of reports queued behind the monitor.
        if (patched(HEAL_STARTS_OUTSIDE_PATCH)) {
          const heals = toHeal.flatMap((finding) => {
            const options = healOptions(finding, traces.get(finding.versionId));
            return options ? [options] : [];
          });
          if (heals.length > 0) {
            const { started } = await checks.startHeals(heals);
            for (const versionId of started) recordStarted(state, versionId);
          }
        } else if (patched(CONCURRENT_HEAL_STARTS_PATCH))
          await Promise.all(toHeal.map((finding) => startHeal(finding, state, traces.get(finding.versionId))));
        else for (const finding of toHeal) await startHeal(finding, state, traces.get(finding.versionId));
      }
    }
    // Hourly, paused or not: keeping executions bounded is not a health check. A failed run (after
    // its retries) is tried again at the next hour; it must not stop the monitor. The hour is a
    // Temporal timer (no clock is read): the first upkeep runs after the first check, each next one
    // after the timer armed by the previous has fired.
    if (patched(EXECUTION_MAINTENANCE_PATCH) && maintenanceDue) {
      armMaintenance();
      state.maintenanceRuns = (state.maintenanceRuns ?? 0) + 1;
      await maintenance.maintainExecutions().catch((err: unknown) => {
        if (isCancellation(err)) throw err;
      });
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || info.historyLength > maxHistoryEvents) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof healthMonitorWorkflow>({ ...options, state });
    }
  }
}

/** The start options of a finding's heal (src/shared/heal-start.ts), or null when its id is not a version id. */
function healOptions(finding: HealthFinding, traceparent?: string): HealStartOptions | null {
  try {
    return healStartOptions({
      versionId: finding.versionId,
      trigger: 'monitor',
      failure: finding.failure,
      ...(traceparent ? { traceparent } : {}),
    });
  } catch (err) {
    // Ids come from the lineage tables, so this is not expected; one bad id must not stall the monitor.
    if (err instanceof InvalidIdError) {
      log.warn(`not healing ${finding.versionId}: ${err.message}`);
      return null;
    }
    throw err;
  }
}

function recordStarted(state: MonitorState, versionId: string): void {
  state.healsStarted.push(versionId);
  if (state.healsStarted.length > KEEP_HEALS) state.healsStarted.splice(0, state.healsStarted.length - KEEP_HEALS);
}

/** How histories recorded before HEAL_STARTS_OUTSIDE_PATCH started a heal: as an abandoned child. */
async function startHeal(finding: HealthFinding, state: MonitorState, traceparent?: string): Promise<void> {
  const options = healOptions(finding, traceparent);
  if (!options) return;
  try {
    await startChild(selfHealWorkflow, { ...options, parentClosePolicy: ParentClosePolicy.ABANDON });
    recordStarted(state, finding.versionId);
  } catch (err) {
    // A heal of this version is running (or finished healed): joined, not duplicated.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}
