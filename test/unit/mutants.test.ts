import { describe, expect, it } from 'vitest';
import { mutantsOf, spreadEvenly } from '../../src/judge/mutants.js';

// Single-point mutants, cut by each language's own tokenizer.

describe('mutantsOf', () => {
  it('swaps operators, moves whole-number constants by one and flips booleans in JavaScript, never inside strings', () => {
    const code = `function run(s) {\n  const tag = "a < b + 1";\n  return s.length <= 3 && true ? s.length * 2 : -1;\n}`;
    const mutants = mutantsOf({ code, language: 'javascript' });
    const changes = mutants.map((m) => `${m.operator}:${m.line}:${m.from}→${m.to}`);
    expect(changes).toEqual([
      'comparison:3:<=→<',
      'comparison:3:<=→>=',
      'constant:3:3→4',
      'constant:3:3→2',
      'boolean:3:&&→||',
      'constant:3:true→false',
      'arithmetic:3:*→/',
      'arithmetic:3:*→+',
      'constant:3:2→3',
      'constant:3:2→1',
      'arithmetic:3:-→+',
      'constant:3:1→2',
      'constant:3:1→0',
    ]);
    for (const m of mutants) expect(m.code).toContain('"a < b + 1"');
  });

  it('uses Python’s own tokens: and/or, True/False, // and %', async () => {
    const code = `def run(n):\n    # n < 0 stays\n    return n // 2 if n % 3 == 0 and True else 0\n`;
    const changes = mutantsOf({ code, language: 'python' }).map((m) => `${m.operator}:${m.line}:${m.from}→${m.to}`);
    expect(changes).toEqual([
      'arithmetic:3://→*',
      'arithmetic:3://→%',
      'constant:3:2→3',
      'constant:3:2→1',
      'arithmetic:3:%→//',
      'constant:3:3→4',
      'constant:3:3→2',
      'comparison:3:==→!=',
      'constant:3:0→1',
      'boolean:3:and→or',
      'constant:3:True→False',
      'constant:3:0→1',
    ]);
  });

  it('keeps only mutants that parse, and none twice', () => {
    const mutants = mutantsOf({ code: 'function run(x) { return x-1; }', language: 'javascript' });
    expect(new Set(mutants.map((m) => m.code)).size).toBe(mutants.length);
    expect(mutants.map((m) => m.code)).toContain('function run(x) { return x+1; }');
  });

  it('spreads a limit evenly over the list', () => {
    expect(spreadEvenly([1, 2, 3, 4, 5, 6, 7, 8], 4)).toEqual([1, 3, 5, 7]);
    expect(spreadEvenly([1, 2], 4)).toEqual([1, 2]);
  });
});
