import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { startHeal } from '../../src/client/start-heal.js';
import { defaultConfig } from '../../src/config/schema.js';
import { checkRuleGates } from '../../src/detection/static-analysis.js';
import { pythonEmailLineage, pythonSlugLineage, PY_SLUG_V11, PY_SLUG_V12 } from '../../src/demo/python-lineages.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { warmPython } from '../../src/sandbox/python.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import type { HealFailureInput } from '../../src/shared/heal-types.js';
import { useHealStack } from '../support/heal-stack.js';
import { startCanary } from '../../src/client/start-canary.js';
import { canaryWorkflowId } from '../../src/shared/constants.js';
import { captureOutput } from '../support/output.js';

// Python tools through the whole system: registration (parse, static analysis, the differential
// check), the runtime, a report, the heal (bisect, offline analysis over Python's tokens, the revert
// merge on Python source) and the healed route. Tool names are unique on the shared Temporal server.

/** Canaries judged quickly: every call mirrored, 60 agreeing calls suffice, a check every second. */
function fastCanaries() {
  const c = defaultConfig();
  c.deployment.canary = {
    ...c.deployment.canary,
    mirror_fraction: 1,
    min_calls: 60,
    check_interval_seconds: 1,
    max_duration_seconds: 300,
  };
  return c;
}
const config = fastCanaries();
const h = useHealStack('python-tools', { config });

async function report(versionId: string, wrong: { input: unknown; observed: unknown; expected: unknown }[]) {
  const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
  for (const w of wrong) await runtime.report(versionId, w as never);
  await runtime.close();
}

async function heal(versionId: string, failure: HealFailureInput) {
  const { handle } = await startHeal(
    h.temporal.client,
    { versionId, trigger: 'report', failure },
    { taskQueue: h.taskQueue },
  );
  return handle.result();
}

async function lineageText(id: string): Promise<string> {
  const out = captureOutput();
  process.env.DATABASE_URL = h.db.url;
  try {
    expect(await runCli(['lineage', id], out)).toBe(0);
  } finally {
    delete process.env.DATABASE_URL;
  }
  return out.stdout.join('\n');
}

describe('the email-validator story in Python, offline', () => {
  it('refuses the speed optimization at registration, heals the feature_add callers catch, and the healed route answers right', async () => {
    await warmPython();
    const name = 'py_mail';
    const sandbox = new Sandbox(config.sandbox);
    const registered = await h.store.registerMany(pythonEmailLineage(name), {
      validate: registrationValidator({ store: h.store, sandbox, config }),
    });
    sandbox.close();

    // Registration: every child kept the root's language; the optimization was refused beside its parent.
    expect(registered.map((r) => [r.id, r.language, r.health])).toEqual([
      [`${name}@1.0.0`, 'python', 'healthy'],
      [`${name}@1.1.0`, 'python', 'healthy'],
      [`${name}@1.0.1`, 'python', 'healthy'],
      [`${name}@2.0.0`, 'python', 'healthy'],
      [`${name}@2.1.0`, 'python', 'healthy'],
      [`${name}@2.2.0`, 'python', 'failed'],
      [`${name}@2.3.0`, 'python', 'healthy'],
    ]);
    const refused = registered.find((r) => r.id === `${name}@2.2.0`)!;
    expect(refused.differential).toMatchObject({ verdict: 'refused', judgedAs: 'optimization' });
    expect(refused.differential!.differences.length).toBeGreaterThan(0);
    const allowed = registered.find((r) => r.id === `${name}@2.3.0`)!;
    expect(allowed.differential).toMatchObject({ verdict: 'listed' });

    // Callers on 2.3.0 get wrong answers and report them.
    await h.store.setRoute(`${name}@2.3.0`, 'newest passing version');
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    const wrong = [];
    for (const input of ['user@@domain.com', 'first@@company.org', 'dev@@sub.domain.io']) {
      const { output, versionId } = await runtime.callDetailed(name, input);
      expect({ output, versionId }).toEqual({ output: true, versionId: `${name}@2.3.0` });
      wrong.push({ input, observed: output, expected: false });
    }
    expect(await runtime.call(name, 'user@example.com')).toBe(true);
    await runtime.close();
    await report(`${name}@2.3.0`, wrong);

    const result = await heal(`${name}@2.3.0`, {
      failureType: 'wrong_output',
      description: "Accepted 'user@@domain.com'",
      severity: 'high',
      detectionMethod: 'report',
    });
    expect(result).toMatchObject({ status: 'healed', newVersionId: `${name}@2.3.1` });
    expect(result.analysis).toMatchObject({
      verdict: 'mutation',
      culpritId: `${name}@2.3.0`,
      lastGoodId: `${name}@2.1.0`,
      source: 'offline',
      reproduced: true,
    });

    // The rule was learned from Python's tokens: it matches the culprit and not the healed code.
    const culprit = await h.store.getLineage(`${name}@2.3.0`);
    expect(culprit.health).toBe('pruned');
    const rule = culprit.avoidanceRules[0]!;
    expect(rule.patternKind).toBe('tokens');
    const gate = {
      ruleId: rule.ruleId,
      description: rule.description,
      patternToAvoid: rule.patternToAvoid,
      patternKind: rule.patternKind,
    };
    expect(checkRuleGates(culprit.code, [gate], 'python')).toHaveLength(1);
    const healed = await h.store.getLineage(`${name}@2.3.1`);
    expect(healed).toMatchObject({ language: 'python', health: 'regenerated' });
    expect(checkRuleGates(healed.code, [gate], 'python')).toEqual([]);
    // A rename and a reformat of the culprit's change do not slip past the rule.
    const renamed = culprit.code.replace(/EMAIL/g, 'PATTERN').replace('re.compile(', 're.compile(  ');
    expect(checkRuleGates(renamed, [gate], 'python')).toHaveLength(1);

    // The healed route answers right.
    const after = await ToolRuntime.create({ databaseUrl: h.db.url });
    expect(await after.callDetailed(name, 'user@@domain.com')).toMatchObject({
      output: false,
      versionId: `${name}@2.3.1`,
    });
    expect(await after.call(name, 'user@example.com')).toBe(true);
    await after.close();

    expect(await lineageText(`${name}@2.3.1`)).toMatch(/Language: python/);
  });
});

