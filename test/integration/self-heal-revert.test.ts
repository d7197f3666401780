import { describe, expect, inject, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { startHeal } from '../../src/client/start-heal.js';
import { checkRuleGates } from '../../src/detection/static-analysis.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import type { HealFailureInput } from '../../src/shared/heal-types.js';
import { useHealStack } from '../support/heal-stack.js';
import { lineageViolations } from '../support/invariants.js';
import { captureOutput } from '../support/output.js';
import { LONG_TITLE, registerSlugStory, SLUG_V11, SLUG_V12, SLUG_WRONG, slugStory } from '../support/slug-story.js';
import { healFailure } from '../support/failures.js';

// A heal that keeps the good work: the bug is at 1.2.0, 1.3.0 adds a feature with its own critical
// test, and callers report a wrong answer on 1.3.0.

const h = useHealStack('heal-revert');
const FAILURE: HealFailureInput = healFailure({ failureType: 'wrong_output', description: 'digits are dropped' });

async function report(versionId: string, wrong = SLUG_WRONG) {
  const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
  for (const w of wrong) await runtime.report(versionId, w);
  await runtime.close();
}

async function heal(versionId: string, failure = FAILURE) {
  const { handle } = await startHeal(
    h.temporal.client,
    { versionId, trigger: 'report', failure },
    { taskQueue: h.taskQueue },
  );
  return handle.result();
}

/** `dise` in this process, against this file's database. */
async function cli(argv: string[]) {
  const out = captureOutput();
  process.env.DATABASE_URL = h.db.url;
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
  try {
    const code = await runCli(argv, out);
    return { code, text: out.stdout.join('\n') };
  } finally {
    delete process.env.DATABASE_URL;
    delete process.env.TEMPORAL_ADDRESS;
  }
}

async function callRouted(name: string, input: string): Promise<unknown> {
  const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
  try {
    return await runtime.call(name, input);
  } finally {
    await runtime.close();
  }
}

describe('a revert heal', () => {
  it('undoes the culprit and keeps the later feature: the route fixes the reported input and still caps long titles', async () => {
    await registerSlugStory(h.store, 'slug');
    await report('slug@1.3.0');
    const result = await heal('slug@1.3.0');

    expect(result).toMatchObject({
      status: 'healed',
      strategy: 'revert',
      newVersionId: 'slug@1.3.1',
      features: { kept: 1, total: 1, lost: [] },
      setAside: [],
    });
    expect(result.analysis).toMatchObject({ culpritId: 'slug@1.2.0', culpritParentId: 'slug@1.1.0', reproduced: true });
    expect(result.attempts).toEqual([{ attempt: 1, strategy: 'revert', ok: true, rejections: [] }]);
    // The route answers the reported input right and keeps 1.3.0's feature.
    expect(await callRouted('slug', 'Top 10 Tips')).toBe('top-10-tips');
    expect(await callRouted('slug', LONG_TITLE)).toBe('a-very-long-title-that-goes-on-and-on-ab');
    // 1.3.0's own test applies to the new version and passes.
    const suite = await h.store.suiteFor('slug@1.3.1');
    expect(suite.map((t) => t.name)).toContain('caps long titles at 40 characters');

    const l = await h.store.getLineage('slug@1.3.1');
    expect(l).toMatchObject({
      health: 'regenerated',
      parents: ['slug@1.3.0'],
      regeneratedFrom: 'slug@1.3.0',
      reverts: 'slug@1.2.0',
      route: { routed: true },
    });
    expect(l.healedBy).toMatchObject({ strategy: 'revert', features: { kept: 1, total: 1 } });
    expect((await h.store.getLineage('slug@1.2.0')).revertedBy).toEqual(['slug@1.3.1']);
    expect(await lineageViolations(h.db, 'slug')).toEqual([]);

    // The rule generalises (an AST selector on the narrowed regex) and never forbids the fix.
    const [rule] = (await h.store.getLineage('slug@1.2.0')).avoidanceRules;
    expect(rule).toMatchObject({
      patternKind: 'ast',
      patternToAvoid: 'Literal[regex.pattern="[^a-z]+"][regex.flags="g"]',
    });
    expect(rule!.description).toMatch(
      /^Keep the regex `\/\[\^a-z0-9\]\+\/g`; changing it to `\/\[\^a-z\]\+\/g` made slug@1\.2\.0 fail/,
    );
    expect(checkRuleGates(l.code, [rule!])).toEqual([]);
    expect(checkRuleGates(SLUG_V12, [rule!])).toHaveLength(1);
    expect(checkRuleGates(SLUG_V11, [rule!])).toEqual([]);
  });

  it('reads as a revert in the text view and the pictures, with the features it kept', async () => {
    const { code, text } = await cli(['lineage', 'slug@1.3.1']);
    expect(code).toBe(0);
    expect(text).toContain("Revert: undoes slug@1.2.0's change on top of slug@1.3.0, keeping what came after it");
    expect(text).toContain('Features kept: 1/1');
    const status = await cli(['heal-status', 'slug@1.3.0']);
    expect(status.text).toContain('New version: slug@1.3.1 (routed), by revert');
    expect(status.text).toContain('Features kept: 1/1');
    expect((await cli(['lineage', 'slug@1.3.1', '--format', 'mermaid'])).text).toContain(
      'slug_1_2_0 -.-> |reverted| slug_1_3_1',
    );
    const l = JSON.parse((await cli(['lineage', 'slug@1.3.1', '--json'])).text) as {
      ancestors: { id: string; parents: { id: string; type: string }[] }[];
      reverts: string;
    };
    expect(l.reverts).toBe('slug@1.2.0');
    expect(l.ancestors.map((a) => a.id)).toEqual(['slug@1.0.0', 'slug@1.1.0', 'slug@1.2.0', 'slug@1.3.0']);
    expect(l.ancestors[3]!.parents).toEqual([{ id: 'slug@1.2.0', type: 'direct' }]);
  });

  it('sets aside the culprit tests that encode the bug, names them, and keeps them for the culprit itself', async () => {
    await registerSlugStory(h.store, 'slug_aside', { culpritTest: true });
    await report('slug_aside@1.3.0');
    const result = await heal('slug_aside@1.3.0');
    expect(result).toMatchObject({
      status: 'healed',
      strategy: 'revert',
      newVersionId: 'slug_aside@1.3.1',
      features: { kept: 1, total: 1 },
    });
    expect(result.setAside).toEqual([
      { testId: expect.any(Number), name: 'drops digits (as designed)', introducedBy: 'slug_aside@1.2.0' },
    ]);
    expect((await h.store.suiteFor('slug_aside@1.3.1')).map((t) => t.name)).not.toContain('drops digits (as designed)');
    expect((await h.store.suiteFor('slug_aside@1.2.0')).map((t) => t.name)).toContain('drops digits (as designed)');
    expect((await cli(['lineage', 'slug_aside@1.3.1'])).text).toContain(
      'Set aside: "drops digits (as designed)" (introduced by slug_aside@1.2.0; it encodes the bug)',
    );
    expect(await lineageViolations(h.db, 'slug_aside')).toEqual([]);
  });

  it('falls back to rollback when the revert conflicts, recording both and the feature lost', async () => {
    const [v1, v11, v12, v13] = slugStory('slug_conflict');
    // 1.3.0 changes the very regex 1.2.0 changed: no merge can separate the two.
    const conflicting = {
      ...v13!,
      code: SLUG_V12.replace('/[^a-z]+/g', "/[^a-z']+/g"),
      tests: [{ name: 'keeps apostrophes', input: "Don't Stop", expect: "don't-stop", critical: true }],
      mutation: { type: 'feature_add' as const, description: 'Keep apostrophes' },
    };
    await h.store.registerMany([v1!, v11!, v12!, conflicting]);
    await h.store.setRoute('slug_conflict@1.3.0', 'newest');
    await report('slug_conflict@1.3.0');
    const result = await heal('slug_conflict@1.3.0');
    expect(result).toMatchObject({
      status: 'healed',
      strategy: 'rollback',
      newVersionId: 'slug_conflict@1.2.1',
      features: { kept: 0, total: 1, lost: ['keeps apostrophes'] },
    });
    expect(result.attempts.map((a) => [a.strategy, a.ok, a.rejections.map((r) => r.kind)])).toEqual([
      ['revert', false, ['conflict']],
      ['rollback', true, []],
    ]);
    expect(await callRouted('slug_conflict', 'Top 10 Tips')).toBe('top-10-tips');
    expect((await h.store.getLineage('slug_conflict@1.2.1')).healedBy).toMatchObject({
      strategy: 'rollback',
      features: { kept: 0, total: 1 },
    });
    expect(await lineageViolations(h.db, 'slug_conflict')).toEqual([]);
  });

  it('learns no gate from a report without a failing input, though it still prunes and records', async () => {
    await h.store.registerMany(slugStory('slug_blind'));
    await h.store.setRoute('slug_blind@1.3.0', 'newest');
    const result = await heal(
      'slug_blind@1.3.0',
      healFailure({ failureType: 'manual', description: 'an operator says it is wrong', detectionMethod: 'manual' }),
    );
    expect(result.prune?.prunedId).toBe('slug_blind@1.3.0');
    expect(result.analysis).toMatchObject({ reproduced: false, patternKind: 'semantic' });
    const [rule] = (await h.store.getLineage('slug_blind@1.3.0')).avoidanceRules;
    expect(rule).toMatchObject({ patternKind: 'semantic', patternToAvoid: '' });
    expect(rule!.description).toMatch(/no failing input to reproduce it; nothing is learned as a gate/);
  });
});
