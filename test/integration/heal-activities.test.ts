import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { defaultConfig } from '../../src/config/schema.js';
import { gatherFailingCasesOf } from '../../src/healing/failing-cases.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import type { FailureAnalysis } from '../../src/shared/heal-types.js';
import { useTestStore } from '../support/database.js';
import { V1_CODE, V2_CODE } from '../support/email-story.js';

// Activities called directly (their behaviour, not the orchestration): rule propagation by scope and
// minting tests from a wrong result reported without the correct value.

const h = useTestStore();
const config = defaultConfig();
const sandbox = new Sandbox(config.sandbox);
let acts: ReturnType<typeof createActivities>;

const analysis = (scope: FailureAnalysis['scope']): FailureAnalysis => ({
  recoverable: true,
  verdict: 'mutation',
  reason: 'r',
  culpritId: 'mail@1.1.0',
  culpritParentId: 'mail@1.0.0',
  lastGoodId: 'mail@1.0.0',
  reproduced: true,
  bisect: [],
  problematicPattern: 'CallExpression[callee.property.name="indexOf"]',
  patternKind: 'ast',
  ruleDescription: 'no bare indexOf checks',
  scope,
  source: 'offline',
  failingCases: 1,
});

beforeAll(async () => {
  acts = createActivities({ store: h.store, config, sandbox, llm: null });
  const fn = (body: string) => `function run(input) { ${body} }`;
  await h.store.registerMany([
    { name: 'mail', version: '1.0.0', description: 'Validate an email address', code: V1_CODE },
    {
      name: 'mail',
      version: '1.1.0',
      parents: ['mail@1.0.0'],
      description: 'Validate an email address',
      code: V2_CODE,
      mutation: { type: 'optimization', description: 'fast' },
    },
    {
      name: 'mail',
      version: '1.2.0',
      parents: ['mail@1.1.0'],
      description: 'Validate an email address',
      code: V2_CODE + '\n//',
      mutation: { type: 'refactor', description: 'x' },
    },
    {
      name: 'mail',
      version: '1.0.1',
      parents: ['mail@1.0.0'],
      description: 'Validate an email address',
      code: V1_CODE + '\n//',
      mutation: { type: 'refactor', description: 'x' },
    },
    // Another tool much like mail (similar description and code), and one unlike it.
    {
      name: 'email_check',
      version: '1.0.0',
      description: 'Validate an email address quickly',
      code: V1_CODE.replace('input', 'value').replace('input', 'value'),
    },
    { name: 'adder', version: '1.0.0', description: 'Add two numbers', code: fn('return input.a + input.b;') },
  ]);
});
afterAll(async () => {
  sandbox.close();
});

async function holders(ruleId: string): Promise<string[]> {
  return (
    await h.db.query<{ tool_id: string }>(`SELECT tool_id FROM rule_inheritance WHERE rule_id = $1 ORDER BY tool_id`, [
      ruleId,
    ])
  ).map((r) => r.tool_id);
}

describe('rule propagation by scope', () => {
  it('descendants: the source and everything below it, nothing beside it', async () => {
    const rule = await acts.createAvoidanceRule({
      healId: 'heal-desc',
      sourceVersionId: 'mail@1.1.0',
      failureId: 0,
      analysis: analysis('descendants'),
    });
    const result = await acts.propagateRule({ ruleId: rule.ruleId });
    expect(await holders(rule.ruleId)).toEqual(['mail@1.1.0', 'mail@1.2.0']);
    expect(result.reached).toBe(1);
  });

  it('all_similar: also every version of tools whose description and code are similar', async () => {
    const rule = await acts.createAvoidanceRule({
      healId: 'heal-similar',
      sourceVersionId: 'mail@1.1.0',
      failureId: 0,
      analysis: analysis('all_similar'),
    });
    const result = await acts.propagateRule({ ruleId: rule.ruleId });
    expect(result.similarTools).toEqual(['email_check']);
    expect(await holders(rule.ruleId)).toEqual(['email_check@1.0.0', 'mail@1.1.0', 'mail@1.2.0']);
  });

  it('global: every version, and every version registered later', async () => {
    const rule = await acts.createAvoidanceRule({
      healId: 'heal-global',
      sourceVersionId: 'mail@1.1.0',
      failureId: 0,
      analysis: analysis('global'),
    });
    await acts.propagateRule({ ruleId: rule.ruleId });
    const all = (await h.db.query<{ tool_id: string }>(`SELECT tool_id FROM tool_lineage ORDER BY tool_id`)).map(
      (r) => r.tool_id,
    );
    expect(await holders(rule.ruleId)).toEqual(all);
    const later = await h.store.registerVersion({
      name: 'later',
      version: '1.0.0',
      code: 'function run(x) { return x; }',
    });
    expect(later.inheritedRules).toContain(rule.ruleId);
  });

  it('is idempotent: propagating twice writes nothing new', async () => {
    const rule = await acts.createAvoidanceRule({
      healId: 'heal-desc',
      sourceVersionId: 'mail@1.1.0',
      failureId: 0,
      analysis: analysis('descendants'),
    });
    const before = await holders(rule.ruleId);
    await acts.propagateRule({ ruleId: rule.ruleId });
    expect(await holders(rule.ruleId)).toEqual(before);
  });
});