describe('a revert heal on Python source', () => {
  it('undoes the culprit and keeps the later feature: digits come back, long titles stay capped', async () => {
    await warmPython();
    const name = 'py_slug';
    await h.store.registerMany(pythonSlugLineage(name));
    await h.store.setRoute(`${name}@1.3.0`, 'newest');
    await report(`${name}@1.3.0`, [{ input: 'Top 10 Tips', observed: 'top-tips', expected: 'top-10-tips' }]);
    const result = await heal(`${name}@1.3.0`, {
      failureType: 'wrong_output',
      description: 'digits are dropped',
      severity: 'critical',
      detectionMethod: 'report',
    });

    expect(result).toMatchObject({
      status: 'healed',
      strategy: 'revert',
      newVersionId: `${name}@1.3.1`,
      features: { kept: 1, total: 1, lost: [] },
    });
    expect(result.analysis).toMatchObject({
      culpritId: `${name}@1.2.0`,
      culpritParentId: `${name}@1.1.0`,
      reproduced: true,
    });
    const healed = await h.store.getLineage(`${name}@1.3.1`);
    expect(healed.language).toBe('python');
    // The culprit's line is undone, the feature's line kept.
    expect(healed.code).toContain(PY_SLUG_V11.split('\n')[3]);
    expect(healed.code).not.toContain(PY_SLUG_V12.split('\n')[3]);
    expect(healed.code).toContain('return slug[:40].rstrip("-")');

    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    expect(await runtime.callDetailed(name, 'Top 10 Tips')).toMatchObject({
      output: 'top-10-tips',
      versionId: `${name}@1.3.1`,
    });
    expect(await runtime.call(name, 'A very long title that goes on and on about slugs and more slugs')).toBe(
      'a-very-long-title-that-goes-on-and-on-ab',
    );
    await runtime.close();
  });
});

