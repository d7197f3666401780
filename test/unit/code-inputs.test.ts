import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { codeFacts } from '../../src/judge/code-inputs.js';
import { buildCorpus, type CorpusSource } from '../../src/judge/corpus.js';
import { runDifferential } from '../../src/judge/differential.js';
import { warmPythonFor } from '../../src/sandbox/python.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import type { JsonValue } from '../../src/shared/lineage-types.js';

// Three functions from a public problem set, each with a single-point change that keeps its first
// two tests passing: the corpus must reach the input that tells them apart.
const IS_PRIME = (start: number) => `
def is_prime(n):
    if n < 2:
        return False
    for k in range(${start}, n - 1):
        if n % k == 0:
            return False
    return True

def run(input):
    return is_prime(*input)
`;
const BELOW_THRESHOLD = (op: string) => `
def below_threshold(l, t):
    for e in l:
        if e ${op} t:
            return False
    return True

def run(input):
    return below_threshold(*input)
`;
const SORT_NUMBERS = (five: number) => `
def sort_numbers(numbers):
    value_map = {'zero': 0, 'one': 1, 'two': 2, 'three': 3, 'four': 4, 'five': ${five}, 'six': 6, 'seven': 7, 'eight': 8, 'nine': 9}
    return ' '.join(sorted([x for x in numbers.split(' ') if x], key=lambda x: value_map[x]))

def run(input):
    return sort_numbers(*input)
`;

function corpusOf(suiteInputs: JsonValue[], codes: string[], size = 1000) {
  return buildCorpus({ suiteInputs, recordedInputs: [], size, generated: size - suiteInputs.length, seed: 7, codes });
}

function inputsFrom(corpus: ReturnType<typeof corpusOf>, source: CorpusSource): string[] {
  return corpus.inputs.filter((i) => i.source === source).map((i) => i.json);
}

describe('code facts', () => {
  it('reads numbers and words from the code, those on changed lines first', async () => {
    const facts = codeFacts([IS_PRIME(3), IS_PRIME(2)]);
    expect(facts.numbers.slice(0, 3)).toEqual([3, 1, 2]);
    expect(codeFacts([SORT_NUMBERS(6), SORT_NUMBERS(5)]).words).toEqual(expect.arrayContaining(['five', 'six', ' ']));
  });

  it('takes no words from comments and keeps the corpus unchanged without code', async () => {
    expect(codeFacts(['# "hidden"\nfunction run(x) { return x > 7 } // 99']).words).toEqual([]);
    expect(codeFacts(['# "hidden"\nfunction run(x) { return x > 7 } // 99']).numbers).toEqual([7]);
  });
});

