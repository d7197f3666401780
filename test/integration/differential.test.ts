import { afterAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { defaultConfig, type DiseConfig } from '../../src/config/schema.js';
import { emailLineage } from '../../src/demo/email-lineage.js';
import { judgeWithScope } from '../../src/judge/plans.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { ToolUnavailableError } from '../../src/runtime/errors.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { useTestStore } from '../support/database.js';
import { registerEmailStory, V1_CODE, V201_CODE } from '../support/email-story.js';

// The differential check at registration and for heal candidates, on a real database: what is
// stored, what is routed, and the runtime's sample of real inputs feeding the corpus.

const h = useTestStore();
const config = defaultConfig();
const sandbox = new Sandbox(config.sandbox);

afterAll(async () => {
  sandbox.close();
});

function validator(c: DiseConfig = config) {
  return registrationValidator({ store: h.store, sandbox, config: c });
}

describe('the differential check at registration', () => {
  it("stores the email story's 2.2.0 FAILED with its smallest differing inputs as failure records, and never routes it", async () => {
    const registered = await h.store.registerMany(emailLineage('email'), { validate: validator() });
    const health = Object.fromEntries(registered.map((r) => [r.version, r.health]));
    expect(health).toEqual({
      '1.0.0': 'healthy',
      '1.1.0': 'healthy',
      '1.0.1': 'healthy',
      '2.0.0': 'healthy',
      '2.1.0': 'healthy',
      '2.2.0': 'failed',
      '2.3.0': 'healthy',
    });

    const failures = await h.db.query<{
      failure_type: string;
      detection_method: string;
      severity: string;
      evidence: { input: unknown; output: unknown; parents: { id: string; output: unknown }[] };
    }>(
      `SELECT failure_type, detection_method, severity, evidence FROM failures WHERE tool_id = 'email@2.2.0' ORDER BY id`,
    );
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(
      failures.every(
        (f) => f.failure_type === 'regression' && f.detection_method === 'differential' && f.severity === 'critical',
      ),
    ).toBe(true);
    // `user@@domain.com` shrinks to '@': the same difference (true where the parent says false), smaller.
    expect(failures[0]!.evidence).toMatchObject({
      input: '@',
      output: { output: true, error: null },
      parents: [{ id: 'email@2.1.0', output: { output: false, error: null } }],
    });

    const [check] = await h.db.query<{
      verdict: string;
      judged_as: string;
      seed: number;
      inputs: number;
      sources: { suite: number; generated: number };
      differences: unknown[];
    }>(
      `SELECT verdict, judged_as, seed, inputs, sources, differences FROM differential_checks WHERE tool_id = 'email@2.2.0'`,
    );
    expect(check).toMatchObject({ verdict: 'refused', judged_as: 'optimization' });
    expect(check!.inputs).toBeGreaterThan(500);
    expect(check!.sources.suite).toBeGreaterThan(0);
    expect(check!.sources.generated).toBeGreaterThan(0);
    expect(check!.differences.length).toBeGreaterThan(0);

    // Never routed: it cannot be made the route, and a call naming it is refused.
    expect(await h.store.routing.routeOf('email')).toBeNull();
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url, config });
    try {
      await expect(runtime.call('email@2.2.0', 'user@@domain.com')).rejects.toBeInstanceOf(ToolUnavailableError);
    } finally {
      await runtime.close();
    }
    expect((await h.db.query(`SELECT 1 FROM executions WHERE tool_id = 'email@2.2.0'`)).length).toBe(0);
  });

  it('lists the differences of a feature_add and lets it register', async () => {
    const lineage = await h.store.getLineage('email@2.3.0');
    expect(lineage.health).toBe('healthy');
    expect(lineage.differential).toMatchObject({
      verdict: 'listed',
      judgedAs: 'feature_add',
      parents: ['email@2.1.0'],
    });
    expect(
      lineage.differential!.differences.some((d) => d.output.output === true && d.parents[0]!.output.output === false),
    ).toBe(true);
    expect(lineage.failures).toEqual([]);
  });

  it('registers and routes an optimization that keeps behaviour (a precompiled regex)', async () => {
    const precompiled = `var EMAIL = new RegExp('^[a-z0-9._%+-]+@[a-z0-9.-]+\\\\.[a-z]{2,}$', 'i');
function run(input) {
  if (input === null || input === undefined) return false;
  return EMAIL.test(String(input).trim());
}`;
    const [r] = await h.store.registerMany(
      [
        {
          name: 'email',
          version: '2.1.1',
          parents: ['email@2.1.0'],
          code: precompiled,
          mutation: { type: 'optimization', description: 'Precompile the regex' },
        },
      ],
      { validate: validator() },
    );
    expect(r).toMatchObject({ health: 'healthy', differential: { verdict: 'same', differing: 0 } });
    await h.store.setRoute('email@2.1.1', 'faster and the same');
    expect(await h.store.routing.routeOf('email')).toBe('email@2.1.1');
  });

  it('judges a version without a declared type as a refactor, with a message saying so', async () => {
    const [r] = await h.store.registerMany(
      [
        {
          name: 'email',
          version: '2.4.0',
          parents: ['email@2.1.0'],
          code: emailLineage('email').find((v) => v.version === '2.2.0')!.code,
        },
      ],
      {
        validate: validator(),
      },
    );
    expect(r!.health).toBe('failed');
    expect(r!.differential).toMatchObject({ mutationType: null, judgedAs: 'refactor', verdict: 'refused' });
    expect(r!.differential!.message).toMatch(/declares no mutation type, so it is judged as a refactor/);
  });

  it('is skipped when detection.differential is off', async () => {
    const off = defaultConfig();
    off.self_healing.detection.differential = false;
    const [r] = await h.store.registerMany(
      [
        {
          name: 'email',
          version: '2.5.0',
          parents: ['email@2.1.0'],
          code: emailLineage('email').find((v) => v.version === '2.2.0')!.code,
          mutation: { type: 'optimization', description: 'fast' },
        },
      ],
      {
        validate: validator(off),
      },
    );
    expect(r).toMatchObject({ health: 'healthy', differential: null });
  });
});

