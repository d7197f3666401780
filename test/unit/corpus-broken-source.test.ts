import { afterAll, describe, expect, it, vi } from 'vitest';
import type * as CodeInputs from '../../src/judge/code-inputs.js';
import { defaultConfig } from '../../src/config/schema.js';
import { buildCorpus } from '../../src/judge/corpus.js';
import { runDifferential } from '../../src/judge/differential.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';

// A corpus source that throws (a hostile literal, a bug in a generator) must neither crash the
// registration nor let the version through: the corpus keeps what the other sources built, and the
// differential check refuses the version naming the source and its error.

vi.mock('../../src/judge/code-inputs.js', async (importOriginal) => {
  const real = await importOriginal<typeof CodeInputs>();
  return {
    ...real,
    // A literal that breaks fact harvesting.
    codeFacts: (codes: string[]) => {
      if (codes.some((c) => c.includes('HOSTILE_FACTS'))) throw new TypeError('cannot read the code');
      return real.codeFacts(codes);
    },
    // On the suite input 'abc', the `lengths` source yields two inputs, then throws as a string built
    // too long would.
    codeInputs: (...args: Parameters<typeof real.codeInputs>) => {
      const sources = real.codeInputs(...args);
      if (!args[0].includes('abc')) return sources;
      return {
        ...sources,
        lengths: {
          *[Symbol.iterator]() {
            yield 'first from lengths';
            yield 'second from lengths';
            throw new RangeError('Invalid string length');
          },
        },
      };
    },
  };
});

const sandbox = new Sandbox({ ...defaultConfig().sandbox, timeout_ms: 1000 });
afterAll(() => sandbox.close());

const CODE = "function run(input) { return typeof input === 'string' ? input.length : -1; }";
const SAME = "function run(input) {\n  if (typeof input !== 'string') return -1;\n  return input.length;\n}";

function corpus(codes: string[]) {
  return buildCorpus({
    suiteInputs: ['abc', 'hello world'],
    recordedInputs: [],
    size: 300,
    generated: 298,
    seed: 3,
    codes,
  });
}

describe('a corpus source that throws', () => {
  it('does not stop the corpus: the other sources fill it, and the broken source is named with its error', async () => {
    const c = corpus([SAME, CODE]);
    expect(c.broken).toEqual([{ source: 'lengths', error: 'RangeError: Invalid string length' }]);
    // What it yielded before it threw stays; the other sources and the random edits still ran.
    expect(c.sources.lengths).toBe(2);
    expect(c.sources.strings ?? 0).toBeGreaterThan(0);
    expect(c.sources.generated).toBeGreaterThan(0);
    expect(c.inputs.length).toBe(300);
  });

  it('refuses a version whose check found no difference, naming the source and its error', async () => {
    const { report, failures } = await runDifferential(sandbox, {
      id: 't@2.0.0',
      code: SAME,
      language: 'javascript',
      parents: [{ id: 't@1.0.0', code: CODE, language: 'javascript' }],
      mutationType: 'optimization',
      criticalTests: [],
      corpus: corpus([SAME, CODE]),
      maxDifferences: 1,
    });
    expect(report.differing).toBe(0);
    expect(report.verdict).toBe('refused');
    expect(report.brokenSources).toEqual([{ source: 'lengths', error: 'RangeError: Invalid string length' }]);
    expect(report.message).toContain('"lengths" threw RangeError: Invalid string length');
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({
      failureType: 'judge_error',
      detectionMethod: 'differential',
      severity: 'critical',
    });
    expect(failures[0]!.description).toContain('"lengths" threw RangeError: Invalid string length');
  });

  it('refuses a feature_add too (its differences would otherwise only be listed)', async () => {
    const { report } = await runDifferential(sandbox, {
      id: 't@2.0.0',
      code: "function run(input) { return typeof input === 'string' ? input.length + 1 : -1; }",
      language: 'javascript',
      parents: [{ id: 't@1.0.0', code: CODE, language: 'javascript' }],
      mutationType: 'feature_add',
      criticalTests: [],
      corpus: corpus([CODE]),
      maxDifferences: 1,
    });
    expect(report.verdict).toBe('refused');
    expect(report.message).toMatch(/^refused: the corpus could not be built as configured \(source "lengths" threw/);
  });

  it('names the code facts when reading the code throws, and still builds the corpus from the suite and random edits', async () => {
    const c = corpus(['// HOSTILE_FACTS\n' + CODE]);
    expect(c.broken).toEqual([{ source: 'code facts', error: 'TypeError: cannot read the code' }]);
    expect(c.sources.suite).toBe(2);
    expect(c.sources.generated).toBeGreaterThan(0);
  });

  it('leaves a corpus whose sources all ran without a broken list', async () => {
    const c = buildCorpus({ suiteInputs: [1, 2], recordedInputs: [], size: 50, generated: 48, seed: 3, codes: [] });
    expect(c.broken).toBeUndefined();
  });
});
