import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { TASK_QUEUE, healWorkflowId } from '../shared/constants.js';
import type { SelfHealInput } from '../shared/heal-types.js';
import { parseVersionId } from '../shared/ids.js';
import { DISE_HEAL_STATUS, DISE_HEAL_STEP, DISE_TOOL, DISE_VERSION } from '../shared/search-attributes.js';
import type { selfHealWorkflow } from '../workflows/self-heal.js';

export type HealHandle = WorkflowHandle<typeof selfHealWorkflow>;

/**
 * Starts the heal of a version, or joins it: the workflow id is `heal:<versionId>`, a running heal is
 * reused (conflict policy USE_EXISTING), and a finished one is reused too unless it failed or was
 * cancelled (reuse policy ALLOW_DUPLICATE_FAILED_ONLY). `retry: true` allows a new run after any end.
 * `joined` is true when a finished heal was reused; whether a running one was joined costs one more
 * RPC, so it is only found out with `detectJoined: true` (for people) and is null otherwise.
 */
export async function startHeal(
  client: Client,
  input: SelfHealInput,
  { taskQueue = TASK_QUEUE, retry = false, detectJoined = false }: { taskQueue?: string; retry?: boolean; detectJoined?: boolean } = {},
): Promise<{ handle: HealHandle; joined: boolean | null }> {
  const ref = parseVersionId(input.versionId);
  const workflowId = healWorkflowId(ref.id);
  // Only for telling the caller: the start below is what guarantees a single heal.
  const runningBefore = detectJoined
    ? await client.workflow
        .getHandle(workflowId)
        .describe()
        .then((d) => d.status.name === 'RUNNING')
        .catch(() => false)
    : null;
  try {
    const handle = await client.workflow.start<typeof selfHealWorkflow>('selfHealWorkflow', {
      workflowId,
      taskQueue,
      args: [{ ...input, versionId: ref.id }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: retry ? 'ALLOW_DUPLICATE' : 'ALLOW_DUPLICATE_FAILED_ONLY',
      typedSearchAttributes: [
        { key: DISE_TOOL, value: ref.name },
        { key: DISE_VERSION, value: ref.id },
        { key: DISE_HEAL_STEP, value: 'starting' },
        { key: DISE_HEAL_STATUS, value: 'running' },
      ],
    });
    return { handle, joined: runningBefore };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return { handle: client.workflow.getHandle<typeof selfHealWorkflow>(workflowId), joined: true };
    }
    throw err;
  }
}
