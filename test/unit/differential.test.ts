import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { emailLineage } from '../../src/demo/email-lineage.js';
import { buildCorpus, seedFrom, type Corpus } from '../../src/judge/corpus.js';
import { compareSize, runDifferential, shrinkInput, type DifferentialSubject } from '../../src/judge/differential.js';
import { Sandbox, type ScreeningSession } from '../../src/sandbox/sandbox.js';
import type { ToolLanguage } from '../../src/shared/language.js';
import type { JsonValue } from '../../src/shared/lineage-types.js';

const sandbox = new Sandbox({ ...defaultConfig().sandbox, timeout_ms: 100 });
afterAll(() => sandbox.close());

const story = emailLineage('e');
const code = (v: string) => story.find((s) => s.version === v)!.code;
const SUITE = story.flatMap((s) => (s.tests ?? []).map((t) => t.input));
const GOOD_RECORDED = ['user@example.com', 'first.last@company.org', 'dev+tag@sub.domain.io', 'USER@EXAMPLE.COM'];

function corpusOf(inputs: JsonValue[]): Corpus {
  return {
    seed: 0,
    sources: { suite: inputs.length, recorded: 0, generated: 0 },
    inputs: inputs.map((input) => ({ input, json: JSON.stringify(input), source: 'suite' as const })),
  };
}

function subject(overrides: Partial<DifferentialSubject>): DifferentialSubject {
  return {
    id: 'e@2.2.0',
    code: code('2.2.0'),
    language: 'javascript',
    parents: [{ id: 'e@2.1.0', code: code('2.1.0'), language: 'javascript' as const }],
    mutationType: 'optimization',
    criticalTests: [],
    corpus: corpusOf([]),
    maxDifferences: 20,
    ...overrides,
  };
}

describe('the differential corpus', () => {
  it('is the same for the same seed, different for another, and bounded', async () => {
    const options = { suiteInputs: SUITE, recordedInputs: GOOD_RECORDED, size: 300, generated: 200 };
    const a = buildCorpus({ ...options, seed: 7 });
    const b = buildCorpus({ ...options, seed: 7 });
    const c = buildCorpus({ ...options, seed: 8 });
    expect(a.inputs.map((i) => i.json)).toEqual(b.inputs.map((i) => i.json));
    expect(a.inputs.map((i) => i.json)).not.toEqual(c.inputs.map((i) => i.json));
    expect(a.seed).toBe(7);
    // Without code, the sources that need none (string lengths, characters) derive some of the 200.
    const { suite, recorded, ...derived } = a.sources;
    expect({ suite, recorded }).toEqual({
      suite: new Set(SUITE.map((i) => JSON.stringify(i))).size,
      recorded: GOOD_RECORDED.filter((i) => !SUITE.includes(i)).length,
    });
    expect(Object.values(derived).reduce((x, y) => x + (y ?? 0), 0)).toBe(200);
    expect(derived.generated).toBeGreaterThanOrEqual(100);
    expect(a.inputs.length).toBeLessThanOrEqual(300);
    expect(new Set(a.inputs.map((i) => i.json)).size).toBe(a.inputs.length);
    expect(buildCorpus({ ...options, size: 50, seed: 7 }).inputs).toHaveLength(50);
  });

  it('generates the edits the issue names: doubled separators, whitespace, case, unicode, empty, null, long', async () => {
    const { inputs } = buildCorpus({
      suiteInputs: ['user@example.com'],
      recordedInputs: [],
      size: 2000,
      generated: 1500,
      seed: seedFrom('e@2.2.0'),
    });
    const strings = inputs.map((i) => i.input).filter((i): i is string => typeof i === 'string');
    expect(strings.some((s) => s.includes('@@'))).toBe(true);
    expect(strings.some((s) => s.includes('..'))).toBe(true);
    expect(strings.some((s) => /^\s|\s$/.test(s))).toBe(true);
    expect(strings.some((s) => s === 'USER@EXAMPLE.COM')).toBe(true);
    expect(strings.some((s) => [...s].some((c) => c.codePointAt(0)! > 0x7f))).toBe(true);
    expect(strings.some((s) => /\d/.test(s))).toBe(true);
    expect(strings).toContain('');
    expect(strings.some((s) => s.length > 100)).toBe(true);
    expect(inputs.some((i) => i.input === null)).toBe(true);
  });

  it('edits objects (missing and null fields), arrays (empty, longer) and numbers (boundaries)', async () => {
    const { inputs } = buildCorpus({
      suiteInputs: [{ name: 'a', n: 5, tags: ['x', 'y'] }],
      recordedInputs: [],
      size: 1000,
      generated: 800,
      seed: 1,
    });
    const objects = inputs
      .map((i) => i.input)
      .filter((i): i is { [k: string]: JsonValue } => !!i && typeof i === 'object' && !Array.isArray(i));
    expect(objects.some((o) => !('name' in o))).toBe(true);
    expect(objects.some((o) => o.n === null)).toBe(true);
    expect(objects.some((o) => Array.isArray(o.tags) && o.tags.length === 0)).toBe(true);
    expect(objects.some((o) => Array.isArray(o.tags) && o.tags.length > 2)).toBe(true);
    expect(objects.some((o) => o.n === 2 ** 31 - 1 || o.n === Number.MAX_SAFE_INTEGER || o.n === 0)).toBe(true);
  });
});

