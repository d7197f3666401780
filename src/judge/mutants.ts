import { codePieces } from '../detection/tokens.js';
import { checkToolCode } from '../detection/tool-code.js';
import type { MutationOperator } from '../shared/immunity-types.js';
import type { ToolSource } from '../shared/language.js';

export interface Mutant {
  operator: MutationOperator;
  /** 1-based line of the changed token. */
  line: number;
  /** The token as written, and what it became. */
  from: string;
  to: string;
  code: string;
}

const COMPARISON: Record<string, string[]> = {
  '<': ['<=', '>'],
  '<=': ['<', '>='],
  '>': ['>=', '<'],
  '>=': ['>', '<='],
  '===': ['!=='],
  '!==': ['==='],
  '==': ['!='],
  '!=': ['=='],
};
const ARITHMETIC: Record<string, Record<string, string[]>> = {
  javascript: { '+': ['-'], '-': ['+'], '*': ['/', '+'], '/': ['*'], '%': ['*'] },
  python: { '+': ['-'], '-': ['+'], '*': ['//', '+'], '/': ['*'], '//': ['*', '%'], '%': ['//'] },
};
const BOOLEAN: Record<string, Record<string, string>> = {
  javascript: { '&&': '||', '||': '&&', true: 'false', false: 'true' },
  python: { and: 'or', or: 'and', True: 'False', False: 'True' },
};

/** What one token may become, and under which operator. */
function replacements(token: string, language: ToolSource['language']): [MutationOperator, string][] {
  const comparison = COMPARISON[token];
  if (comparison) return comparison.map((to) => ['comparison', to]);
  const arithmetic = ARITHMETIC[language]![token];
  if (arithmetic) return arithmetic.map((to) => ['arithmetic', to]);
  const flipped = BOOLEAN[language]![token];
  if (flipped) return [[/^(?:true|false)$/i.test(token) ? 'constant' : 'boolean', flipped]];
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    return (n > 0 ? [n + 1, n - 1] : [n + 1]).map((c) => ['constant', String(c)]);
  }
  return [];
}

/**
 * Single-point mutants of a tool's code, token by token (operators swapped, whole-number constants ±1,
 * booleans flipped), each one that still parses, in the order they appear. Both languages are cut
 * into tokens by their own tokenizer, so strings and comments are never touched.
 */
export function mutantsOf(source: ToolSource): Mutant[] {
  const pieces = codePieces(source.code, source.language);
  if (!pieces) return [];
  const mutants: Mutant[] = [];
  const seen = new Set<string>([source.code]);
  let line = 1;
  let offset = 0;
  for (const piece of pieces) {
    for (const [operator, to] of replacements(piece, source.language)) {
      const code = source.code.slice(0, offset) + to + source.code.slice(offset + piece.length);
      if (seen.has(code) || !parses(code, source.language)) continue;
      seen.add(code);
      mutants.push({ operator, line, from: piece, to, code });
    }
    line += piece.split('\n').length - 1;
    offset += piece.length;
  }
  return mutants;
}

function parses(code: string, language: ToolSource['language']): boolean {
  try {
    checkToolCode(code, language);
    return true;
  } catch {
    return false;
  }
}

/** At most `n` items, evenly spread over the list (so a long tool's mutants are not all from its top). */
export function spreadEvenly<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  return Array.from({ length: n }, (_, i) => items[Math.floor((i * items.length) / n)]!);
}
