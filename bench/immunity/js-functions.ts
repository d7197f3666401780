import * as acorn from 'acorn';
import * as walk from 'acorn-walk';
import type { JsonValue } from '../../src/shared/lineage-types.js';

/**
 * The JavaScript half of the immunity benchmark: ordinary functions of the kinds generated tools
 * are (validators, formatters, small numeric helpers), each with tests whose first two are the
 * visible suite, mutated by the same operators as the Python corpus.
 */
export interface JsProblem {
  name: string;
  code: string;
  tests: { input: JsonValue; expected: JsonValue }[];
}

const fn = (name: string, body: string, tests: [JsonValue[], JsonValue][]): JsProblem => ({
  name,
  code: `${body.trim()}\n\nfunction run(input) {\n  return ${name}(...input);\n}\n`,
  tests: tests.map(([input, expected]) => ({ input, expected })),
});

export const JS_PROBLEMS: JsProblem[] = [
  fn(
    'isPrime',
    `function isPrime(n) {
  if (n < 2) return false;
  for (let k = 2; k * k <= n; k++) if (n % k === 0) return false;
  return true;
}`,
    [
      [[7], true],
      [[10], false],
      [[2], true],
      [[1], false],
      [[9], false],
      [[25], false],
      [[97], true],
      [[0], false],
    ],
  ),
  fn(
    'belowThreshold',
    `function belowThreshold(list, t) {
  for (const e of list) if (e >= t) return false;
  return true;
}`,
    [
      [[[1, 2, 4], 100], true],
      [[[1, 20, 4], 5], false],
      [[[1, 8, 4, 10], 10], false],
      [[[1, 8, 4, 10], 11], true],
      [[[], 0], true],
    ],
  ),
  fn(
    'clamp',
    `function clamp(x, lo, hi) {
  if (x < lo) return lo;
  if (x > hi) return hi;
  return x;
}`,
    [
      [[5, 0, 10], 5],
      [[-5, 0, 10], 0],
      [[15, 0, 10], 10],
      [[0, 0, 10], 0],
      [[10, 0, 10], 10],
      [[11, 0, 10], 10],
    ],
  ),
  fn(
    'fizzBuzz',
    `function fizzBuzz(n) {
  if (n % 15 === 0) return 'FizzBuzz';
  if (n % 3 === 0) return 'Fizz';
  if (n % 5 === 0) return 'Buzz';
  return String(n);
}`,
    [
      [[15], 'FizzBuzz'],
      [[7], '7'],
      [[9], 'Fizz'],
      [[10], 'Buzz'],
      [[30], 'FizzBuzz'],
      [[1], '1'],
    ],
  ),
  fn(
    'countVowels',
    `function countVowels(s) {
  let n = 0;
  for (const c of s.toLowerCase()) if ('aeiou'.includes(c)) n++;
  return n;
}`,
    [
      [['hello'], 2],
      [['xyz'], 0],
      [['AEIOU'], 5],
      [['queue'], 4],
      [[''], 0],
      [['rhythm and blues'], 3],
    ],
  ),
  fn(
    'isLeapYear',
    `function isLeapYear(y) {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}`,
    [
      [[2024], true],
      [[2023], false],
      [[1900], false],
      [[2000], true],
      [[2100], false],
      [[1996], true],
    ],
  ),
  fn(
    'median',
    `function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}`,
    [
      [[[3, 1, 2]], 2],
      [[[4, 1, 3, 2]], 2.5],
      [[[5]], 5],
      [[[1, 1, 1, 9]], 1],
      [[[10, 2, 8, 4, 6]], 6],
    ],
  ),
  fn(
    'binarySearch',
    `function binarySearch(xs, x) {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] === x) return mid;
    if (xs[mid] < x) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}`,
    [
      [[[1, 3, 5, 7], 5], 2],
      [[[1, 3, 5, 7], 4], -1],
      [[[1, 3, 5, 7], 1], 0],
      [[[1, 3, 5, 7], 7], 3],
      [[[], 1], -1],
      [[[2], 2], 0],
    ],
  ),
  fn(
    'grade',
    `function grade(score) {
  if (score >= 90) return 'A';
  if (score >= 80) return 'B';
  if (score >= 70) return 'C';
  if (score >= 60) return 'D';
  return 'F';
}`,
    [
      [[95], 'A'],
      [[42], 'F'],
      [[90], 'A'],
      [[80], 'B'],
      [[79], 'C'],
      [[60], 'D'],
      [[59], 'F'],
    ],
  ),
  fn(
    'isPalindrome',
    `function isPalindrome(s) {
  const t = s.toLowerCase().replace(/[^a-z0-9]/g, '');
  for (let i = 0, j = t.length - 1; i < j; i++, j--) if (t[i] !== t[j]) return false;
  return true;
}`,
    [
      [['racecar'], true],
      [['hello'], false],
      [['A man, a plan, a canal: Panama'], true],
      [['ab'], false],
      [[''], true],
      [['abca'], false],
    ],
  ),
  fn(
    'runLength',
    `function runLength(s) {
  let out = '';
  for (let i = 0; i < s.length; ) {
    let j = i;
    while (j < s.length && s[j] === s[i]) j++;
    out += (j - i > 1 ? j - i : '') + s[i];
    i = j;
  }
  return out;
}`,
    [
      [['aaabcc'], '3ab2c'],
      [['abc'], 'abc'],
      [[''], ''],
      [['aa'], '2a'],
      [['abbbbbbbbbbb'], 'a11b'],
    ],
  ),
  fn(
    'maxSubarray',
    `function maxSubarray(xs) {
  let best = xs[0];
  let cur = 0;
  for (const x of xs) {
    cur = Math.max(x, cur + x);
    best = Math.max(best, cur);
  }
  return best;
}`,
    [
      [[[1, -2, 3, 4]], 7],
      [[[-3, -1, -2]], -1],
      [[[5]], 5],
      [[[2, -1, 2]], 3],
      [[[-2, 1, -3, 4, -1, 2, 1, -5, 4]], 6],
    ],
  ),
  fn(
    'sumDigits',
    `function sumDigits(n) {
  let s = 0;
  for (let m = Math.abs(n); m > 0; m = Math.floor(m / 10)) s += m % 10;
  return s;
}`,
    [
      [[123], 6],
      [[0], 0],
      [[-45], 9],
      [[1000], 1],
      [[99], 18],
    ],
  ),
  fn(
    'titleCase',
    `function titleCase(s) {
  return s
    .split(' ')
    .map((w) => (w.length > 3 ? w[0].toUpperCase() + w.slice(1) : w))
    .join(' ');
}`,
    [
      [['the quick fox'], 'the Quick fox'],
      [['hello world'], 'Hello World'],
      [['a bb ccc dddd'], 'a bb ccc Dddd'],
      [[''], ''],
      [['jump over'], 'Jump Over'],
    ],
  ),
  fn(
    'romanToInt',
    `function romanToInt(s) {
  const v = { I: 1, V: 5, X: 10, L: 50, C: 100, D: 500, M: 1000 };
  let total = 0;
  for (let i = 0; i < s.length; i++) {
    const cur = v[s[i]];
    const next = v[s[i + 1]] || 0;
    total += cur < next ? -cur : cur;
  }
  return total;
}`,
    [
      [['III'], 3],
      [['IV'], 4],
      [['IX'], 9],
      [['LVIII'], 58],
      [['MCMXCIV'], 1994],
      [['XL'], 40],
      [['D'], 500],
    ],
  ),
  fn(
    'shippingCost',
    `function shippingCost(weight) {
  if (weight <= 0) return 0;
  if (weight <= 1) return 5;
  if (weight <= 5) return 8;
  return 8 + Math.ceil(weight - 5) * 2;
}`,
    [
      [[0.5], 5],
      [[3], 8],
      [[1], 5],
      [[5], 8],
      [[6], 10],
      [[7.5], 14],
      [[0], 0],
    ],
  ),
  fn(
    'passwordStrength',
    `function passwordStrength(pw) {
  let score = 0;
  if (pw.length >= 8) score++;
  if (/[A-Z]/.test(pw)) score++;
  if (/[0-9]/.test(pw)) score++;
  if (/[^A-Za-z0-9]/.test(pw)) score++;
  return score >= 3 ? 'strong' : score === 2 ? 'medium' : 'weak';
}`,
    [
      [['abc'], 'weak'],
      [['Abcdefg1!'], 'strong'],
      [['abcdefgh'], 'weak'],
      [['Abcdefgh'], 'medium'],
      [['abcdefg1'], 'medium'],
      [['ABCDEFG1'], 'strong'],
    ],
  ),
  fn(
    'wordFrequency',
    `function wordFrequency(text, word) {
  return text.toLowerCase().split(/\\s+/).filter((w) => w === word).length;
}`,
    [
      [['the cat and the hat', 'the'], 2],
      [['a b c', 'd'], 0],
      [['The the THE', 'the'], 3],
      [['x', 'x'], 1],
      [['', 'x'], 0],
    ],
  ),
  fn(
    'discount',
    `function discount(total, isMember) {
  if (total >= 100 && isMember) return total * 0.8;
  if (total >= 100 || isMember) return total * 0.9;
  return total;
}`,
    [
      [[200, true], 160],
      [[50, false], 50],
      [[100, false], 90],
      [[50, true], 45],
      [[99, false], 99],
      [[100, true], 80],
    ],
  ),
  fn(
    'sortWords',
    `function sortWords(s) {
  const order = { low: 0, medium: 1, high: 2, critical: 3 };
  return s
    .split(' ')
    .filter((w) => w)
    .sort((a, b) => order[a] - order[b])
    .join(' ');
}`,
    [
      [['high low'], 'low high'],
      [[''], ''],
      [['critical medium low'], 'low medium critical'],
      [['medium high'], 'medium high'],
      [['high critical low medium'], 'low medium high critical'],
    ],
  ),
];

