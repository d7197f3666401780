import { describe, expect, it } from 'vitest';
import type { FinishCanaryInput } from '../../src/activities/finish-canary.js';
import type { JudgeCanaryResult } from '../../src/activities/judge-canary.js';
import { CANARY_WORKFLOW_TYPE, canaryStartOptions } from '../../src/shared/canary-start.js';
import type { CanaryEnd, CanarySettings, CanaryVerdict } from '../../src/shared/canary-types.js';
import { canaryAbortSignal, canaryProgressQuery, canaryPromoteSignal } from '../../src/shared/messages.js';
import { DISE_CANARY_VERDICT } from '../../src/shared/search-attributes.js';
import type { canaryWorkflow } from '../../src/workflows/canary.js';
import { uniqueName, useWorkflowTestEnv } from '../support/workflow-env.js';
import { pollUntil } from '../support/wait.js';

// canaryWorkflow's timers, signals, query and search attribute with stubbed activities on the
// time-skipping test server. The canary against real runtimes and PostgreSQL is
// test/integration/canary.test.ts.

const t = useWorkflowTestEnv();

const SETTINGS: CanarySettings = { checkIntervalSeconds: 30, maxDurationSeconds: 600, onTimeout: 'refuse' };

function verdict(decision: CanaryVerdict['decision'], mirrored: number): CanaryVerdict {
  return {
    decision,
    reasons: [decision === 'not_enough_data' ? `not enough data: ${mirrored} of 200 mirrored calls` : decision],
    mirrored,
    minCalls: 200,
    agreed: mirrored,
    accepted: 0,
    disagreed: 0,
    agreement: 1,
    stableErrors: 0,
    candidateErrors: 0,
    errorPValue: null,
    latencyPValue: null,
    stableMedianMs: null,
    candidateMedianMs: null,
    judgedAt: '2026-11-27T00:00:00.000Z',
  };
}

/** A judge answering from `script` (its last entry repeats) and a finishCanary that records the call. */
function stubs(script: CanaryVerdict['decision'][], settings: CanarySettings = SETTINGS) {
  const finished: FinishCanaryInput[] = [];
  let looks = 0;
  return {
    finished,
    looks: () => looks,
    activities: {
      judgeCanary: async (): Promise<JudgeCanaryResult> => {
        const decision = script[Math.min(looks, script.length - 1)]!;
        looks++;
        return { status: 'running', stableId: 'tool@1.0.0', verdict: verdict(decision, looks * 50), settings };
      },
      finishCanary: async (input: FinishCanaryInput): Promise<CanaryEnd> => {
        finished.push(input);
        return {
          outcome: input.action === 'promote' ? 'promoted' : input.action === 'refuse' ? 'refused' : 'aborted',
          decision: input.decision,
        };
      },
    },
  };
}

async function start(taskQueue: string) {
  const id = `${uniqueName('tool')}@2.0.0`;
  return t.env.client.workflow.start<typeof canaryWorkflow>(CANARY_WORKFLOW_TYPE, {
    ...canaryStartOptions(id),
    taskQueue,
  });
}

describe('canaryWorkflow', () => {
  it('waits on thin data, timer after timer, and promotes when the judge passes; the verdict is a search attribute', async () => {
    const s = stubs(['not_enough_data', 'not_enough_data', 'not_enough_data', 'pass']);
    const { worker, taskQueue } = await t.worker(s.activities);
    await worker.runUntil(async () => {
      const handle = await start(taskQueue);
      const end = await handle.result();
      expect(end.status).toBe('promoted');
      expect(s.looks()).toBe(4);
      expect(s.finished).toHaveLength(1);
      expect(s.finished[0]!.action).toBe('promote');
      expect(s.finished[0]!.verdict?.decision).toBe('pass');
      const attributes = (await handle.describe()).typedSearchAttributes;
      expect(attributes.get(DISE_CANARY_VERDICT)).toBe('promoted');
    });
  });

  it('refuses when the judge fails the candidate', async () => {
    const s = stubs(['not_enough_data', 'fail']);
    const { worker, taskQueue } = await t.worker(s.activities);
    await worker.runUntil(async () => {
      const end = await (await start(taskQueue)).result();
      expect(end.status).toBe('refused');
      expect(s.finished[0]!.action).toBe('refuse');
      expect(s.finished[0]!.decision).toMatch(/the judge refused it/);
    });
  });

  it('applies the configured default at max_duration when the data stays thin, and records why', async () => {
    for (const onTimeout of ['refuse', 'promote'] as const) {
      const s = stubs(['not_enough_data'], { ...SETTINGS, onTimeout });
      const { worker, taskQueue } = await t.worker(s.activities);
      await worker.runUntil(async () => {
        const end = await (await start(taskQueue)).result();
        expect(end.status).toBe(onTimeout === 'promote' ? 'promoted' : 'refused');
        // 600 s at one look per 30 s: the first look, 20 timers, the look at the deadline.
        expect(s.looks()).toBe(21);
        expect(s.finished[0]!.decision).toMatch(
          new RegExp(`max_duration \\(600s\\) reached with not enough data.*on_timeout: ${onTimeout}`),
        );
      });
    }
  });

  it('shows its progress in a query, and an operator promotes or aborts it by signal', async () => {
    for (const action of ['promote', 'abort'] as const) {
      const s = stubs(['not_enough_data']);
      const { worker, taskQueue } = await t.worker(s.activities);
      await worker.runUntil(async () => {
        const handle = await start(taskQueue);
        // The first look gives the verdict: until then the progress has none.
        const progress = await pollUntil(
          () => handle.query(canaryProgressQuery),
          (p) => Boolean(p.verdict),
          { what: 'the first verdict' },
        );
        expect(progress.status).toBe('running');
        expect(progress.verdict?.decision).toBe('not_enough_data');
        expect(progress.stableId).toBe('tool@1.0.0');
        expect(progress.message).toMatch(/not enough data/);
        await handle.signal(action === 'promote' ? canaryPromoteSignal : canaryAbortSignal, {
          reason: `${action} from the test`,
        });
        const end = await handle.result();
        expect(end.status).toBe(action === 'promote' ? 'promoted' : 'aborted');
        expect(s.finished).toEqual([expect.objectContaining({ action, decision: `${action} from the test` })]);
      });
    }
  });

  it('ends quietly when its canary was ended elsewhere (superseded by a newer version)', async () => {
    const finished: FinishCanaryInput[] = [];
    const { worker, taskQueue } = await t.worker({
      judgeCanary: async (): Promise<JudgeCanaryResult> => ({
        status: 'superseded',
        stableId: 'tool@1.0.0',
        verdict: null,
        settings: SETTINGS,
      }),
      finishCanary: async (input) => {
        finished.push(input);
        return { outcome: 'ended', decision: '' };
      },
    });
    await worker.runUntil(async () => {
      const end = await (await start(taskQueue)).result();
      expect(end.status).toBe('ended');
      expect(finished).toHaveLength(0);
    });
  });
});