describe('shrinking', () => {
  it('finds the smallest input that still differs', async () => {
    expect(await shrinkInput('hello x world x again', (s) => typeof s === 'string' && s.split('x').length > 2)).toBe(
      'xx',
    );
    expect(await shrinkInput(1000, (n) => typeof n === 'number' && n > 100)).toBe(101);
    expect(await shrinkInput([3, 9, 7, 12], (a) => Array.isArray(a) && a.includes(7))).toEqual([7]);
    expect(
      await shrinkInput(
        { name: 'Zed', age: 40, tags: ['q'] },
        (o) => !!o && typeof o === 'object' && 'age' in o && (o as { age: number }).age >= 18,
      ),
    ).toEqual({ age: 18 });
    expect(compareSize('b', 'aa')).toBeLessThan(0);
  });

  it("shrinks the email story's difference to the smallest input showing it", async () => {
    const { report } = await runDifferential(sandbox, subject({ corpus: corpusOf(['user@@domain.com']) }));
    expect(report.differences).toEqual([
      {
        input: '@',
        output: { output: true, error: null },
        parents: [{ id: 'e@2.1.0', output: { output: false, error: null } }],
        originalInput: 'user@@domain.com',
        source: 'suite',
        criticalTest: null,
      },
    ]);
  });
});