describe('a heal across a language change', () => {
  it('does not revert a rewrite into Python: the heal falls back to the rollback, to the JavaScript ancestor', async () => {
    await warmPython();
    const name = 'py_rewrite';
    const text = { description: 'Slugify a title', category: 'text' };
    await h.store.registerMany([
      {
        name,
        version: '1.0.0',
        code: "function run(t) { return String(t).toLowerCase().replace(/[^a-z0-9]+/g, '-'); }",
        ...text,
        tests: [{ name: 'slugs a title', input: 'Hello World', expect: 'hello-world' }],
      },
      // The rewrite drops digits: the bug.
      {
        name,
        version: '1.1.0',
        parents: [`${name}@1.0.0`],
        language: 'python',
        code: 'import re\n\ndef run(t):\n    return re.sub(r"[^a-z]+", "-", str(t).lower())\n',
        ...text,
        mutation: { type: 'refactor', description: 'Rewrite in Python' },
      },
      {
        name,
        version: '1.2.0',
        parents: [`${name}@1.1.0`],
        code: 'import re\n\ndef run(t):\n    return re.sub(r"[^a-z]+", "-", str(t).lower())[:40]\n',
        ...text,
        mutation: { type: 'feature_add', description: 'Cap slugs at 40 characters' },
      },
    ]);
    await h.store.setRoute(`${name}@1.2.0`, 'newest');
    await report(`${name}@1.2.0`, [{ input: 'Top 10 Tips', observed: 'top-tips', expected: 'top-10-tips' }]);
    const result = await heal(`${name}@1.2.0`, {
      failureType: 'wrong_output',
      description: 'digits are dropped',
      severity: 'critical',
      detectionMethod: 'report',
    });

    expect(result.analysis).toMatchObject({ culpritId: `${name}@1.1.0`, culpritParentId: `${name}@1.0.0` });
    expect(result).toMatchObject({ status: 'healed', strategy: 'rollback' });
    expect(result.attempts[0]).toMatchObject({ strategy: 'revert', ok: false });
    const healed = await h.store.getLineage(result.newVersionId!);
    expect(healed.language).toBe('javascript');
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    expect(await runtime.call(name, 'Top 10 Tips')).toBe('top-10-tips');
    await runtime.close();
  });
});

describe('registration of Python code', () => {
  it('refuses code that does not parse, naming line and column, and stores nothing', async () => {
    await warmPython();
    await expect(
      h.store.registerMany([
        { name: 'py_bad', version: '1.0.0', language: 'python', code: 'def run(input)\n    return 1\n' },
      ]),
    ).rejects.toThrow(/code: Python tool code does not parse at line 1, column \d+/);
    await expect(
      h.store.registerMany([
        { name: 'py_bad', version: '1.0.0', language: 'python', code: 'def other(input):\n    return 1\n' },
      ]),
    ).rejects.toThrow(/must define a top-level `def run\(input\)`/);
    expect(await h.store.graph.versionCount('py_bad')).toBe(0);
  });

  it('stores a version importing os FAILED with a critical static finding, and never routes it', async () => {
    await warmPython();
    const sandbox = new Sandbox(config.sandbox);
    const [r] = await h.store.registerMany(
      [
        {
          name: 'py_os',
          version: '1.0.0',
          language: 'python',
          code: 'import os\n\ndef run(input):\n    return os.getcwd()\n',
        },
      ],
      {
        validate: registrationValidator({ store: h.store, sandbox, config }),
      },
    );
    sandbox.close();
    expect(r!.health).toBe('failed');
    expect(r!.failures).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          failureType: 'security_vulnerability',
          severity: 'critical',
          description: expect.stringMatching(/import of the host module `os`/),
        }),
      ]),
    );
  });
});

