import { MockActivityEnvironment } from '@temporalio/testing';
import { describe, expect, it } from 'vitest';
import type { ActivityDeps } from '../../src/activities/deps.js';
import { STARTED_BY, startHealsActivity } from '../../src/activities/start-heals.js';
import { healStartOptions, TRACE_HEADER, type HealStartOptions } from '../../src/shared/heal-start.js';
import { defaultPayloadConverter } from '@temporalio/common';
import { healInput } from '../support/failures.js';
import { pollUntil } from '../support/wait.js';
import { uniqueName, useWorkflowTestEnv } from '../support/workflow-env.js';

// The monitor's startHeals activity against Temporal's test server (nothing polls the task queue, so
// the heals it starts only wait): what it reports as started and as joined, across a retry.

const t = useWorkflowTestEnv();
const startHeals = startHealsActivity({} as ActivityDeps);

function heals(tool: string, ...versions: string[]): HealStartOptions[] {
  return versions.map((v) => healStartOptions(healInput(`${tool}@${v}`, {}, 'monitor')));
}

/** One attempt of the activity `activityId` of the monitor run `runId`. */
function attempt(activityId: string, attemptNumber: number, runId = 'run-1') {
  return new MockActivityEnvironment(
    {
      activityId,
      attempt: attemptNumber,
      taskQueue: uniqueName('start-heals'),
      workflowNamespace: 'default',
      workflowExecution: { workflowId: 'monitor-under-test', runId },
    },
    { client: t.env.client },
  );
}

describe('startHeals', () => {
  it("counts as started the heals an earlier attempt of the same check started, and as joined another check's", async () => {
    const tool = uniqueName('retried');
    // The first attempt starts 1.0.0 and 1.1.0, then fails on a start Temporal refuses.
    const refused = { ...heals(tool, '1.2.0')[0]!, workflowId: '' };
    await expect(attempt('7', 1).run(startHeals, [...heals(tool, '1.0.0', '1.1.0'), refused])).rejects.toThrow();

    // Both of its starts reached Temporal (they ran beside the refused one).
    for (const v of ['1.0.0', '1.1.0'])
      await pollUntil(
        () =>
          t.env.client.workflow
            .getHandle(`heal:${tool}@${v}`)
            .describe()
            .catch(() => null),
        (d) => d !== null,
        { what: `heal:${tool}@${v} started` },
      );

    const retried = await attempt('7', 2).run(startHeals, heals(tool, '1.0.0', '1.1.0', '1.2.0'));
    expect(retried).toEqual({ started: [`${tool}@1.0.0`, `${tool}@1.1.0`, `${tool}@1.2.0`], joined: [] });

    const nextCheck = await attempt('8', 1).run(startHeals, heals(tool, '1.0.0', '1.3.0'));
    expect(nextCheck).toEqual({ started: [`${tool}@1.3.0`], joined: [`${tool}@1.0.0`] });

    const { memo } = await t.env.client.workflow.getHandle(`heal:${tool}@1.0.0`).describe();
    expect(memo?.[STARTED_BY]).toBe('monitor-under-test/run-1/7');
    for (const v of ['1.0.0', '1.1.0', '1.2.0', '1.3.0'])
      await t.env.client.workflow.getHandle(`heal:${tool}@${v}`).terminate('test over');
  });

  it("starts a traced report's heal under the report's trace, and an untraced one with no trace header", async () => {
    const tool = uniqueName('traced');
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const [traced, plain] = [
      healStartOptions({ ...healInput(`${tool}@1.0.0`, {}, 'monitor'), traceparent }),
      heals(tool, '1.1.0')[0]!,
    ];
    const result = await attempt('9', 1).run(startHeals, [traced, plain]);
    expect(result).toEqual({ started: [`${tool}@1.0.0`, `${tool}@1.1.0`], joined: [] });

    const traceHeader = async (version: string) => {
      const history = await t.env.client.workflow.getHandle(`heal:${tool}@${version}`).fetchHistory();
      const field = history.events?.[0]?.workflowExecutionStartedEventAttributes?.header?.fields?.[TRACE_HEADER];
      return field ? defaultPayloadConverter.fromPayload(field) : undefined;
    };
    expect(await traceHeader('1.0.0')).toEqual({ traceparent });
    expect(await traceHeader('1.1.0')).toBeUndefined();
    for (const v of ['1.0.0', '1.1.0'])
      await t.env.client.workflow.getHandle(`heal:${tool}@${v}`).terminate('test over');
  });
});
