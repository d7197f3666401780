import { WorkflowExecutionAlreadyStartedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { TASK_QUEUE } from '../shared/constants.js';
import { HEAL_ID_CONFLICT_POLICY, HEAL_WORKFLOW_TYPE, healStartOptions } from '../shared/heal-start.js';
import type { SelfHealInput } from '../shared/heal-types.js';
import type { selfHealWorkflow } from '../workflows/self-heal.js';

export type HealHandle = WorkflowHandle<typeof selfHealWorkflow>;

/**
 * Starts the heal of a version, or joins it, with the options every heal shares
 * (src/shared/heal-start.ts): the workflow id is `heal:<versionId>`, a running heal is reused
 * (conflict policy USE_EXISTING), and a finished one is reused too unless it failed or was
 * cancelled. `retry: true` allows a new run after any end. `joined` is true when a finished heal was
 * reused; whether a running one was joined costs one more RPC, so it is only found out with
 * `detectJoined: true` (for people) and is null otherwise. `workflowTaskTimeout` overrides Temporal's
 * 10 s: a cancellation during a short step (a local activity) that hangs is seen when its workflow
 * task next reports, at 80% of that timeout. `eager: true` asks Temporal to hand the heal's first
 * workflow task straight back to a worker of `taskQueue` in this process (eager workflow start: no
 * trip through the task queue); the client must then be on that worker's NativeConnection
 * (`new Client({ connection: worker.connection })`). Temporal starts the heal as usual when that worker has
 * no free slot; `eagerlyStarted` says which happened.
 */
export async function startHeal(
  client: Client,
  input: SelfHealInput,
  {
    taskQueue = TASK_QUEUE,
    retry = false,
    detectJoined = false,
    workflowTaskTimeout,
    eager = false,
  }: {
    taskQueue?: string;
    retry?: boolean;
    detectJoined?: boolean;
    workflowTaskTimeout?: Duration;
    eager?: boolean;
  } = {},
): Promise<{ handle: HealHandle; joined: boolean | null; eagerlyStarted: boolean }> {
  const options = healStartOptions(input, { retry });
  // Only for telling the caller: the start below is what guarantees a single heal.
  const runningBefore = detectJoined
    ? await client.workflow
        .getHandle(options.workflowId)
        .describe()
        .then((d) => d.status.name === 'RUNNING')
        .catch(() => false)
    : null;
  try {
    const handle = await client.workflow.start<typeof selfHealWorkflow>(HEAL_WORKFLOW_TYPE, {
      ...options,
      taskQueue,
      workflowIdConflictPolicy: HEAL_ID_CONFLICT_POLICY,
      ...(workflowTaskTimeout !== undefined && { workflowTaskTimeout }),
      ...(eager && { requestEagerStart: true }),
    });
    return { handle, joined: runningBefore, eagerlyStarted: handle.eagerlyStarted };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return {
        handle: client.workflow.getHandle<typeof selfHealWorkflow>(options.workflowId),
        joined: true,
        eagerlyStarted: false,
      };
    }
    throw err;
  }
}
