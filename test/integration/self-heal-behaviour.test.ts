import { Client } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { startHeal } from '../../src/client/start-heal.js';
import { LineageError } from '../../src/lineage/errors.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import type { HealFailureInput } from '../../src/shared/heal-types.js';
import { registerEmailStory, V1_CODE, V2_CODE, WRONG_RESULTS } from '../support/email-story.js';
import { captureOutput } from '../support/output.js';
import { useHealStack } from '../support/heal-stack.js';
import { healFailure } from '../support/failures.js';

const h = useHealStack('heal-behaviour');
const FAILURE: HealFailureInput = healFailure();

/** Accepts a double @ (the bug), and nothing else changes. */
const DOUBLE_AT_BUG = `function run(input) {
  if (typeof input !== 'string') return false;
  return /^[a-zA-Z0-9._%+@-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(input);
}`;

async function report(versionId: string, wrong = WRONG_RESULTS) {
  const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
  for (const w of wrong) await runtime.report(versionId, w);
  await runtime.close();
}

async function heal(versionId: string) {
  const { handle } = await startHeal(
    h.temporal.client,
    { versionId, trigger: 'report', failure: FAILURE },
    { taskQueue: h.taskQueue },
  );
  return handle.result();
}

const counts = async () =>
  (
    await h.db.query<{ rules: number; pruned: number }>(
      `SELECT (SELECT count(*)::int FROM avoidance_rules) AS rules, (SELECT count(*)::int FROM tool_lineage WHERE health_status = 'pruned') AS pruned`,
    )
  )[0]!;

describe('blaming the right cause', () => {
  it('prunes nothing when the last validated ancestor fails the same way (an older bug)', async () => {
    const tests = [{ name: 'accepts a plain address', input: 'user@example.com', expect: true }];
    await h.store.registerMany([
      { name: 'older_bug', version: '1.0.0', code: DOUBLE_AT_BUG, tests },
      {
        name: 'older_bug',
        version: '1.1.0',
        parents: ['older_bug@1.0.0'],
        code: DOUBLE_AT_BUG.replace('typeof input', 'typeof (input)'),
        mutation: { type: 'refactor', description: 'tidy' },
      },
    ]);
    await h.store.setRoute('older_bug@1.1.0', 'test');
    await report('older_bug@1.1.0', [{ input: 'user@@domain.com', observed: true, expected: false }]);
    const before = await counts();
    const result = await heal('older_bug@1.1.0');
    expect(result.status).toBe('not_pruned');
    expect(result.analysis).toMatchObject({
      verdict: 'not_this_mutation',
      culpritId: null,
      lastGoodId: 'older_bug@1.0.0',
    });
    expect(result.analysis!.reason).toMatch(
      /older_bug@1\.0\.0, which passes its suite, fails the same 1 input\(s\) the same way/,
    );
    expect(await counts()).toEqual(before);
    expect((await h.store.getLineage('older_bug@1.1.0')).health).toBe('healthy');
  });

  it('turns no transient fault (timeouts that do not reproduce) into a prune or a rule', async () => {
    await h.store.registerMany([
      { name: 'flaky_env', version: '1.0.0', code: V1_CODE },
      {
        name: 'flaky_env',
        version: '1.1.0',
        parents: ['flaky_env@1.0.0'],
        code: V1_CODE.replace('return /', 'return  /'),
        mutation: { type: 'refactor', description: 'spacing' },
      },
    ]);
    await h.db.query(
      `INSERT INTO executions (tool_id, ok, error_type, error_message, duration_ms, input_hash, input)
       SELECT 'flaky_env@1.1.0', false, 'timeout', 'tool exceeded the time limit', 1000, md5(g::text), to_jsonb('user' || g || '@example.com') FROM generate_series(1, 5) g`,
    );
    const before = await counts();
    const result = await heal('flaky_env@1.1.0');
    expect(result.status).toBe('not_pruned');
    expect(result.analysis).toMatchObject({ verdict: 'transient' });
    expect(result.analysis!.reason).toMatch(/\(timeout\) do not reproduce now: a transient fault/);
    expect(await counts()).toEqual(before);
  });
});

