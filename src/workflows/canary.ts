import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { DiseActivities } from '../activities/index.js';
import type { CanaryEnd, CanaryInput, CanaryProgress, CanaryVerdict } from '../shared/canary-types.js';
import { canaryAbortSignal, canaryProgressQuery, canaryPromoteSignal } from '../shared/messages.js';
import { DISE_CANARY_VERDICT, DISE_TOOL, DISE_VERSION } from '../shared/search-attributes.js';

/** Short database steps (1 minute), retried patiently: a restarted PostgreSQL must not end a canary. */
const quickStep = proxyActivities<DiseActivities>({
  startToCloseTimeout: '1 minute',
  heartbeatTimeout: '10 seconds',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 30,
  },
});

/** Continue as new after this many looks of the judge (Temporal may suggest it sooner). */
const CHECKS_PER_RUN = 500;

/**
 * The canary of one version (workflow id `canary:<versionId>`), started when a newly routable version
 * enters CANARY under `deployment.mode: shadow`. Runtimes answer callers from the stable version and
 * mirror a share of calls to the candidate, recording each comparison; every
 * `check_interval_seconds` (a timer) this workflow asks the judge, which refuses to decide on thin
 * data ("not enough data"). A pass promotes the candidate, a fail refuses and prunes it with its
 * evidence; at `max_duration_seconds` the configured default is applied and recorded. Signals
 * `promoteNow` and `abort` let an operator decide; query `progress` and the DiseCanaryVerdict search
 * attribute show where it stands. It is a workflow of its own rather than part of the health monitor:
 * each canary has its own timers, signals, history and id to find it by, and it survives worker and
 * server restarts like the heals.
 */
export async function canaryWorkflow(input: CanaryInput): Promise<CanaryProgress> {
  const startedAtMs = input.startedAtMs ?? workflowInfo().runStartTime.getTime();
  // max_duration counts the time spent waiting on the check timer (no clock is read here): a
  // timer that fires adds its whole duration; a wait cut short by a signal ends the canary anyway.
  let waitedMs = input.waitedMs ?? 0;
  const progress: CanaryProgress = {
    candidateId: input.candidateId,
    stableId: null,
    status: 'running',
    checks: input.checks ?? 0,
    verdict: null,
    deadline: null,
    message: 'starting',
  };
  let command: { action: 'promote' | 'abort'; reason: string } | null = null;
  setHandler(canaryProgressQuery, () => progress);
  setHandler(canaryPromoteSignal, (s) => {
    command ??= { action: 'promote', reason: s.reason ?? 'promoted by an operator' };
  });
  setHandler(canaryAbortSignal, (s) => {
    command ??= { action: 'abort', reason: s.reason ?? 'aborted by an operator' };
  });

  const tag = (value: string) =>
    upsertSearchAttributes([
      { key: DISE_TOOL, value: input.candidateId.split('@')[0]! },
      { key: DISE_VERSION, value: input.candidateId },
      { key: DISE_CANARY_VERDICT, value },
    ]);
  const finish = async (
    action: 'promote' | 'refuse' | 'abort',
    decision: string,
    verdict: CanaryVerdict | null,
  ): Promise<CanaryProgress> => {
    const end: CanaryEnd = await quickStep.finishCanary({ candidateId: input.candidateId, action, decision, verdict });
    progress.status = end.outcome;
    progress.message = end.decision;
    tag(end.outcome);
    return progress;
  };

  let runChecks = 0;
  for (;;) {
    if (command) {
      const c: { action: 'promote' | 'abort'; reason: string } = command;
      return finish(c.action, c.reason, progress.verdict);
    }
    const judged = await quickStep.judgeCanary({ candidateId: input.candidateId });
    progress.checks++;
    runChecks++;
    progress.stableId = judged.stableId;
    const deadlineMs = startedAtMs + judged.settings.maxDurationSeconds * 1000;
    progress.deadline = new Date(deadlineMs).toISOString();
    if (judged.status !== 'running') {
      progress.status = 'ended';
      progress.message = `the canary has ended (${judged.status})`;
      tag(judged.status);
      return progress;
    }
    const verdict = judged.verdict!;
    progress.verdict = verdict;
    progress.message = verdict.reasons.join('; ');
    tag(verdict.decision);
    if (command) continue;
    if (verdict.decision === 'pass')
      return finish('promote', `the judge passed it: ${verdict.reasons.join('; ')}`, verdict);
    if (verdict.decision === 'fail')
      return finish('refuse', `the judge refused it: ${verdict.reasons.join('; ')}`, verdict);
    const maxMs = judged.settings.maxDurationSeconds * 1000;
    if (waitedMs >= maxMs) {
      const onTimeout = judged.settings.onTimeout;
      const why = `max_duration (${judged.settings.maxDurationSeconds}s) reached with ${verdict.reasons.join('; ')}: the configured default (on_timeout: ${onTimeout}) applied`;
      return finish(onTimeout === 'promote' ? 'promote' : 'refuse', why, verdict);
    }
    const wait = Math.min(judged.settings.checkIntervalSeconds * 1000, Math.max(maxMs - waitedMs, 1));
    if (!(await condition(() => command !== null, wait))) waitedMs += wait;
    if (!command && (runChecks >= CHECKS_PER_RUN || workflowInfo().continueAsNewSuggested)) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof canaryWorkflow>({
        candidateId: input.candidateId,
        startedAtMs,
        checks: progress.checks,
        waitedMs,
      });
    }
  }
}