describe('what a difference means', () => {
  const corpus = buildCorpus({
    suiteInputs: SUITE,
    recordedInputs: GOOD_RECORDED,
    size: 1000,
    generated: 600,
    seed: 13,
  });

  it('refuses an optimization that differs: failure records of type regression, detection differential, with both outputs', async () => {
    const { report, failures } = await runDifferential(
      sandbox,
      subject({ corpus, mutationDescription: 'Optimize for speed' }),
    );
    expect(report.verdict).toBe('refused');
    expect(report.differing).toBeGreaterThan(10);
    expect(report.message).toMatch(/optimization "Optimize for speed" promises the same behaviour/);
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect(failures[0]).toMatchObject({
      failureType: 'regression',
      detectionMethod: 'differential',
      severity: 'critical',
    });
    expect(failures[0]!.evidence).toMatchObject({
      input: '@',
      output: { output: true },
      parents: [{ id: 'e@2.1.0', output: { output: false } }],
      seed: 13,
    });
  });

  it('gives the same verdict for the same seed', async () => {
    const again = await runDifferential(
      sandbox,
      subject({
        corpus: buildCorpus({
          suiteInputs: SUITE,
          recordedInputs: GOOD_RECORDED,
          size: 1000,
          generated: 600,
          seed: 13,
        }),
      }),
    );
    const first = await runDifferential(sandbox, subject({ corpus }));
    expect({ ...again.report, durationMs: 0 }).toEqual({ ...first.report, durationMs: 0 });
  });

  it('passes an optimization that keeps behaviour (a precompiled regex)', async () => {
    const precompiled = `var EMAIL = new RegExp('^[a-z0-9._%+-]+@[a-z0-9.-]+\\\\.[a-z]{2,}$', 'i');
function run(input) { if (input === null || input === undefined) return false; return EMAIL.test(String(input).trim()); }`;
    const { report, failures } = await runDifferential(sandbox, subject({ code: precompiled, corpus }));
    expect(report).toMatchObject({ verdict: 'same', differing: 0, differences: [] });
    expect(report.inputs).toBeGreaterThan(500);
    expect(failures).toEqual([]);
  });

  it('lists the differences of a feature_add without failing it', async () => {
    const { report, failures } = await runDifferential(
      sandbox,
      subject({
        id: 'e@2.3.0',
        code: code('2.3.0'),
        mutationType: 'feature_add',
        corpus,
        language: 'javascript' as const,
      }),
    );
    expect(report.verdict).toBe('listed');
    expect(report.differences.length).toBeGreaterThan(0);
    expect(failures).toEqual([]);
  });

  it('lets a difference on the input of a critical test decide a feature_add', async () => {
    const critical = [{ name: 'rejects a double at', input: 'user@@domain.com', expected: false }];
    const { report, failures } = await runDifferential(
      sandbox,
      subject({
        id: 'e@2.3.0',
        code: code('2.3.0'),
        mutationType: 'feature_add',
        corpus: corpusOf(['user@@domain.com', 'josé@exämple.com']),
        criticalTests: critical,
        language: 'javascript' as const,
      }),
    );
    expect(report.verdict).toBe('refused');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      testCaseFailed: 'rejects a double at',
      evidence: { input: 'user@@domain.com' },
    });
    // A bug_fix that makes the critical test pass where the parent failed it is fine.
    const fixed = await runDifferential(
      sandbox,
      subject({
        id: 'fix',
        code: code('2.1.0'),
        parents: [{ id: 'e@2.3.0', code: code('2.3.0'), language: 'javascript' as const }],
        mutationType: 'bug_fix',
        corpus: corpusOf(['user@@domain.com']),
        criticalTests: critical,
      }),
    );
    expect(fixed.report.verdict).toBe('listed');
    expect(fixed.failures).toEqual([]);
  });

  it('judges a version that declares no type as a refactor, and says so', async () => {
    const { report, failures } = await runDifferential(
      sandbox,
      subject({ mutationType: null, corpus: corpusOf(['a@@b.cc']) }),
    );
    expect(report).toMatchObject({ mutationType: null, judgedAs: 'refactor', verdict: 'refused' });
    expect(report.message).toMatch(/declares no mutation type, so it is judged as a refactor/);
    expect(failures).toHaveLength(1);
  });

  it('compares a merge against each parent: each answer may come from either', async () => {
    const trims = `function run(s) { return typeof s === 'string' && s.trim() === 'ok'; }`;
    const nullSafe = `function run(s) { if (s === null) return 'none'; return s === 'ok'; }`;
    const merged = `function run(s) { if (s === null) return 'none'; return typeof s === 'string' && s.trim() === 'ok'; }`;
    const parents = [
      { id: 'm@1.1.0', code: trims, language: 'javascript' as const },
      { id: 'm@1.0.1', code: nullSafe, language: 'javascript' as const },
    ];
    const inputs = corpusOf(['ok', ' ok ', null, 'no']);
    expect(
      (
        await runDifferential(
          sandbox,
          subject({
            id: 'm@2.0.0',
            code: merged,
            parents,
            mutationType: 'refactor',
            corpus: inputs,
            language: 'javascript' as const,
          }),
        )
      ).report.verdict,
    ).toBe('same');
    const wrong = `function run(s) { return s === null ? 'nothing' : typeof s === 'string' && s.trim() === 'ok'; }`;
    const { report } = await runDifferential(
      sandbox,
      subject({
        id: 'm@2.0.0',
        code: wrong,
        parents,
        mutationType: 'refactor',
        corpus: inputs,
        language: 'javascript' as const,
      }),
    );
    expect(report.verdict).toBe('refused');
    expect(report.differences).toEqual([
      expect.objectContaining({
        input: null,
        output: { output: 'nothing', error: null },
        parents: [
          { id: 'm@1.1.0', output: { output: false, error: null } },
          { id: 'm@1.0.1', output: { output: 'none', error: null } },
        ],
      }),
    ]);
  });

  it('applies the sandbox limits: a parent that times out leaves the input unjudged; a version that times out differs', async () => {
    const slow = `function run(n) { if (n === 1) { while (true) {} } return n; }`;
    const fast = `function run(n) { return n; }`;
    const a = await runDifferential(
      sandbox,
      subject({
        id: 'x',
        code: fast,
        parents: [{ id: 'p', code: slow, language: 'javascript' as const }],
        mutationType: 'refactor',
        corpus: corpusOf([0, 1, 2]),
      }),
    );
    expect(a.report).toMatchObject({ verdict: 'same', inputs: 2, unjudged: 1 });
    const b = await runDifferential(
      sandbox,
      subject({
        id: 'x',
        code: slow,
        parents: [{ id: 'p', code: fast, language: 'javascript' as const }],
        mutationType: 'refactor',
        corpus: corpusOf([1]),
      }),
    );
    expect(b.report.verdict).toBe('refused');
    expect(b.report.differences[0]).toMatchObject({
      input: 1,
      output: { error: 'timeout' },
      parents: [{ output: { output: 1, error: null } }],
    });
  });
});

