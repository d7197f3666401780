import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import type { DiseActivities } from '../activities/index.js';
import {
  reviewDecisionSignal,
  reviewStatusQuery,
  type ReviewDecision,
  type ReviewResult,
  type ReviewStatus,
} from '../shared/review.js';

/** One short database step, retried patiently: a restarted PostgreSQL must not lose a decision. */
const quickStep = proxyActivities<DiseActivities>({
  startToCloseTimeout: '1 minute',
  retry: {
    initialInterval: '500 milliseconds',
    backoffCoefficient: 2,
    maximumInterval: '10 seconds',
    maximumAttempts: 30,
  },
});

/**
 * A person's review of one HELD feature_add (workflow id `review:<versionId>`): waits, without a
 * deadline, for the `reviewDecision` signal (`dise review --approve|--refuse`, or the dashboard), then
 * routes or refuses the version through `finishReview`. The first decision counts; later signals are
 * ignored. Query `reviewStatus` shows where it stands; the wait and the decision are in its history
 * in the Temporal UI.
 */
export async function reviewWorkflow(input: { versionId: string }): Promise<ReviewResult> {
  const status: ReviewStatus = { versionId: input.versionId, status: 'waiting', decision: null, result: null };
  setHandler(reviewStatusQuery, () => status);
  setHandler(reviewDecisionSignal, (d: ReviewDecision) => {
    status.decision ??= d;
  });
  await condition(() => status.decision !== null);
  status.status = 'deciding';
  const result = await quickStep.finishReview({ versionId: input.versionId, ...status.decision! });
  status.result = result;
  status.status = 'done';
  return result;
}
