import { activityInfo, Context } from '@temporalio/activity';
import { context, propagation, ROOT_CONTEXT } from '@opentelemetry/api';
import { Client, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import { currentTracing } from '../infra/tracing-state.js';
import { HEAL_WORKFLOW_TYPE, type HealStartOptions } from '../shared/heal-start.js';
import type { ActivityDeps } from './deps.js';

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
 * start a heal twice. The task queue is the monitor's own, as a child's was.
 */
export function startHealsActivity(_deps: ActivityDeps) {
  return async function startHeals(heals: HealStartOptions[]): Promise<StartHealsResult> {
    const ctx = Context.current();
    const info = activityInfo();
    // A traced worker sends the span context with each start (the report's, when it was traced, or
    // this activity's), as the monitor's child starts did; the worker's own client has no interceptor.
    const client = currentTracing()
      ? new Client({
          connection: ctx.client.connection,
          namespace: info.workflowNamespace,
          interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
        })
      : ctx.client;
    const taskQueue = info.taskQueue;
    const result: StartHealsResult = { started: [], joined: [] };
    // A few at a time: all at once would open hundreds of RPCs on the worker's one connection.
    const queue = [...heals];
    const startOne = async (options: HealStartOptions) => {
      const versionId = options.args[0].versionId;
      try {
        const traceparent = options.args[0].traceparent;
        const start = () => client.workflow.start(HEAL_WORKFLOW_TYPE, { ...options, taskQueue });
        await (traceparent ? context.with(propagation.extract(ROOT_CONTEXT, { traceparent }), start) : start());
        result.started.push(versionId);
      } catch (err) {
        // A heal of this version is running (or finished healed): joined, not duplicated.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        result.joined.push(versionId);
      }
      ctx.heartbeat(result.started.length + result.joined.length);
    };
    await Promise.all(
      Array.from({ length: Math.min(16, queue.length) }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await startOne(next);
      }),
    );
    return result;
  };
}