describe('the differential check for heal candidates', () => {
  it('rejects a candidate that differs from the ancestor on an input outside every test, and passes one that keeps behaviour', async () => {
    await registerEmailStory(h.store, 'story');
    const acts = createActivities({ store: h.store, config, sandbox, llm: null });
    const base = {
      healId: 'heal:story@2.0.0',
      ancestorId: 'story@1.0.0',
      failedId: 'story@2.0.0',
      culpritId: 'story@2.0.0',
      ruleIds: [],
      requireTests: true,
      strategy: 'rollback' as const,
      builtOn: 'story@1.0.0',
    };
    // Accepts a one-letter top-level domain: no test covers it.
    const loose = V1_CODE.replace('{2,}', '{1,}');
    const rejected = await acts.validateCandidate({ ...base, attempt: 1, code: loose });
    expect(rejected.ok).toBe(false);
    expect(rejected.rejections.some((r) => /^differential \(optimization\): /.test(r.message))).toBe(true);
    const accepted = await acts.validateCandidate({ ...base, attempt: 2, code: V201_CODE });
    expect(accepted, JSON.stringify(accepted.rejections)).toMatchObject({ ok: true });
  });

  it("compares nothing for a rollback (the ancestor's own code), and says so; one changed character is compared", async () => {
    await registerEmailStory(h.store, 'same');
    const scope = {
      scopeOf: 'same@1.0.0',
      baselineId: 'same@1.0.0',
      replayFrom: ['same@2.0.0'],
      parentIds: ['same@1.0.0'],
      mutationOf: 'same@2.0.0',
    };
    const deps = { store: h.store, config, sandbox };
    const rollback = await judgeWithScope(
      deps,
      'candidate',
      { id: 'rollback', code: V1_CODE, language: 'javascript' },
      scope,
    );
    expect(rollback.passed).toBe(true);
    expect(rollback.differential).toBeNull();
    expect(rollback.skipped).toContainEqual({
      check: 'differential',
      why: 'rollback is the code of same@1.0.0 itself: it answers every input as they do',
    });
    // The other checks still run on it: the suite, and regression against the ancestor.
    expect(rollback.testsRun).toBeGreaterThan(0);
    const loose = await judgeWithScope(
      deps,
      'candidate',
      { id: 'loose', code: V1_CODE.replace('{2,}', '{1,}'), language: 'javascript' },
      scope,
    );
    expect(loose.differential?.differing).toBeGreaterThan(0);
    expect(loose.skipped.map((s) => s.check)).not.toContain('differential');
  });
});

describe('recorded real inputs', () => {
  it('keeps a bounded reservoir of successful inputs per tool, which the corpus then uses', async () => {
    const c = defaultConfig();
    c.runtime.input_sampling.per_tool = 5;
    c.runtime.input_sampling.exclude_tools = ['secret'];
    await h.store.registerMany([{ name: 'secret', version: '1.0.0', code: 'function run(x) { return x; }' }]);
    await h.store.setRoute('secret@1.0.0', 'test');
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url, config: c });
    try {
      for (let i = 0; i < 50; i++) await runtime.call('email', `user${i}@example.com`);
      for (let i = 0; i < 5; i++) await runtime.call('secret', `ssn-${i}`);
      await runtime.flush();
    } finally {
      await runtime.close();
    }
    const kept = await h.db.query<{ input: string }>(`SELECT input FROM input_samples WHERE tool_name = 'email'`);
    expect(kept).toHaveLength(5);
    expect(kept.every((k) => /^user\d+@example\.com$/.test(k.input))).toBe(true);
    expect(await h.db.query(`SELECT 1 FROM input_samples WHERE tool_name = 'secret'`)).toEqual([]);

    const [r] = await h.store.registerMany(
      [
        {
          name: 'email',
          version: '2.6.0',
          parents: ['email@2.1.1'],
          code: emailLineage('email').find((v) => v.version === '2.1.0')!.code,
          mutation: { type: 'refactor', description: 'back to the literal' },
        },
      ],
      {
        validate: validator(),
      },
    );
    expect(r!.differential!.sources.recorded).toBe(5);
  });

  it('keeps nothing when sampling is off', async () => {
    const c = defaultConfig();
    c.runtime.input_sampling.enabled = false;
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url, config: c });
    try {
      expect(runtime.sampler).toBeNull();
      await runtime.call('secret', 'never-kept');
      await runtime.flush();
    } finally {
      await runtime.close();
    }
    expect(await h.db.query(`SELECT 1 FROM input_samples WHERE input::jsonb = '"never-kept"'::jsonb`)).toEqual([]);
  });
});
