import type { SearchAttributePair } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import { parseVersionId } from './ids.js';
import { DISE_TOOL, DISE_VERSION } from './search-attributes.js';

/**
 * A person's review of a HELD feature_add (deployment.review: hold): one `reviewWorkflow` per held
 * version (workflow id `review:<versionId>`) waits for the `reviewDecision` signal, then routes or
 * refuses the version through the `finishReview` activity. `dise review` sends the signal with
 * signalWithStart, so a review is possible even when nothing started the workflow. Pure: imported by
 * workflows.
 */
export const REVIEW_WORKFLOW_TYPE = 'reviewWorkflow';

export interface ReviewDecision {
  decision: 'approve' | 'refuse';
  /** Why, recorded with the decision. */
  note?: string | null;
  /** Who decided, e.g. `cli:host:user` or `dashboard`. */
  by?: string | null;
}

export interface ReviewResult {
  versionId: string;
  /** routed: approved and routed; approved: approved (a newer version keeps the route); refused: FAILED; not_held: nothing changed. */
  outcome: 'routed' | 'approved' | 'refused' | 'not_held';
  /** The version's health afterwards. */
  health: string;
  message: string;
}

export interface ReviewStatus {
  versionId: string;
  status: 'waiting' | 'deciding' | 'done';
  decision: ReviewDecision | null;
  result: ReviewResult | null;
}

export const reviewDecisionSignal = defineSignal<[ReviewDecision]>('reviewDecision');
export const reviewStatusQuery = defineQuery<ReviewStatus>('reviewStatus');

export function reviewWorkflowId(versionId: string): string {
  return `review:${versionId}`;
}

export function reviewStartOptions(versionId: string): {
  workflowId: string;
  args: [{ versionId: string }];
  typedSearchAttributes: SearchAttributePair[];
} {
  const ref = parseVersionId(versionId);
  return {
    workflowId: reviewWorkflowId(ref.id),
    args: [{ versionId: ref.id }],
    typedSearchAttributes: [
      { key: DISE_TOOL, value: ref.name },
      { key: DISE_VERSION, value: ref.id },
    ],
  };
}
