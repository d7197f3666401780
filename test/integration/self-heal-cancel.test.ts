import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { startHeal } from '../../src/client/start-heal.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { startWorker, type RunningWorker } from '../../src/worker.js';
import { useTestStore } from '../support/database.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { lineageViolations } from '../support/invariants.js';
import { registerSlugStory, SLUG_WRONG } from '../support/slug-story.js';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';
import { healInput } from '../support/failures.js';
import { workflowBundlePath } from '../support/bundle-path.js';
import { HEAL_STEP_ORDER } from '../../src/shared/heal-steps.js';
import { healWorkflowId } from '../../src/shared/constants.js';

// Cancelling a heal while each of its steps runs: the heal ends cancelled, recorded as such, with
// callers routed to a usable version and no half-made version.

/** The heal's steps between its start and its end, in order (the step catalogue's own). */
const STEPS = HEAL_STEP_ORDER.filter((step) => step !== 'starting' && step !== 'done');

/** The email story heals by rollback (the failed version is the culprit), the slug story by revert. */
const STORIES = {
  rollback: { register: registerEmailStory, failed: '2.0.0', lastGood: '1.0.0', wrong: WRONG_RESULTS },
  revert: { register: registerSlugStory, failed: '1.3.0', lastGood: '1.1.0', wrong: SLUG_WRONG },
} as const;
const CASES = (Object.keys(STORIES) as (keyof typeof STORIES)[]).flatMap((story) =>
  STEPS.map((step) => [story, step] as const),
);

const h = useTestStore();
let temporal: TestTemporal;
let worker: RunningWorker;
const taskQueue = uniqueTaskQueue('heal-cancel');

/**
 * The step each running heal holds (by workflow id), and what to call once it got there. The cases run
 * at once, each heal holding its own step.
 */
const holds = new Map<string, { step: string; entered: () => void }>();
/** Holds the first attempt of the step under test until the heal is cancelled. */
const holdInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      const hold = holds.get(ctx.info.workflowExecution?.workflowId ?? '');
      if (ctx.info.activityType === hold?.step && ctx.info.attempt === 1) {
        hold.entered();
        await Promise.race([ctx.cancelled, new Promise((r) => setTimeout(r, 20_000))]);
      }
      return next(input);
    },
  },
});

beforeAll(async () => {
  temporal = await connectTestTemporal();
  worker = await startWorker({
    temporal: { address: inject('temporalAddress'), namespace: 'default', tls: false },
    prisma: h.db.prisma,
    config: defaultConfig(),
    llm: null,
    taskQueue,
    workflowBundlePath: workflowBundlePath(),
    activityInterceptors: [holdInterceptor],
  });
});
afterAll(async () => {
  await worker.shutdown();
  await temporal.close();
});

// Each case is a heal of its own tool, so they run at once (most of a case is waiting for the cancellation).
describe.concurrent('cancelling a heal', () => {
  it.each(CASES)(
    '%s heal, during %s, leaves the lineage consistent',
    async (storyName, step) => {
      const story = STORIES[storyName];
      const tool = `cancelled_${storyName}_${step.toLowerCase()}`;
      const failed = `${tool}@${story.failed}`;
      await story.register(h.store, tool);
      const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
      for (const w of story.wrong) await runtime.report(failed, w);
      await runtime.close();

      const input = healInput(failed, { description: 'wrong answers' }, 'manual');
      const reached = new Promise<void>((entered) => holds.set(healWorkflowId(failed), { step, entered }));
      const { handle } = await startHeal(
        temporal.client,
        input,
        // The held step never ends by itself: a local step's workflow task reports the cancellation at
        // its next heartbeat, 80% of this timeout (Temporal's 10 s would make each such case wait 8 s).
        { taskQueue, workflowTaskTimeout: '2 seconds' },
      );
      await reached;
      await handle.cancel();
      const err = await handle.result().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);

      const [run] = await h.db.query<{ status: string; finished_at: Date | null }>(
        `SELECT status, finished_at FROM heal_runs WHERE tool_id = $1`,
        [failed],
      );
      expect(run).toMatchObject({ status: 'cancelled' });
      expect(run!.finished_at).not.toBeNull();
      expect(
        await h.db.query(`SELECT 1 FROM tool_lineage WHERE tool_name = $1 AND health_status = 'regenerated'`, [tool]),
      ).toHaveLength(0);
      expect(await lineageViolations(h.db, tool)).toEqual([]);
      const [route] = await h.db.query<{ version_id: string }>(`SELECT version_id FROM routes WHERE tool_name = $1`, [
        tool,
      ]);
      // Before the prune callers stay where they were; from the prune on they are on the last good version.
      const pruned = STEPS.indexOf(step) > STEPS.indexOf('pruneBranch');
      expect(route!.version_id).toBe(pruned ? `${tool}@${story.lastGood}` : failed);
    },
    60_000,
  );
});
