import { isAcceptedDifference } from '../judge/canary.js';
import type { CanaryEnd, CanaryVerdict } from '../shared/canary-types.js';
import type { ActivityDeps } from './deps.js';

export interface FinishCanaryInput {
  candidateId: string;
  /** promote: route callers to it; refuse: prune it with its evidence; abort: an operator stopped it. */
  action: 'promote' | 'refuse' | 'abort';
  /** The decision in words, recorded on the canary (and the heal that made the candidate). */
  decision: string;
  verdict: CanaryVerdict | null;
}

/** Most disagreeing inputs kept in a refused candidate's prune evidence. */
const EVIDENCE_LIMIT = 50;

/**
 * Ends a canary in one transaction (once: a retry, or a canary already ended, changes nothing):
 * - promote: the candidate takes its target health (HEALTHY, or REGENERATED for a heal's) and the route;
 * - refuse: the candidate is PRUNED with its evidence (the disagreeing inputs with both answers, the
 *   verdict) and a `canary` failure;
 * - abort: the candidate is set FAILED with a failure saying who stopped it; never routed.
 * A heal that made the candidate is told how its canary ended.
 */
export function finishCanaryActivity(deps: ActivityDeps) {
  return async function finishCanary(input: FinishCanaryInput): Promise<CanaryEnd> {
    const { store } = deps;
    const canary = await store.canaries.get(input.candidateId);
    if (!canary) return { outcome: 'ended', decision: `no canary of ${input.candidateId}` };
    if (canary.status !== 'running')
      return {
        outcome: canary.status === 'superseded' ? 'ended' : (canary.status as CanaryEnd['outcome']),
        decision: canary.decision ?? '',
      };
    const evidence =
      input.action === 'refuse'
        ? await (async () => {
            const summary = await store.canaries.summary(input.candidateId);
            const differential =
              (await store.differential.latestFor([input.candidateId])).get(input.candidateId) ?? null;
            const disagreements = summary.disagreements
              .filter((d) => !isAcceptedDifference(d, differential))
              .slice(0, EVIDENCE_LIMIT);
            return {
              canary: { stableId: canary.stableId, decision: input.decision, verdict: input.verdict, disagreements },
            };
          })()
        : null;
    const outcome: CanaryEnd['outcome'] =
      input.action === 'promote' ? 'promoted' : input.action === 'refuse' ? 'refused' : 'aborted';
    const health = (await store.graph.version(input.candidateId))?.health;
    if (input.action === 'promote' && health !== 'canary') {
      // Tainted (or changed by hand) since the judge looked: a promotion would route callers to it.
      const decision = `not promoted: its candidate is ${String(health).toUpperCase()}, no longer CANARY`;
      await store.canaries.end(input.candidateId, 'aborted', decision, input.verdict);
      return { outcome: 'aborted', decision };
    }
    await store.transaction(async (tx) => {
      if (
        !(await store.canaries.end(
          input.candidateId,
          outcome as 'promoted' | 'refused' | 'aborted',
          input.decision,
          input.verdict,
          tx,
        ))
      )
        return;
      if (input.action === 'promote') {
        await store.graph.setHealth(input.candidateId, canary.targetHealth, tx);
        await store.routing.setRoute(input.candidateId, `canary promoted: ${input.decision}`, tx);
      } else if (input.action === 'refuse') {
        await store.graph.prune(input.candidateId, input.candidateId, JSON.parse(JSON.stringify(evidence)), tx);
        const n = evidence?.canary.disagreements.length ?? 0;
        await store.failures.record(
          input.candidateId,
          [
            {
              failureType: 'canary_refused',
              description: `refused by its canary: ${input.decision}`,
              severity: 'high',
              detectionMethod: 'canary',
              stackTrace: null,
              testCaseFailed: null,
              evidence: { disagreements: n },
            },
          ],
          tx,
        );
      } else {
        await store.graph.setHealth(input.candidateId, 'failed', tx);
        await store.failures.record(
          input.candidateId,
          [
            {
              failureType: 'canary_aborted',
              description: `canary aborted: ${input.decision}`,
              severity: 'low',
              detectionMethod: 'canary',
              stackTrace: null,
              testCaseFailed: null,
              evidence: null,
            },
          ],
          tx,
        );
      }
      if (canary.healId)
        await store.healRuns.noteCanary(
          canary.healId,
          { candidateId: input.candidateId, outcome, decision: input.decision },
          tx,
        );
    });
    return { outcome, decision: input.decision };
  };
}