const CMP_SWAPS: Record<string, string[]> = {
  '<': ['<=', '>'],
  '<=': ['<', '>='],
  '>': ['>=', '<'],
  '>=': ['>', '<='],
  '===': ['!=='],
  '!==': ['==='],
};
const BIN_SWAPS: Record<string, string[]> = { '+': ['-'], '-': ['+'], '*': ['/', '+'], '/': ['*'], '%': ['*'] };
const LOGIC_SWAPS: Record<string, string> = { '&&': '||', '||': '&&' };

/** Single-point mutants of a function's code (the `run` wrapper excluded): operators and constants. */
export function jsMutants(code: string): { operator: string; line: number; code: string }[] {
  const wrapperAt = code.indexOf('\n\nfunction run(input)');
  const ast = acorn.parse(code, { ecmaVersion: 'latest', locations: true });
  const edits: { start: number; end: number; text: string; operator: string; line: number }[] = [];
  const opBetween = (left: acorn.Node, right: acorn.Node, op: string) => {
    const at = code.indexOf(op, left.end);
    return at >= 0 && at < right.start ? at : -1;
  };
  walk.full(ast, (node) => {
    if (node.end > wrapperAt) return;
    const line = (node as acorn.Node & { loc: acorn.SourceLocation }).loc.start.line;
    if (node.type === 'BinaryExpression' || node.type === 'LogicalExpression') {
      const n = node as acorn.BinaryExpression | acorn.LogicalExpression;
      const at = opBetween(n.left, n.right, n.operator);
      if (at < 0) return;
      const swaps =
        CMP_SWAPS[n.operator] ?? BIN_SWAPS[n.operator] ?? (LOGIC_SWAPS[n.operator] ? [LOGIC_SWAPS[n.operator]!] : []);
      const operator = CMP_SWAPS[n.operator] ? 'comparison' : LOGIC_SWAPS[n.operator] ? 'boolean' : 'arithmetic';
      for (const text of swaps) edits.push({ start: at, end: at + n.operator.length, text, operator, line });
    } else if (node.type === 'Literal') {
      const n = node as acorn.Literal;
      if (typeof n.value === 'number') {
        for (const c of [n.value + 1, n.value - 1])
          edits.push({ start: n.start, end: n.end, text: String(c), operator: 'constant', line });
      } else if (typeof n.value === 'boolean') {
        edits.push({ start: n.start, end: n.end, text: String(!n.value), operator: 'constant', line });
      }
    }
  });
  const seen = new Set<string>();
  return edits.flatMap((e) => {
    const mutated = code.slice(0, e.start) + e.text + code.slice(e.end);
    if (seen.has(mutated) || mutated === code) return [];
    seen.add(mutated);
    try {
      acorn.parse(mutated, { ecmaVersion: 'latest' });
    } catch {
      return [];
    }
    return [{ operator: e.operator, line: e.line, code: mutated }];
  });
}