describe('minting failures into tests', () => {
  it("expects the healthy ancestor's own output when no correct value was reported", async () => {
    const [failure] = await h.db.query<{ id: number }>(
      `INSERT INTO failures (tool_id, failure_type, description, detection_method, severity, evidence)
       VALUES ('mail@1.2.0', 'wrong_output', 'accepts a double at', 'report', 'high', '{"input": "a@@b.co", "observed": true}') RETURNING id`,
    );
    const result = await acts.findHealthyAncestor({
      healId: 'heal-mint',
      failedId: 'mail@1.2.0',
      culpritId: 'mail@1.1.0',
      failureId: failure!.id,
    });
    expect(result.ancestorId).toBe('mail@1.0.0');
    expect(result.tried[0]).toEqual({ id: 'mail@1.0.0', passed: true, why: null });
    const [minted] = await h.db.query<{
      tool_id: string;
      input: unknown;
      expected: unknown;
      origin: string;
      source_failure_id: number;
    }>(`SELECT tool_id, input, expected, origin, source_failure_id FROM test_cases WHERE origin = 'minted'`);
    expect(minted).toEqual({
      tool_id: 'mail@1.0.0',
      input: 'a@@b.co',
      expected: false,
      origin: 'minted',
      source_failure_id: failure!.id,
    });
    // Minting again (a retried step) adds nothing.
    await acts.findHealthyAncestor({
      healId: 'heal-mint',
      failedId: 'mail@1.2.0',
      culpritId: 'mail@1.1.0',
      failureId: failure!.id,
    });
    expect(await h.db.query(`SELECT 1 FROM test_cases WHERE origin = 'minted'`)).toHaveLength(1);
    // Every descendant of the ancestor now carries it: the buggy line fails it, the sibling passes.
    expect((await h.store.suiteFor('mail@1.0.1')).map((t) => t.origin)).toContain('minted');
  });
});

describe('promote', () => {
  it('gives sibling heals promoted at the same moment distinct patch numbers, none failing', async () => {
    // Five broken siblings 3.0.0 … 3.0.4: each heal's "next free patch" is 3.0.5 when they all look
    // at once, so all but one lose the race for it and must take the next.
    const siblings = [0, 1, 2, 3, 4].map((p) => ({ name: 'race', version: `3.0.${p}`, code: V1_CODE + `\n// ${p}` }));
    await h.store.registerMany(siblings);
    await h.db.query(
      `INSERT INTO heal_runs (id, workflow_id, tool_id, status) SELECT 'heal-race-' || p, 'heal:race@3.0.' || p, 'race@3.0.' || p, 'running' FROM generate_series(0, 4) p`,
    );
    const progress = {} as Parameters<typeof acts.promote>[0]['progress'];
    const results = await Promise.all(
      [0, 1, 2, 3, 4].map((p) =>
        acts.promote({
          healId: `heal-race-${p}`,
          failedId: `race@3.0.${p}`,
          culpritId: `race@3.0.${p}`,
          ancestorId: `race@3.0.${p}`,
          builtOn: `race@3.0.${p}`,
          setAside: [],
          code: V1_CODE,
          strategy: 'rollback',
          notes: '',
          ruleIds: [],
          progress,
        }),
      ),
    );
    const made = results.map((r) => r.newVersionId).sort();
    expect(made).toEqual(['race@3.0.5', 'race@3.0.6', 'race@3.0.7', 'race@3.0.8', 'race@3.0.9']);
    const runs = await h.db.query<{ status: string }>(`SELECT status FROM heal_runs WHERE id LIKE 'heal-race-%'`);
    expect(runs.map((r) => r.status)).toEqual(['healed', 'healed', 'healed', 'healed', 'healed']);
    // A retried promote of the same heal finds its version instead of taking another number.
    const again = await acts.promote({
      healId: 'heal-race-0',
      failedId: 'race@3.0.0',
      culpritId: 'race@3.0.0',
      ancestorId: 'race@3.0.0',
      builtOn: 'race@3.0.0',
      setAside: [],
      code: V1_CODE,
      strategy: 'rollback',
      notes: '',
      ruleIds: [],
      progress,
    });
    expect(made).toContain(again.newVersionId);
  });
});