describe('finding the failure point', () => {
  it('bisects to the version that introduced a wrong output, prunes it, and restores the descendants that pass', async () => {
    const tests = [
      { name: 'accepts a plain address', input: 'user@example.com', expect: true },
      { name: 'rejects a missing at', input: 'user.example.com', expect: false },
    ];
    await h.store.registerMany([
      { name: 'bisected', version: '1.0.0', code: V1_CODE, tests },
      {
        name: 'bisected',
        version: '1.1.0',
        parents: ['bisected@1.0.0'],
        code: V1_CODE + '\n// 1.1',
        mutation: { type: 'refactor', description: 'comment' },
      },
      {
        name: 'bisected',
        version: '1.2.0',
        parents: ['bisected@1.1.0'],
        code: V2_CODE,
        mutation: { type: 'optimization', description: 'Optimize for speed' },
      },
      {
        name: 'bisected',
        version: '1.3.0',
        parents: ['bisected@1.2.0'],
        code: V2_CODE + '\n// 1.3',
        mutation: { type: 'refactor', description: 'comment' },
      },
      {
        name: 'bisected',
        version: '1.4.0',
        parents: ['bisected@1.3.0'],
        code: V2_CODE + '\n// 1.4',
        mutation: { type: 'refactor', description: 'comment' },
      },
      // A child of the culprit that put the regex back: tainted by the prune, then restored.
      {
        name: 'bisected',
        version: '1.2.1',
        parents: ['bisected@1.2.0'],
        code: V1_CODE + '\n// fixed',
        mutation: { type: 'bug_fix', description: 'regex back' },
      },
    ]);
    await h.store.setRoute('bisected@1.4.0', 'test');
    await report('bisected@1.4.0');
    const result = await heal('bisected@1.4.0');
    expect(result.status).toBe('healed');
    expect(result.analysis).toMatchObject({
      verdict: 'mutation',
      culpritId: 'bisected@1.2.0',
      lastGoodId: 'bisected@1.1.0',
    });
    expect(result.analysis!.bisect.length).toBeGreaterThan(0);
    expect(result.newVersionId).toBe('bisected@1.2.2'); // 1.2.1 is taken: the next free patch
    const health = Object.fromEntries(
      (
        await h.db.query<{ tool_id: string; health_status: string }>(
          `SELECT tool_id, health_status FROM tool_lineage WHERE tool_name = 'bisected'`,
        )
      ).map((r) => [r.tool_id, r.health_status]),
    );
    expect(health).toEqual({
      'bisected@1.0.0': 'healthy',
      'bisected@1.1.0': 'healthy',
      'bisected@1.2.0': 'pruned',
      'bisected@1.2.1': 'healthy', // re-validated and restored
      'bisected@1.2.2': 'regenerated',
      'bisected@1.3.0': 'degraded', // still carries the bug: fails the minted tests
      'bisected@1.4.0': 'failed',
    });
    expect(result.restored).toEqual(['bisected@1.2.1']);
    const evidence = (await h.store.getLineage('bisected@1.2.0')).pruneEvidence as {
      diff: string;
      failingInputs: { input: string }[];
      analysis: { culpritId: string };
    };
    expect(evidence.analysis.culpritId).toBe('bisected@1.2.0');
    expect(evidence.diff).toContain("+   if (input.indexOf('@') === -1) return false;");
    expect(evidence.failingInputs.map((c) => c.input)).toEqual(
      expect.arrayContaining(WRONG_RESULTS.map((w) => w.input)),
    );

    process.env.DATABASE_URL = h.db.url;
    try {
      const out = captureOutput();
      expect(await runCli(['lineage', 'bisected@1.2.0'], out)).toBe(0);
      const text = out.stdout.join('\n');
      expect(text).toContain('Prune Decision:');
      expect(text).toMatch(/Verdict: mutation \(offline analysis\); last good version bisected@1\.1\.0/);
      expect(text).toMatch(/Evidence: input "user@@domain.com" returned true, expected false/);
      const pruned = captureOutput();
      expect(await runCli(['pruned', '--json'], pruned)).toBe(0);
      expect(JSON.parse(pruned.stdout.join(''))).toContainEqual(
        expect.objectContaining({ id: 'bisected@1.2.0', replacedBy: 'bisected@1.2.2' }),
      );
      const rules = captureOutput();
      expect(await runCli(['rules'], rules)).toBe(0);
      expect(rules.stdout.join('\n')).toMatch(/Source: bisected@1\.2\.0/);
    } finally {
      delete process.env.DATABASE_URL;
    }

    // Failed programs are never reused as parents: the refusal names the healed replacement.
    const err = await h.store
      .registerVersion({
        name: 'bisected',
        version: '1.5.0',
        parents: ['bisected@1.2.0'],
        code: V1_CODE,
        mutation: { type: 'refactor', description: 'x' },
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LineageError);
    expect((err as Error).message).toMatch(
      /bisected@1\.2\.0 is PRUNED and cannot be a parent; use its healed replacement bisected@1\.2\.2/,
    );
  });
});

describe('one heal per version', () => {
  it('starts exactly one heal for 100 concurrent triggers', async () => {
    await registerEmailStory(h.store, 'crowded');
    await report('crowded@2.0.0');
    const starts = await Promise.all(
      Array.from({ length: 100 }, () =>
        startHeal(
          h.temporal.client,
          { versionId: 'crowded@2.0.0', trigger: 'report', failure: FAILURE },
          { taskQueue: h.taskQueue },
        ),
      ),
    );
    const runIds = new Set(await Promise.all(starts.map(async (s) => (await s.handle.describe()).runId)));
    expect(runIds.size).toBe(1);
    const result = await starts[0]!.handle.result();
    expect(result.status).toBe('healed');
    // A trigger after the heal ended successfully joins it instead of starting another.
    const later = await startHeal(
      h.temporal.client,
      { versionId: 'crowded@2.0.0', trigger: 'report', failure: FAILURE },
      { taskQueue: h.taskQueue },
    );
    expect(later.joined).toBe(true);
    expect((await later.handle.describe()).runId).toBe([...runIds][0]);
    expect(await h.db.query(`SELECT 1 FROM heal_runs WHERE tool_id = 'crowded@2.0.0'`)).toHaveLength(1);
    expect(
      await h.db.query(`SELECT 1 FROM tool_lineage WHERE tool_name = 'crowded' AND health_status = 'regenerated'`),
    ).toHaveLength(1);
  });
});

describe('eager start', () => {
  it("takes a heal's first workflow task from the start's answer on the worker's own connection; a second start joins it", async () => {
    await registerEmailStory(h.store, 'eager_mail');
    await report('eager_mail@2.0.0');
    // As the monitor's startHeals does: a client on the worker's own connection.
    const client = new Client({ connection: h.worker.connection });
    const input = { versionId: 'eager_mail@2.0.0', trigger: 'report' as const, failure: FAILURE };
    const first = await startHeal(client, input, { taskQueue: h.taskQueue, eager: true });
    expect(first.eagerlyStarted).toBe(true);
    const again = await startHeal(client, input, { taskQueue: h.taskQueue, eager: true });
    expect(again.eagerlyStarted).toBe(false);
    expect((await again.handle.describe()).runId).toBe((await first.handle.describe()).runId);
    expect((await first.handle.result()).status).toBe('healed');
    expect(await h.db.query(`SELECT 1 FROM heal_runs WHERE tool_id = 'eager_mail@2.0.0'`)).toHaveLength(1);
  });
});
