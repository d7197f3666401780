import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { startHeal } from '../../src/client/start-heal.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { registerEmailStory, V1_CODE, WRONG_RESULTS } from '../support/email-story.js';
import { captureOutput } from '../support/output.js';
import { useHealStack } from '../support/heal-stack.js';
import { healInput } from '../support/failures.js';

const h = useHealStack('heal');

describe('the email-validator story, offline (tool story_mail: the heal ids of one Temporal server are shared by every test file)', () => {
  it('prunes v2.0.0, learns a rule, mints tests, regenerates v2.0.1 from v1.0.0 and routes to it', async () => {
    await registerEmailStory(h.store, 'story_mail');
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    for (const w of WRONG_RESULTS) {
      expect(await runtime.call('story_mail', w.input)).toBe(true); // wrong, as in the story
      await runtime.report('story_mail@2.0.0', w);
    }
    await runtime.close();

    const { handle } = await startHeal(
      h.temporal.client,
      healInput('story_mail_v2.0.0', {
        description: 'Email validation too permissive, accepts invalid emails',
        detectionMethod: 'runtime',
      }),
      { taskQueue: h.taskQueue },
    );
    const result = await handle.result();
    expect(result.status).toBe('healed');
    expect(result.newVersionId).toBe('story_mail@2.0.1');
    expect(result.analysis).toMatchObject({
      verdict: 'mutation',
      culpritId: 'story_mail@2.0.0',
      lastGoodId: 'story_mail@1.0.0',
      source: 'offline',
    });
    expect(result.attempts).toEqual([{ attempt: 1, strategy: 'rollback', ok: true, rejections: [] }]);

    // The story's facts, from the database.
    const v2 = await h.store.getLineage('story_mail@2.0.0');
    expect(v2.health).toBe('pruned');
    expect(v2.prunedAt).not.toBeNull();
    expect(v2.regeneratedAs).toEqual(['story_mail@2.0.1']);
    expect(v2.avoidanceRules).toHaveLength(1);
    const rule = v2.avoidanceRules[0]!;
    expect(rule).toMatchObject({
      patternKind: 'ast',
      patternToAvoid: 'CallExpression[callee.property.name="indexOf"]',
      propagationScope: 'descendants',
      sourceFailure: 'story_mail@2.0.0',
    });

    const healed = await h.store.getLineage('story_mail@2.0.1');
    expect(healed).toMatchObject({
      health: 'regenerated',
      regeneratedFrom: 'story_mail@1.0.0',
      parents: ['story_mail@1.0.0'],
      code: V1_CODE,
    });
    expect(healed.inheritedRules).toContain(rule.ruleId);
    expect(healed.route).toEqual({ routed: true, toolRoutedTo: 'story_mail@2.0.1' });
    expect(healed.mutations[0]!.description).toMatch(/Rollback of story_mail@2\.0\.0 to story_mail@1\.0\.0/);

    const minted = await h.db.query<{
      tool_id: string;
      input: unknown;
      expected: unknown;
      origin: string;
      source_failure_id: number | null;
    }>(
      `SELECT tool_id, input, expected, origin, source_failure_id FROM test_cases WHERE origin = 'minted' ORDER BY id`,
    );
    expect(minted.map((m) => [m.tool_id, m.input, m.expected])).toEqual(
      expect.arrayContaining(WRONG_RESULTS.map((w) => ['story_mail@1.0.0', w.input, false])),
    );
    expect(minted.every((m) => m.source_failure_id !== null)).toBe(true);
    // The minted tests now belong to every descendant of v1.0.0's suite, the healed version's included.
    expect((await h.store.suiteFor('story_mail@2.0.1')).filter((t) => t.origin === 'minted')).toHaveLength(
      minted.length,
    );

    const [run] = await h.db.query<{ status: string; workflow_id: string }>(
      `SELECT status, workflow_id FROM heal_runs`,
    );
    expect(run).toEqual({ status: 'healed', workflow_id: 'heal:story_mail@2.0.0' });

    // Callers now get the right answer.
    const after = await ToolRuntime.create({ databaseUrl: h.db.url });
    expect(await after.callDetailed('story_mail', 'user@@domain.com')).toMatchObject({
      output: false,
      versionId: 'story_mail@2.0.1',
    });
    await after.close();

    // And the lineage view tells the story.
    process.env.DATABASE_URL = h.db.url;
    const out = captureOutput();
    expect(await runCli(['lineage', 'story_mail@2.0.0'], out)).toBe(0);
    delete process.env.DATABASE_URL;
    const text = out.stdout.join('\n');
    expect(text).toMatch(/Status: ❌ PRUNED/);
    expect(text).toMatch(/Optimization: Optimize for speed/);
    expect(text).toContain(rule.ruleId);
    expect(text).toMatch(/Auto-regenerated as story_mail@2\.0\.1/);
  });
});