/**
 * A faithful rewrite: the same function with every local name changed and its indentation reflowed
 * (text that differs on most lines, behaviour that differs nowhere).
 */
export function jsRewrite(code: string): string {
  const ast = acorn.parse(code, { ecmaVersion: 'latest' });
  const locals = new Set<string>();
  walk.full(ast, (node) => {
    if (node.type === 'VariableDeclarator' && (node as acorn.VariableDeclarator).id.type === 'Identifier')
      locals.add(((node as acorn.VariableDeclarator).id as acorn.Identifier).name);
    if (node.type === 'FunctionDeclaration' || node.type === 'ArrowFunctionExpression') {
      for (const p of (node as acorn.Function).params) if (p.type === 'Identifier') locals.add(p.name);
    }
  });
  locals.delete('input');
  const renames: { start: number; end: number; name: string }[] = [];
  walk.fullAncestor(ast, (node, _state, ancestors) => {
    if (node.type !== 'Identifier' || !locals.has((node as acorn.Identifier).name)) return;
    const parent = ancestors[ancestors.length - 2];
    if (
      parent?.type === 'MemberExpression' &&
      (parent as acorn.MemberExpression).property === node &&
      !(parent as acorn.MemberExpression).computed
    )
      return;
    if (parent?.type === 'Property' && (parent as acorn.Property).key === node && !(parent as acorn.Property).computed)
      return;
    renames.push({ start: node.start, end: node.end, name: `${(node as acorn.Identifier).name}Value` });
  });
  let out = code;
  for (const r of renames.sort((a, b) => b.start - a.start)) out = out.slice(0, r.start) + r.name + out.slice(r.end);
  return out.replace(/\n {2}/g, '\n\t');
}
