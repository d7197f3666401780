import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { CANARY_WORKFLOW_TYPE, canaryStartOptions } from '../shared/canary-start.js';
import { TASK_QUEUE } from '../shared/constants.js';
import type { canaryWorkflow } from '../workflows/canary.js';

export type CanaryHandle = WorkflowHandle<typeof canaryWorkflow>;

/** Starts the canary workflow of a version in CANARY, or joins the one running (id `canary:<id>`). */
export async function startCanary(
  client: Client,
  candidateId: string,
  { taskQueue = TASK_QUEUE }: { taskQueue?: string } = {},
): Promise<CanaryHandle> {
  const options = canaryStartOptions(candidateId);
  try {
    return await client.workflow.start<typeof canaryWorkflow>(CANARY_WORKFLOW_TYPE, {
      ...options,
      taskQueue,
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError)
      return client.workflow.getHandle<typeof canaryWorkflow>(options.workflowId);
    throw err;
  }
}