describe('promote, retried', () => {
  const code = (n: number) => `function run(input) { return input.a + input.b; }\n// ${n}`;
  const line = (name: string, versions: number) =>
    h.store.registerMany(
      Array.from({ length: versions }, (_, i) => ({
        name,
        version: `1.${i}.0`,
        code: code(i),
        ...(i ? { parents: [`${name}@1.${i - 1}.0`], mutation: { type: 'refactor' as const, description: 'x' } } : {}),
      })),
    );
  const openRun = (healId: string, versionId: string) =>
    h.db.query(`INSERT INTO heal_runs (id, workflow_id, tool_id, status) VALUES ($1, $1, $2, 'running')`, [
      healId,
      versionId,
    ]);
  const rollback = (name: string, failed: string, progress: object) => ({
    healId: `heal-${name}`,
    failedId: failed,
    culpritId: `${name}@1.1.0`,
    ancestorId: `${name}@1.0.0`,
    builtOn: `${name}@1.0.0`,
    setAside: [],
    code: code(0),
    strategy: 'rollback' as const,
    notes: '',
    ruleIds: [],
    progress: progress as Parameters<typeof acts.promote>[0]['progress'],
  });

  it('re-validates the descendants a retried prune left degraded, though that prune reports tainting none', async () => {
    // 1.0.0 → 1.1.0 (culprit) → 1.2.0 → 1.3.0 (failed): the prune taints 1.2.0.
    await line('retaint', 4);
    await openRun('heal-retaint', 'retaint@1.3.0');
    const prune = {
      healId: 'heal-retaint',
      failedId: 'retaint@1.3.0',
      failureId: 0,
      analysis: { ...analysis('descendants'), culpritId: 'retaint@1.1.0', lastGoodId: 'retaint@1.0.0' },
      taintDescendants: true,
    };
    expect((await acts.pruneBranch(prune)).tainted).toEqual(['retaint@1.2.0']);
    const retried = await acts.pruneBranch(prune); // the step ran again after its commit
    expect(retried.taintedCount).toBe(0);
    const result = await acts.promote(rollback('retaint', 'retaint@1.3.0', { prune: retried }));
    expect(result.restored).toEqual(['retaint@1.2.0']);
    expect((await h.store.getLineage('retaint@1.2.0')).health).toBe('healthy');
  });

  it('finds the version an earlier attempt promoted, though its ancestor was pruned since', async () => {
    await line('repromote', 2);
    await openRun('heal-repromote', 'repromote@1.1.0');
    const input = rollback('repromote', 'repromote@1.1.0', {});
    const first = await acts.promote(input);
    // Another heal prunes the ancestor the candidate was built on before this step's retry.
    await h.db.query(`UPDATE tool_lineage SET health_status = 'pruned' WHERE tool_id = 'repromote@1.0.0'`);
    expect((await acts.promote(input)).newVersionId).toBe(first.newVersionId);
  });
});

describe("a heal's failing cases", () => {
  it('reads several versions at once: the focus failure first, failed calls as the caller sent them, nothing for a clean one', async () => {
    await h.store.registerMany([
      { name: 'cases', version: '1.0.0', code: V1_CODE },
      { name: 'cases', version: '1.1.0', parents: ['cases@1.0.0'], code: V2_CODE },
    ]);
    const report = (input: string, expected: boolean) => ({
      failureType: 'wrong_output',
      description: `wrong on ${input}`,
      detectionMethod: 'runtime',
      severity: 'high' as const,
      evidence: { input, observed: !expected, expected },
    });
    const {
      ids: [focus],
    } = await h.store.failures.record('cases@1.1.0', [report('a@@b.co', false)]);
    await h.store.failures.record('cases@1.1.0', [report('@b.co', false)]); // newer, not the focus
    await h.db.query(
      `INSERT INTO executions (tool_id, ok, error_type, duration_ms, input_hash, input)
       VALUES ('cases@1.1.0', false, 'TypeError', 1, 'h1', '{"b":1,"a":2}'::json)`,
    );

    const [failed, clean] = await gatherFailingCasesOf(h.store, [
      { versionId: 'cases@1.1.0', focusFailureId: focus! },
      { versionId: 'cases@1.0.0', focusFailureId: null },
    ]);
    expect(failed!.map((c) => [c.source, c.input])).toEqual([
      ['report', 'a@@b.co'],
      ['report', '@b.co'],
      ['execution', { b: 1, a: 2 }],
    ]);
    expect(Object.keys(failed![2]!.input as object)).toEqual(['b', 'a']);
    expect(failed![2]).toMatchObject({ errorType: 'TypeError', failureId: focus });
    expect(clean).toEqual([]);
  });
});
