import { compareSemver, parseVersionId } from '../shared/ids.js';
import type { ReviewDecision, ReviewResult } from '../shared/review.js';
import type { ActivityDeps } from './deps.js';

/**
 * Ends a person's review of a HELD feature_add, in one transaction (once: a retry, or a version no
 * longer HELD, changes nothing):
 * - approve: the version becomes HEALTHY and takes its tool's route, unless a newer routed version
 *   holds it (the route only moves forward, as at registration);
 * - refuse: the version is stored FAILED with a `review_refused` failure carrying the note.
 */
export function finishReviewActivity(deps: ActivityDeps) {
  return async function finishReview(input: { versionId: string } & ReviewDecision): Promise<ReviewResult> {
    const { store } = deps;
    const by = input.by ? ` by ${input.by}` : '';
    const note = input.note ? `: ${input.note}` : '';
    return store.transaction(async (tx) => {
      const version = await store.graph.version(input.versionId, tx);
      if (!version || version.health !== 'held')
        return {
          versionId: input.versionId,
          outcome: 'not_held',
          health: version?.health ?? 'unknown',
          message: version
            ? `${input.versionId} is ${version.health.toUpperCase()}, not HELD: nothing changed`
            : `unknown version ${input.versionId}`,
        };
      if (input.decision === 'refuse') {
        await store.graph.setHealth(input.versionId, 'failed', tx);
        await store.failures.record(
          input.versionId,
          [
            {
              failureType: 'review_refused',
              description: `refused in review${by}${note}`,
              stackTrace: null,
              testCaseFailed: null,
              detectionMethod: 'review',
              severity: 'critical',
              evidence: { decision: 'refuse', note: input.note ?? null, by: input.by ?? null },
            },
          ],
          tx,
        );
        return {
          versionId: input.versionId,
          outcome: 'refused',
          health: 'failed',
          message: `${input.versionId} refused in review${by}${note}: stored FAILED, never routed`,
        };
      }
      await store.graph.setHealth(input.versionId, 'healthy', tx);
      const ref = parseVersionId(input.versionId);
      const existing = await store.routing.routeOf(ref.name, tx);
      if (existing && existing !== ref.id && compareSemver(parseVersionId(existing), ref) > 0)
        return {
          versionId: input.versionId,
          outcome: 'approved',
          health: 'healthy',
          message: `${input.versionId} approved in review${by}${note}; the newer ${existing} keeps the route`,
        };
      await store.routing.setRoute(ref.id, `approved in review${by}${note}`, tx);
      return {
        versionId: input.versionId,
        outcome: 'routed',
        health: 'healthy',
        message: `${input.versionId} approved in review${by}${note}: HEALTHY and routed`,
      };
    });
  };
}