/**
 * The check screens JavaScript versions (one checked context per version, src/sandbox/screening.ts)
 * and must report exactly what a fresh context per call reports.
 */
describe('the screened check answers as the per-call check does', () => {
  const config = { ...defaultConfig().sandbox, timeout_ms: 1000 };
  const boxes: Sandbox[] = [];
  const box = (options?: ConstructorParameters<typeof Sandbox>[1]) => {
    const b = new Sandbox(config, options);
    boxes.push(b);
    return b;
  };
  afterAll(() => boxes.forEach((b) => b.close()));
  const corpus = buildCorpus({
    suiteInputs: SUITE,
    recordedInputs: GOOD_RECORDED,
    size: 300,
    generated: 250,
    seed: seedFrom('screened'),
  });
  const same = (r: Awaited<ReturnType<typeof runDifferential>>) => ({ ...r, report: { ...r.report, durationMs: 0 } });

  it('gives the same reports, screened and per call, for a refused version and a same-behaviour one', async () => {
    for (const s of [
      subject({ corpus }),
      subject({ code: code('2.1.0') + '\n// reformatted', corpus }),
      // A parent with module-level state renewed each call, and a version without it.
      subject({
        code: 'function run(input) { return [1, typeof input]; }',
        parents: [
          {
            id: 'p',
            code: 'let calls = 0; function run(input) { calls++; return [calls, typeof input]; }',
            language: 'javascript',
          },
        ],
        corpus,
      }),
    ]) {
      const screened = box();
      const a = await runDifferential(screened, s);
      const b = await runDifferential(box({ screening: false }), s);
      expect(same(a)).toEqual(same(b));
      expect(screened.stats.screenedCalls).toBeGreaterThan(0);
      expect(screened.stats.screeningsVoided).toBe(0);
    }
  });

  it('a parent that patches a built-in voids the screening: the whole check runs per call, same report', async () => {
    const s = subject({
      code: `function run(input) { return typeof input === 'string' ? input.trim().length : -1; }`,
      parents: [
        {
          id: 'p',
          code: `const patched = String.prototype.trim.name === 'tidy';
String.prototype.trim = function tidy() { return ''; };
function run(input) { return typeof input === 'string' && !patched ? input.replace(/^\\s+|\\s+$/g, '').length : -1; }`,
          language: 'javascript',
        },
      ],
      mutationType: 'refactor',
      corpus,
    });
    const screened = box();
    const a = await runDifferential(screened, s);
    expect(same(a)).toEqual(same(await runDifferential(box({ screening: false }), s)));
    expect(screened.stats.screeningsVoided).toBe(1);
  });

  it('a difference found in screening counts only once fresh contexts show it', async () => {
    // A sandbox whose screening lies for the version on one input: the check must not believe it.
    class Lying extends Sandbox {
      override screen(key: string, source: string, language?: ToolLanguage): ScreeningSession | null {
        const session = super.screen(key, source, language);
        if (!session || !source.includes('// version')) return session;
        return {
          ...session,
          runBatchAsync: async (jsons, stop) => {
            const batch = await session.runBatchAsync(jsons, stop);
            const outcomes = batch.outcomes.map((o, i) =>
              jsons[i] === '"user@example.com"' ? { output: 'false', error: null } : o,
            );
            return { ...batch, outcomes };
          },
        };
      }
    }
    const lying = new Lying(config);
    boxes.push(lying);
    const s = subject({ code: code('2.1.0') + '\n// version', corpus });
    const r = await runDifferential(lying, s);
    expect(r.report).toMatchObject({ verdict: 'same', differing: 0 });
    expect(same(r)).toEqual(same(await runDifferential(box({ screening: false }), s)));
    expect(lying.stats.screenedCalls).toBeGreaterThan(0);
  });

  it('confirms in fresh contexts only the differences it reports, not every differing input', async () => {
    class Counting extends Sandbox {
      fresh = 0;
      override runJsonAsync(...args: Parameters<Sandbox['runJsonAsync']>): Promise<string> {
        this.fresh++;
        return super.runJsonAsync(...args);
      }
    }
    const counting = new Counting(config);
    boxes.push(counting);
    const s = subject({ corpus, maxDifferences: 3 });
    const r = await runDifferential(counting, s);
    expect(r.report.verdict).toBe('refused');
    expect(r.report.differing).toBeGreaterThan(10);
    expect(r.report.differences.length).toBeGreaterThan(0);
    // Each reported (shrunk, deduplicated) difference: the version and its parent once, fresh.
    expect(counting.fresh).toBe(r.report.differences.length * 2);
    expect(same(r)).toEqual(same(await runDifferential(box({ screening: false }), s)));
  });

  it('a screening whose final check fails is discarded: the check runs again per call', async () => {
    // Screened answers that make the culprit look the same as its parent, then a final check that
    // says they cannot be vouched for: the report must be the per-call one, a refusal.
    class Failing extends Sandbox {
      override screen(key: string, source: string, language?: ToolLanguage): ScreeningSession | null {
        const session = super.screen(key, source, language);
        if (!session) return session;
        return {
          ...session,
          runBatchAsync: (jsons) =>
            Promise.resolve({ outcomes: jsons.map(() => ({ output: '"x"', error: null })), timedOut: false }),
          finishAsync: async () => (await session.finishAsync(), false),
        };
      }
    }
    const failing = new Failing(config);
    boxes.push(failing);
    const s = subject({ corpus });
    const r = await runDifferential(failing, s);
    expect(r.report.verdict).toBe('refused');
    expect(same(r)).toEqual(same(await runDifferential(box({ screening: false }), s)));
  });
});
