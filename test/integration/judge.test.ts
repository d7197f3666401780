import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { defaultConfig } from '../../src/config/schema.js';
import { JUDGE_CHECKS } from '../../src/judge/judge.js';
import { JUDGE_PLANS, judgeStoredVersion } from '../../src/judge/plans.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { useTestStore } from '../support/database.js';
import { AT_CHECK_VALIDATOR, REGEX_VALIDATOR, version } from '../support/fixtures.js';

// One judge: registration, the ancestor search and candidate validation must reach the same verdict
// on the same code in the same place of the lineage.

const fx = useTestStore();
const config = defaultConfig();
const sandbox = new Sandbox(config.sandbox);

const VARIANTS = {
  good: `function run(input) {
  const shape = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/;
  return shape.test(String(input));
}`,
  wrong: AT_CHECK_VALIDATOR,
  unsafe: `function run(input) {
  return eval('/^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\\\.[a-zA-Z]{2,}$/').test(String(input));
}`,
  gated: `function run(input) {
  const at = String(input).split('@');
  return at.length === 2 && /^[a-zA-Z0-9._%+-]+$/.test(at[0]) && /^[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(at[1]);
}`,
} as const;

beforeAll(async () => {
  await fx.store.registerVersion(
    version('judged', '1.0.0', [], {
      code: REGEX_VALIDATOR,
      tests: [
        { name: 'rejects a double at', input: 'a@@b.co', expect: false, critical: true },
        { name: 'accepts a plain address', input: 'a@b.co', expect: true, critical: true },
      ],
    }),
  );
  // A global rule: splitting on '@' is banned everywhere.
  await fx.store.rules.create({
    ruleId: 'avoid_split_at',
    description: "Don't split addresses on '@'",
    patternToAvoid: "CallExpression[callee.property.name='split'][arguments.0.value='@']",
    patternKind: 'ast',
    reason: 'test rule',
    sourceVersionId: 'judged@1.0.0',
    scope: 'global',
  });
  const validate = registrationValidator({ store: fx.store, sandbox, config });
  await fx.store.registerMany(
    Object.entries(VARIANTS).map(([name, code], i) =>
      version('judged', `1.${i + 1}.0`, ['judged@1.0.0'], { code, description: name }),
    ),
    { validate },
  );
});
afterAll(async () => {
  sandbox.close();
});

describe('one judge', () => {
  it('gives the same verdict at registration, in the ancestor search and as a heal candidate', async () => {
    const acts = createActivities({ store: fx.store, config, sandbox, llm: null });
    const verdicts: Record<string, { registration: boolean; ancestor: boolean; candidate: boolean }> = {};
    for (const [i, name] of Object.keys(VARIANTS).entries()) {
      const id = `judged@1.${i + 1}.0`;
      const stored = (await fx.store.graph.version(id))!;
      const ancestor = await judgeStoredVersion(
        { store: fx.store, sandbox, config },
        { id, code: stored.code, language: stored.language },
      );
      const candidate = await acts.validateCandidate({
        healId: 'h',
        attempt: 1,
        code: stored.code,
        ancestorId: 'judged@1.0.0',
        failedId: id,
        culpritId: id,
        ruleIds: [],
        requireTests: true,
        strategy: 'rollback',
        builtOn: 'judged@1.0.0',
      });
      verdicts[name] = {
        registration: stored.health === 'healthy',
        ancestor: ancestor.passed,
        candidate: candidate.ok,
      };
    }
    expect(verdicts).toEqual({
      good: { registration: true, ancestor: true, candidate: true },
      wrong: { registration: false, ancestor: false, candidate: false },
      unsafe: { registration: false, ancestor: false, candidate: false },
      gated: { registration: false, ancestor: false, candidate: false },
    });
  });

  it('names why each stored failure happened, with the same check in every caller', async () => {
    const acts = createActivities({ store: fx.store, config, sandbox, llm: null });
    const expected = { 'judged@1.2.0': 'test', 'judged@1.3.0': 'static', 'judged@1.4.0': 'gate' } as const;
    for (const [id, kind] of Object.entries(expected)) {
      const stored = (await fx.store.graph.version(id))!;
      const candidate = await acts.validateCandidate({
        healId: 'h',
        attempt: 1,
        code: stored.code,
        ancestorId: 'judged@1.0.0',
        failedId: id,
        culpritId: id,
        ruleIds: [],
        requireTests: true,
        strategy: 'rollback',
        builtOn: 'judged@1.0.0',
      });
      expect(candidate.rejections.map((r) => r.kind)).toContain(kind);
      const ancestor = await judgeStoredVersion(
        { store: fx.store, sandbox, config },
        { id, code: stored.code, language: stored.language },
      );
      const failures = (await fx.store.failures.recentEvidence([id], 10, 0))[0]!.failures.map((f) => f.detectionMethod);
      const method = { test: 'test', static: 'static_analysis', gate: 'rule_gate' }[kind];
      expect(ancestor.failures.map((f) => f.detectionMethod)).toContain(method);
      expect(failures).toContain(method);
    }
  });

  it('says which checks each caller skips, and why', async () => {
    for (const [purpose, skips] of Object.entries(JUDGE_PLANS)) {
      for (const [check, why] of Object.entries(skips)) {
        expect(JUDGE_CHECKS, purpose).toContain(check);
        expect(why.length, `${purpose}.${check}`).toBeGreaterThan(10);
      }
    }
    const stored = (await fx.store.graph.version('judged@1.1.0'))!;
    const verdict = await judgeStoredVersion(
      { store: fx.store, sandbox, config },
      { id: stored.id, code: stored.code, language: stored.language },
    );
    expect(verdict.skipped.map((s) => s.check).sort()).toEqual(['differential', 'regression', 'replay']);
  });
});
