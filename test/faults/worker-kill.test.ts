import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allViolations } from '../../src/doctor/invariants.js';
import { startHeal } from '../../src/client/start-heal.js';
import { LineageStore } from '../../src/lineage/store.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { createTestDatabase } from '../support/database.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { lineageViolations } from '../support/invariants.js';
import { registerSlugStory, SLUG_WRONG } from '../support/slug-story.js';
import { connectTestTemporal, startTestWorker, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';
import { killChildren, spawnWorkerChild } from '../support/child-processes.js';
import { healInput } from '../support/failures.js';
import { HEAL_STEP_ORDER } from '../../src/shared/heal-steps.js';

// A worker killed with SIGKILL right after an activity committed its writes, then restarted: the
// activity is retried on the new worker (heartbeat timeout; a local one runs again when the dead
// worker's workflow task times out), and the heal must still end with exactly
// one new version and a consistent lineage. One test per activity of the heal.
//
// The tests run concurrently (most of each is waiting for Temporal to time out the dead worker's
// tasks), so each has its own database: the doctor's checks look at the whole database, and must not
// see another test's heal half done. The killed worker is a child process; the worker that takes over
// runs in this process.

/** The heal's steps between its start and its end, in order (the step catalogue's own). */
const STEPS = HEAL_STEP_ORDER.filter((step) => step !== 'starting' && step !== 'done');

/**
 * The steps a heal runs as local activities (src/workflows/self-heal.ts, `localStep`; regenerate is
 * local for a rollback or a revert): a worker killed after one loses its workflow task instead of an
 * activity attempt.
 */
const LOCAL_STEPS = new Set([
  'recordFailure',
  'pruneBranch',
  'createAvoidanceRule',
  'propagateRule',
  'chooseStrategies',
  'regenerate',
  'promote',
]);

/** Two heals: the email story (the failed version is the culprit: a rollback) and the slug story (a revert). */
const STORIES = {
  rollback: {
    register: registerEmailStory,
    failed: '2.0.0',
    culprit: '2.0.0',
    healed: '2.0.1',
    wrong: WRONG_RESULTS,
    call: (i: number) => `user${i}@example.com`,
  },
  revert: {
    register: registerSlugStory,
    failed: '1.3.0',
    culprit: '1.2.0',
    healed: '1.3.1',
    wrong: SLUG_WRONG,
    call: (i: number) => `Title ${i}`,
  },
} as const;
const CASES = (Object.keys(STORIES) as (keyof typeof STORIES)[]).flatMap((story) =>
  STEPS.map((step): [keyof typeof STORIES, string] => [story, step]),
);

let temporal: TestTemporal;

beforeAll(async () => {
  temporal = await connectTestTemporal();
});
afterAll(async () => {
  killChildren();
  await temporal.close();
});

describe.concurrent('a worker killed with SIGKILL in the middle of a heal', () => {
  it.for(CASES)(
    '%s heal, after %s: finishes with exactly one new version',
    { timeout: 240_000 },
    async ([storyName, step], { onTestFinished }) => {
      const story = STORIES[storyName];
      const tool = `killed_${storyName}_${step.toLowerCase()}`;
      const failed = `${tool}@${story.failed}`;
      const db = await createTestDatabase();
      const store = new LineageStore(db.prisma);
      onTestFinished(() => db.drop()); // after the worker's shutdown below (hooks run last first)
      await story.register(store, tool);
      const runtime = await ToolRuntime.create({ databaseUrl: db.url });
      for (let i = 0; i < 40; i++) await runtime.call(tool, story.call(i));
      for (const w of story.wrong) await runtime.report(failed, w);
      await runtime.close();
      const taskQueue = uniqueTaskQueue(`kill-${step}`);

      const first = await spawnWorkerChild({ databaseUrl: db.url, taskQueue, killAfter: step });
      const { handle } = await startHeal(temporal.client, healInput(failed, { description: 'wrong answers' }), {
        taskQueue,
        // The dead worker's workflow task (a local step's) times out after this; Temporal's 10 s would
        // make each such case wait 10 s for nothing.
        workflowTaskTimeout: '2 seconds',
      });
      await first.hung;
      first.child.kill('SIGKILL');
      const second = await startTestWorker(db, { taskQueue });
      onTestFinished(() => second.shutdown());

      const result = await handle.result();
      expect(result.status).toBe('healed');
      expect(result.strategy).toBe(storyName);
      expect(result.newVersionId).toBe(`${tool}@${story.healed}`);
      expect(
        await db.query(`SELECT tool_id FROM tool_lineage WHERE tool_name = $1 AND health_status = 'regenerated'`, [
          tool,
        ]),
      ).toHaveLength(1);
      expect(
        await db.query(`SELECT 1 FROM avoidance_rules WHERE source_failure = $1`, [`${tool}@${story.culprit}`]),
      ).toHaveLength(1);
      expect(
        await db.query(`SELECT 1 FROM failures WHERE tool_id = $1 AND dedupe_key IS NOT NULL`, [failed]),
      ).toHaveLength(1);
      const [run] = await db.query<{ status: string }>(`SELECT status FROM heal_runs WHERE tool_id = $1`, [failed]);
      expect(run!.status).toBe('healed');
      expect(await db.query(`SELECT 1 FROM executions WHERE tool_id = $1`, [failed])).toHaveLength(40); // nothing lost
      expect(await lineageViolations(db, tool)).toEqual([]);
      expect(await allViolations(new LineageStore(db.prisma), temporal.client)).toEqual([]); // the whole doctor, heal runs included
      const events = (await handle.fetchHistory()).events ?? [];
      if (LOCAL_STEPS.has(step)) {
        // The dead worker held the workflow task its local step ran in: that task timed out, and the
        // next worker ran the step again from the last recorded one.
        expect(events.some((e) => e.workflowTaskTimedOutEventAttributes)).toBe(true);
      } else {
        const retried = events.some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
        expect(retried).toBe(true);
      }
    },
  );
});
