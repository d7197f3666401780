import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { allViolations } from '../../src/doctor/invariants.js';
import { startHeal } from '../../src/client/start-heal.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { LineageStore } from '../../src/lineage/store.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { WORKFLOWS_PATH } from '../../src/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { lineageViolations } from '../support/invariants.js';
import { registerSlugStory, SLUG_WRONG } from '../support/slug-story.js';
import { connectTestTemporal, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';

// A worker killed with SIGKILL right after an activity committed its writes, then restarted: the
// activity is retried on the new worker (heartbeat timeout), and the heal must still end with exactly
// one new version and a consistent lineage. One test per activity of the heal.

const STEPS = ['recordFailure', 'analyzeFailure', 'pruneBranch', 'createAvoidanceRule', 'propagateRule', 'findHealthyAncestor', 'regenerate', 'validateCandidate', 'promote'];

/** Two heals: the email story (the failed version is the culprit: a rollback) and the slug story (a revert). */
const STORIES = {
  rollback: { register: registerEmailStory, failed: '2.0.0', culprit: '2.0.0', healed: '2.0.1', wrong: WRONG_RESULTS, call: (i: number) => `user${i}@example.com` },
  revert: { register: registerSlugStory, failed: '1.3.0', culprit: '1.2.0', healed: '1.3.1', wrong: SLUG_WRONG, call: (i: number) => `Title ${i}` },
} as const;
const CASES = (Object.keys(STORIES) as (keyof typeof STORIES)[]).flatMap((story) => STEPS.map((step) => [story, step] as const));

let db: TestDatabase;
let store: LineageStore;
let temporal: TestTemporal;
let bundlePath: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  store = new LineageStore(db.prisma);
  temporal = await connectTestTemporal();
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } as never });
  bundlePath = path.join(mkdtempSync(path.join(os.tmpdir(), 'dise-bundle-')), 'workflows.js');
  writeFileSync(bundlePath, bundle.code);
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await temporal.close();
  await db.drop();
});

function startChild(taskQueue: string, killAfter?: string): Promise<{ child: ChildProcess; killed: Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PACKAGE_ROOT, 'test/support/worker-child.ts')], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, DATABASE_URL: db.url, TEMPORAL_ADDRESS: inject('temporalAddress'), TASK_QUEUE: taskQueue, WORKFLOW_BUNDLE: bundlePath, KILL_AFTER: killAfter ?? '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  let announce: () => void = () => undefined;
  const killed = new Promise<void>((resolve) => (announce = resolve));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) resolve({ child, killed });
      if (killAfter && out.includes(`AFTER ${killAfter}`)) announce();
    });
    child.on('exit', (code) => reject(new Error(`worker child exited early (${code})`)));
  });
}

describe('a worker killed with SIGKILL in the middle of a heal', () => {
  it.each(CASES)('%s heal, after %s: finishes with exactly one new version', async (storyName, step) => {
    const story = STORIES[storyName];
    const tool = `killed_${storyName}_${step.toLowerCase()}`;
    const failed = `${tool}@${story.failed}`;
    await story.register(store, tool);
    const runtime = await ToolRuntime.create({ databaseUrl: db.url });
    for (let i = 0; i < 40; i++) await runtime.call(tool, story.call(i));
    for (const w of story.wrong) await runtime.report(failed, w);
    await runtime.close();
    const taskQueue = uniqueTaskQueue(`kill-${step}`);

    const first = await startChild(taskQueue, step);
    const { handle } = await startHeal(
      temporal.client,
      { versionId: failed, trigger: 'report', failure: { failureType: 'logic_error', description: 'wrong answers', severity: 'critical', detectionMethod: 'report' } },
      { taskQueue },
    );
    await first.killed;
    first.child.kill('SIGKILL');
    const second = await startChild(taskQueue);

    const result = await handle.result();
    second.child.kill('SIGTERM');
    expect(result.status).toBe('healed');
    expect(result.strategy).toBe(storyName);
    expect(result.newVersionId).toBe(`${tool}@${story.healed}`);
    expect(await db.query(`SELECT tool_id FROM tool_lineage WHERE tool_name = $1 AND health_status = 'regenerated'`, [tool])).toHaveLength(1);
    expect(await db.query(`SELECT 1 FROM avoidance_rules WHERE source_failure = $1`, [`${tool}@${story.culprit}`])).toHaveLength(1);
    expect(await db.query(`SELECT 1 FROM failures WHERE tool_id = $1 AND dedupe_key IS NOT NULL`, [failed])).toHaveLength(1);
    const [run] = await db.query<{ status: string }>(`SELECT status FROM heal_runs WHERE tool_id = $1`, [failed]);
    expect(run!.status).toBe('healed');
    expect(await db.query(`SELECT 1 FROM executions WHERE tool_id = $1`, [failed])).toHaveLength(40); // nothing lost
    expect(await lineageViolations(db, tool)).toEqual([]);
    expect(await allViolations(new LineageStore(db.prisma), temporal.client)).toEqual([]); // the whole doctor, heal runs included
    const history = await handle.fetchHistory();
    const retried = (history.events ?? []).some((e) => (e.activityTaskStartedEventAttributes?.attempt ?? 1) > 1);
    expect(retried).toBe(true);
  }, 90_000);
});
