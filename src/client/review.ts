import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { TASK_QUEUE } from '../shared/constants.js';
import {
  REVIEW_WORKFLOW_TYPE,
  reviewDecisionSignal,
  reviewStartOptions,
  type ReviewDecision,
} from '../shared/review.js';
import type { reviewWorkflow } from '../workflows/review.js';

export type ReviewHandle = WorkflowHandle<typeof reviewWorkflow>;

/** Starts the review workflow of a HELD version, or joins the one running (id `review:<id>`). */
export async function startReview(
  client: Client,
  versionId: string,
  { taskQueue = TASK_QUEUE }: { taskQueue?: string } = {},
): Promise<ReviewHandle> {
  const options = reviewStartOptions(versionId);
  try {
    return await client.workflow.start<typeof reviewWorkflow>(REVIEW_WORKFLOW_TYPE, {
      ...options,
      taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      return client.workflow.getHandle<typeof reviewWorkflow>(options.workflowId);
    throw err;
  }
}

/** Sends a person's decision to a version's review workflow, starting it first when nothing did. */
export function sendReviewDecision(
  client: Client,
  versionId: string,
  decision: ReviewDecision,
  { taskQueue = TASK_QUEUE }: { taskQueue?: string } = {},
): Promise<ReviewHandle> {
  return client.workflow.signalWithStart<typeof reviewWorkflow, [ReviewDecision]>(REVIEW_WORKFLOW_TYPE, {
    ...reviewStartOptions(versionId),
    taskQueue,
    signal: reviewDecisionSignal,
    signalArgs: [decision],
  });
}
