import { judgeCanary as judge } from '../judge/canary.js';
import type { CanarySettings, CanaryStatus, CanaryVerdict } from '../shared/canary-types.js';
import type { ActivityDeps } from './deps.js';

export interface JudgeCanaryResult {
  /** The canary's status in the database: anything but running means it has ended (e.g. superseded). */
  status: CanaryStatus | 'missing';
  stableId: string | null;
  verdict: CanaryVerdict | null;
  settings: CanarySettings;
}

/**
 * One look of the canary's judge: reads every comparison the runtimes recorded for the candidate and
 * its differential check's accepted differences, judges them (src/judge/canary.ts) and stores the
 * verdict on the canary, where `dise tool list`, `dise lineage` and `dise canary status` read it.
 */
export function judgeCanaryActivity(deps: ActivityDeps) {
  return async function judgeCanary(input: { candidateId: string }): Promise<JudgeCanaryResult> {
    const c = deps.config.deployment.canary;
    const settings: CanarySettings = {
      checkIntervalSeconds: c.check_interval_seconds,
      maxDurationSeconds: c.max_duration_seconds,
      onTimeout: c.on_timeout,
    };
    const canary = await deps.store.canaries.get(input.candidateId);
    if (!canary) return { status: 'missing', stableId: null, verdict: null, settings };
    if (canary.status !== 'running')
      return { status: canary.status, stableId: canary.stableId, verdict: canary.verdict, settings };
    // A candidate that left CANARY meanwhile (tainted by a prune upstream, or set by hand) is never promoted.
    const health = (await deps.store.graph.version(input.candidateId))?.health ?? null;
    if (health !== 'canary') {
      await deps.store.canaries.end(
        input.candidateId,
        'aborted',
        `its candidate is ${String(health).toUpperCase()}, no longer CANARY (e.g. tainted by a prune of an ancestor): never routed`,
        canary.verdict,
      );
      return { status: 'aborted', stableId: canary.stableId, verdict: canary.verdict, settings };
    }
    const summary = await deps.store.canaries.summary(input.candidateId);
    const differential = (await deps.store.differential.latestFor([input.candidateId])).get(input.candidateId) ?? null;
    const verdict = judge(summary, differential, c, new Date());
    await deps.store.canaries.saveVerdict(input.candidateId, verdict);
    return { status: 'running', stableId: canary.stableId, verdict, settings };
  };
}