describe('dise tool add and dise call with a Python manifest', () => {
  it('registers the example (the child inheriting python), routes it, and answers calls', async () => {
    const { PACKAGE_ROOT } = await import('../../src/infra/paths.js');
    const path = await import('node:path');
    process.env.DATABASE_URL = h.db.url;
    try {
      const add = captureOutput();
      expect(
        await runCli(['tool', 'add', path.join(PACKAGE_ROOT, 'examples/slugify-python.yaml')], add),
        add.stderr.join('\n'),
      ).toBe(0);
      expect(add.stdout.filter((l) => l.startsWith('slugify_py@'))).toEqual([
        'slugify_py@1.0.0 healthy (python)',
        'slugify_py@1.1.0 healthy (python) (routed)',
      ]);
      const call = captureOutput();
      expect(await runCli(['call', 'slugify_py', '"Top 10 Tips"', '--json'], call), call.stderr.join('\n')).toBe(0);
      expect(JSON.parse(call.stdout.join('\n'))).toMatchObject({
        output: 'top-10-tips',
        versionId: 'slugify_py@1.1.0',
      });
      const json = captureOutput();
      expect(await runCli(['lineage', 'slugify_py@1.1.0', '--json'], json)).toBe(0);
      expect(JSON.parse(json.stdout.join('\n'))).toMatchObject({ language: 'python', parents: ['slugify_py@1.0.0'] });
      const list = captureOutput();
      expect(await runCli(['tool', 'list', '--json'], list)).toBe(0);
      expect(
        (JSON.parse(list.stdout.join('\n')) as { name: string; languages: string[] }[]).find(
          (t) => t.name === 'slugify_py',
        ),
      ).toMatchObject({ languages: ['python'] });
    } finally {
      delete process.env.DATABASE_URL;
    }
  });
});

describe('a Python candidate in shadow beside a JavaScript stable version', () => {
  /**
   * Calls `name` with 0, 1, 2… until the canary workflow ends. Every answer is right and comes from a
   * version in `answering` (the stable one; a promoted candidate once its canary has ended).
   */
  async function shadowTraffic(name: string, answering: string[], ended: Promise<unknown>) {
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url, config });
    let done = false;
    void ended.finally(() => (done = true));
    try {
      for (let i = 0; !done; i++) {
        const { output, versionId } = await runtime.callDetailed(name, i);
        expect(output).toBe(i * i);
        expect(answering).toContain(versionId);
        if (i % 20 === 19) await runtime.flush();
        if (i % 5 === 4) await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await runtime.close();
    }
  }

  async function begin(name: string, candidate: string) {
    await h.store.registerMany([
      { name, version: '1.0.0', code: 'function run(x) { return x * x; }', description: 'square', category: 'math' },
      {
        name,
        version: '1.1.0',
        parents: [`${name}@1.0.0`],
        language: 'python',
        code: candidate,
        description: 'square',
        category: 'math',
        mutation: { type: 'refactor', description: 'Rewrite in Python' },
      },
    ]);
    await h.store.setRoute(`${name}@1.0.0`, 'stable');
    const id = `${name}@1.1.0`;
    await h.store.canaries.begin({
      candidateId: id,
      toolName: name,
      stableId: `${name}@1.0.0`,
      targetHealth: 'healthy',
      origin: 'registration',
      healId: null,
      workflowId: canaryWorkflowId(id),
      mirrorFraction: 1,
    });
    return id;
  }

  it('promotes a faithful rewrite and refuses one that is wrong on 2% of inputs, with those inputs as evidence: the canary does not care about the language', async () => {
    await warmPython();
    const good = await begin('py_sq_good', 'def run(x):\n    return x ** 2\n');
    const bad = await begin('py_sq_bad', 'def run(x):\n    if x % 50 == 7:\n        return -1\n    return x * x\n');
    const goodRun = await startCanary(h.temporal.client, good, { taskQueue: h.taskQueue });
    const badRun = await startCanary(h.temporal.client, bad, { taskQueue: h.taskQueue });
    const goodEnd = goodRun.result();
    const badEnd = badRun.result();
    await Promise.all([
      shadowTraffic('py_sq_good', ['py_sq_good@1.0.0', good], goodEnd),
      shadowTraffic('py_sq_bad', ['py_sq_bad@1.0.0'], badEnd),
    ]);
    // The whole result on a failure: it says why the canary decided as it did.
    expect((await goodEnd).status, JSON.stringify(await goodEnd)).toBe('promoted');
    expect((await badEnd).status, JSON.stringify(await badEnd)).toBe('refused');
    expect(await h.store.routing.routeOf('py_sq_good')).toBe(good);
    const lineage = await h.store.getLineage(bad);
    expect(lineage.health).toBe('pruned');
    const evidence = (
      lineage.pruneEvidence as { canary: { disagreements: { input: number; stable: unknown; candidate: unknown }[] } }
    ).canary;
    expect(evidence.disagreements.length).toBeGreaterThan(0);
    for (const d of evidence.disagreements) expect(d).toMatchObject({ stable: d.input * d.input, candidate: -1 });
  }, 240_000);
});