describe('corpus sources that read the code', () => {
  it('literals: the neighbours of a changed constant (is_prime meets 4)', async () => {
    const corpus = corpusOf([[6], [101]], [IS_PRIME(3), IS_PRIME(2)]);
    expect(inputsFrom(corpus, 'literals')).toEqual(expect.arrayContaining(['[4]', '[2]', '[3]']));
  });

  it('sweep: small integers in every numeric argument', async () => {
    const corpus = corpusOf([[[1, 5], 9]], []);
    const swept = inputsFrom(corpus, 'sweep');
    expect(swept).toEqual(expect.arrayContaining(['[[1,5],-3]', '[[1,5],0]', '[[1,5],20]', '[[0,5],9]', '[[7],9]']));
  });

  it('reuse: one argument’s value in another (the threshold put in the list)', async () => {
    const corpus = corpusOf([[[1, 2, 4, 10], 100]], []);
    expect(inputsFrom(corpus, 'reuse')).toEqual(expect.arrayContaining(['[[1,2,4,10,100],100]', '[[100,2,4,10],100]']));
  });

  it('structure: lists inserted into, shortened, duplicated, reordered, sorted and emptied', async () => {
    const corpus = corpusOf([{ xs: [3, 1, 2] }], []);
    expect(inputsFrom(corpus, 'structure')).toEqual(
      expect.arrayContaining([
        '{"xs":[]}',
        '{"xs":[1,2,3]}',
        '{"xs":[2,1,3]}',
        '{"xs":[1,2]}',
        '{"xs":[3,3,1,2]}',
        '{"xs":[1,3,2]}',
        '{}',
      ]),
    );
  });

  it('strings: the code’s words composed, both ways round', async () => {
    const corpus = corpusOf([['three'], ['three five nine']], [SORT_NUMBERS(6), SORT_NUMBERS(5)]);
    expect(inputsFrom(corpus, 'strings')).toEqual(expect.arrayContaining(['["five six"]', '["six five"]', '["five"]']));
  });

  it('lengths: every string at each length from 0 to 16 from its own characters, lists grown likewise', async () => {
    const corpus = corpusOf([['abc', [4, 5]]], []);
    expect(inputsFrom(corpus, 'lengths')).toEqual(
      expect.arrayContaining(['["",[4,5]]', '["abcab",[4,5]]', '["abc",[4,5,4]]', '["abcabcabcabcabca",[4,5]]']),
    );
  });

  it('products: products of two and three small primes and sums of the code’s numbers, above the sweep', async () => {
    const corpus = corpusOf([[5]], ['def f(a):\n    return a < 40 or a == 100']);
    expect(inputsFrom(corpus, 'products')).toEqual(expect.arrayContaining(['[21]', '[30]', '[105]', '[140]', '[49]']));
  });

  it('digits: numbers inside strings replaced by the code’s numbers and their neighbours, keeping their width', async () => {
    const corpus = corpusOf([['03-11-2000']], ['if day > 31 or month in [4, 6]:']);
    expect(inputsFrom(corpus, 'digits')).toEqual(
      expect.arrayContaining(['["03-32-2000"]', '["06-11-2000"]', '["03-11-0031"]', '["04-31-2000"]']),
    );
  });

  it('characters: strings ending in each class’s edge characters and in the characters the code compares codes with', async () => {
    const corpus = corpusOf([['apple pie']], ['return 97 <= ord(c) <= 122']);
    expect(inputsFrom(corpus, 'characters')).toEqual(
      expect.arrayContaining(['["apple pie a"]', '["apple pie z"]', '["apple pi{"]', '["apple pie `"]', '["9"]']),
    );
  });

  it('is repeatable and bounded: the same corpus twice, never over its size, random edits keep a share', async () => {
    const a = corpusOf([[[1, 2, 4, 10], 100]], [BELOW_THRESHOLD('>=')], 300);
    const b = corpusOf([[[1, 2, 4, 10], 100]], [BELOW_THRESHOLD('>=')], 300);
    expect(a.inputs.map((i) => i.json)).toEqual(b.inputs.map((i) => i.json));
    expect(a.inputs.length).toBeLessThanOrEqual(300);
    expect(a.sources.generated).toBeGreaterThanOrEqual(80);
    expect(Object.values(a.sources).reduce((x, y) => x + (y ?? 0), 0)).toBe(a.inputs.length);
  });
});

describe('the differential check on single-point bugs in ordinary Python functions', () => {
  let sandbox: Sandbox;
  beforeAll(async () => {
    await warmPythonFor('python');
    sandbox = new Sandbox(defaultConfig().sandbox);
  }, 60_000);
  afterAll(() => sandbox.close());

  const judge = async (id: string, parent: string, child: string, suite: JsonValue[]) =>
    (
      await runDifferential(sandbox, {
        id,
        code: child,
        language: 'python',
        parents: [{ id: `${id}-parent`, code: parent, language: 'python' }],
        mutationType: 'optimization',
        criticalTests: [],
        corpus: corpusOf(suite, [child, parent]),
        maxDifferences: 3,
      })
    ).report;

  it.each([
    ['is_prime: range(2, …) became range(3, …)', IS_PRIME(2), IS_PRIME(3), [[6], [101]], '[4]'],
    [
      'below_threshold: >= became >',
      BELOW_THRESHOLD('>='),
      BELOW_THRESHOLD('>'),
      [
        [[1, 2, 4, 10], 100],
        [[1, 20, 4, 10], 5],
      ],
      null,
    ],
    ["sort_numbers: 'five': 5 became 'five': 6", SORT_NUMBERS(5), SORT_NUMBERS(6), [[''], ['three']], null],
  ])('refuses %s', async (_name, parent, child, suite, smallest) => {
    const report = await judge('t', parent, child, suite as JsonValue[]);
    expect(report.verdict).toBe('refused');
    if (smallest) expect(JSON.stringify(report.differences[0]!.input)).toBe(smallest);
  });

  it('accepts the same function written differently', async () => {
    const rewrite = IS_PRIME(2).replace('if n < 2:\n        return False', 'if n <= 1:\n        return False');
    expect((await judge('t', IS_PRIME(2), rewrite, [[6], [101]])).verdict).toBe('same');
  });
});

