import { activityInfo, Context } from '@temporalio/activity';
import {
  Client,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowClientInterceptor,
  type WorkflowStartInput,
} from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { NativeConnection } from '@temporalio/worker';
import { HEAL_WORKFLOW_TYPE, TRACE_HEADER, type HealStartOptions } from '../shared/heal-start.js';
import type { SelfHealInput } from '../shared/heal-types.js';
import type { ActivityDeps } from './deps.js';

/** The memo key naming the monitor check (workflow run and activity) that started a heal. */
export const STARTED_BY = 'startedBy';

/** What startHeals reports back to the monitor: the versions whose heal it started, and those it joined. */
export interface StartHealsResult {
  started: string[];
  joined: string[];
}

/**
 * Starts the heals of one check through the worker's client, outside the monitor's history: as
 * children, every start and every completion was an event in the one monitor history, which Temporal
 * handles one at a time, so a storm of heals queued behind it. Each start uses the options every heal
 * shares (src/shared/heal-start.ts) and joins its report's trace when it has one; a running heal fails the
 * start with WorkflowExecutionAlreadyStarted and is counted as joined, so a retried activity does not
 * start a heal twice. Each start carries the check's signature in its memo: a heal that an earlier
 * attempt of the same activity started is still counted as started when a retry finds it. The task queue is the monitor's own, as a child's was.
 */
export function startHealsActivity(_deps: ActivityDeps) {
  return async function startHeals(heals: HealStartOptions[]): Promise<StartHealsResult> {
    const ctx = Context.current();
    const info = activityInfo();
    // A heal of a traced report is started under the report's span (its traceparent in the header a
    // traced worker reads), as the monitor's child starts were; the worker's own client sends none.
    const client = heals.some((h) => h.args[0].traceparent)
      ? new Client({
          connection: ctx.client.connection,
          namespace: info.workflowNamespace,
          interceptors: { workflow: [healJoinsReportTrace] },
        })
      : ctx.client;
    const taskQueue = info.taskQueue;
    // Eager start: on the worker's own connection (a worker's activities always are), this worker takes
    // each heal's first workflow task from the start's answer when it has a free slot, with no trip
    // through the task queue. A client on another connection cannot (Temporal's client refuses).
    const eager = ctx.client.connection instanceof NativeConnection;
    // Every attempt of this activity signs its starts the same way: a heal an earlier attempt started is
    // still this check's own when a retry finds it running.
    const monitor = info.workflowExecution;
    const startedBy = `${monitor?.workflowId}/${monitor?.runId}/${info.activityId}`;
    // A few at a time: all at once would open hundreds of RPCs on the worker's one connection.
    const outcomes: ('started' | 'joined')[] = [];
    let done = 0;
    const startOne = async (options: HealStartOptions, index: number) => {
      try {
        await client.workflow.start(HEAL_WORKFLOW_TYPE, {
          ...options,
          taskQueue,
          memo: { [STARTED_BY]: startedBy },
          ...(eager && { requestEagerStart: true }),
        });
        outcomes[index] = 'started';
      } catch (err) {
        // A heal of this version is running (or finished healed): joined, not duplicated.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        const { memo } = await client.workflow.getHandle(options.workflowId).describe();
        outcomes[index] = memo?.[STARTED_BY] === startedBy ? 'started' : 'joined';
      }
      ctx.heartbeat(++done);
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(16, heals.length) }, async () => {
        for (let i = next++; i < heals.length; i = next++) await startOne(heals[i]!, i);
      }),
    );
    // In the findings' order, whichever start answered first.
    const result: StartHealsResult = { started: [], joined: [] };
    heals.forEach((options, i) => result[outcomes[i]!].push(options.args[0].versionId));
    return result;
  };
}

/** Puts a heal's traceparent (its report's) in the header OpenTelemetry's workflow interceptors read. */
function withReportTrace(input: WorkflowStartInput): WorkflowStartInput {
  const traceparent = (input.options.args?.[0] as SelfHealInput | undefined)?.traceparent;
  if (input.workflowType !== HEAL_WORKFLOW_TYPE || !traceparent) return input;
  return {
    ...input,
    headers: { ...input.headers, [TRACE_HEADER]: defaultPayloadConverter.toPayload({ traceparent }) },
  };
}

const healJoinsReportTrace: WorkflowClientInterceptor = {
  start: (input, next) => next(withReportTrace(input)),
  startWithDetails: (input, next) => next(withReportTrace(input)),
};