describe('the differential check within its time', () => {
  it('does not run inputs larger than one a parent could not answer in time, nor any once its budget is spent', async () => {
    const sandbox = new Sandbox({ ...defaultConfig().sandbox, timeout_ms: 50 });
    try {
      const loop = 'function run(n) { let s = 0; for (let i = 0; i < n; i++) s += i % 7; return s; }';
      const inputs = [5, 1e12, 1e13, 2e12, 7];
      const corpus = {
        seed: 0,
        sources: { suite: inputs.length, recorded: 0, generated: 0 },
        inputs: inputs.map((input) => ({ input, json: JSON.stringify(input), source: 'suite' as const })),
      };
      const subject = {
        id: 't',
        code: loop,
        language: 'javascript' as const,
        parents: [{ id: 'p', code: loop, language: 'javascript' as const }],
        mutationType: 'optimization' as const,
        criticalTests: [],
        corpus,
        maxDifferences: 3,
      };
      const report = (await runDifferential(sandbox, subject)).report;
      expect(report.unjudged).toBe(1); // 1e12: the parent timed out
      expect(report.notRun).toBe(2); // 1e13 and 2e12 never ran
      expect(report.inputs).toBe(2); // 5 and 7 did
      expect(report.verdict).toBe('same');
      const none = (await runDifferential(sandbox, { ...subject, timeBudgetMs: 0 })).report;
      expect(none.inputs + none.unjudged).toBe(0);
      expect(none.notRun).toBe(corpus.inputs.length);
    } finally {
      sandbox.close();
    }
  });

  describe('Python inputs that run into the time limit', () => {
    // Loops forever on negative numbers and fractions; answers small whole numbers at once.
    const COUNTDOWN = `
def run(input):
    n = input[0]
    steps = 0
    while n != 0:
        n -= 1
        steps += 1
    return steps
`;
    let sandbox: Sandbox;
    beforeAll(async () => {
      await warmPythonFor('python');
      sandbox = new Sandbox(defaultConfig().sandbox);
    }, 60_000);
    afterAll(() => sandbox.close());

    const judge = async (code: string, inputs: JsonValue[], timeBudgetMs = 60_000) => {
      const corpus = {
        seed: 0,
        sources: { suite: inputs.length, recorded: 0, generated: 0 },
        inputs: inputs.map((input) => ({ input, json: JSON.stringify(input), source: 'suite' as const })),
      };
      const { report } = await runDifferential(sandbox, {
        id: 't',
        code,
        language: 'python',
        parents: [{ id: 'p', code: COUNTDOWN, language: 'python' }],
        mutationType: 'optimization',
        criticalTests: [],
        corpus,
        maxDifferences: 3,
        timeBudgetMs,
      });
      return report;
    };

    it('leaves inputs neither version finishes unjudged, never a difference', async () => {
      const inputs: JsonValue[] = [[3], [0], ...Array.from({ length: 12 }, (_, i) => [-1 - i]), [7]];
      const report = await judge(COUNTDOWN.replace('steps = 0', 'steps = 0 * 1'), inputs);
      expect(report.verdict).toBe('same');
      expect(report.unjudged).toBe(12);
      expect(report.inputs).toBe(3);
      expect(report.notRun).toBe(0);
    }, 120_000);

    it('confirms a version’s timeout with the full call limit before counting it a difference', async () => {
      // The version loops on 5, where its parent answers at once: a difference at any machine speed.
      const hangsOnFive = COUNTDOWN.replace('    steps = 0', '    steps = 0\n    while n == 5:\n        pass');
      const report = await judge(hangsOnFive, [[3], [5], [6], [-2]]);
      expect(report.verdict).toBe('refused');
      expect(report.differences[0]!.output.error).toBe('timeout');
      expect(report.unjudged).toBe(1); // -2: the parent never finishes either
    }, 120_000);

    it('stops starting inputs once the budget is spent, with a verdict from those that ran', async () => {
      const inputs: JsonValue[] = [[1], [2], ...Array.from({ length: 40 }, (_, i) => [-1 - i])];
      const report = await judge(COUNTDOWN.replace('steps = 0', 'steps = 0 * 1'), inputs, 1500);
      expect(report.verdict).toBe('same');
      expect(report.inputs).toBe(2);
      expect(report.notRun ?? 0).toBeGreaterThan(0);
      expect(report.unjudged + (report.notRun ?? 0)).toBe(40);
    }, 120_000);
  });
});
