import type { CorpusSourceName, JsonValue } from '../shared/lineage-types.js';

/**
 * Inputs that read the code: a bug hides where the code decides — at its constants, at the edges
 * of its comparisons, where one argument meets another, in the words it knows. Each source derives
 * inputs from the suite's inputs (their shape is the tool's input shape) and the code of the version
 * and its parent(s). Everything here is deterministic: no seed, the same code gives the same inputs.
 */
export const CODE_SOURCES = [
  'literals',
  'sweep',
  'reuse',
  'structure',
  'strings',
  'lengths',
  'products',
  'digits',
  'characters',
] as const satisfies readonly CorpusSourceName[];
export type CodeSource = (typeof CODE_SOURCES)[number];
/** The sources that take their turns first (the later ones share what is left of the code's share). */
export const FIRST_CODE_SOURCES: readonly CodeSource[] = ['literals', 'sweep', 'reuse', 'structure', 'strings'];

/** Small integers every numeric argument is swept over: most off-by-one and parity bugs live here. */
const SWEEP = Array.from({ length: 24 }, (_, i) => i - 3);
/** Literals longer than this are messages, not words the code matches on. */
const MAX_WORD = 24;
/** Most literals of either kind taken from the code (changed lines first). */
const MAX_LITERALS = 40;
/** Most inputs one source derives from one suite input. */
const PER_TEMPLATE = 400;

export interface CodeFacts {
  /** Numbers in the code, those on changed lines first. */
  numbers: number[];
  /** Short string literals in the code, those on changed lines first. */
  words: string[];
}

const NUMBER = /(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])/g;
// Quoted literals with escapes, or the start of a line comment; the languages' own quote rules are
// close enough for harvesting.
const STRING_OR_COMMENT = /'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)"|\/\/|#/g;

const OBJECT_KEY = /[{,]\s*([A-Za-z_$][\w$]*)\s*:/g;

function unescape(s: string): string {
  return s.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t', r: '\r', 0: '\0' })[c] ?? c);
}

/** A line's string literals, and its code outside strings and comments. */
function splitLine(line: string): { strings: string[]; code: string } {
  const strings: string[] = [];
  let code = '';
  let at = 0;
  for (const m of line.matchAll(STRING_OR_COMMENT)) {
    code += line.slice(at, m.index);
    at = m.index + m[0].length;
    if (m[0] === '//' || m[0] === '#') return { strings, code };
    strings.push(unescape(m[1] ?? m[2] ?? ''));
    code += ' ';
  }
  return { strings, code: code + line.slice(at) };
}

/** Lines of one code that the other lacks: where a single-point change sits. */
function changedLines(codes: string[]): string[] {
  if (codes.length < 2) return [];
  const sets = codes.map((c) => new Set(c.split('\n').map((l) => l.trim())));
  return codes.flatMap((c, i) =>
    c
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && sets.some((s, j) => j !== i && !s.has(l))),
  );
}

function harvest(lines: string[], numbers: Set<number>, words: Set<string>): void {
  for (const line of lines) {
    const { strings, code } = splitLine(line);
    // Object keys the code maps from (`{ I: 1, V: 5 }`, `{'five': 5}`) are words it knows too.
    const keys = [...code.matchAll(OBJECT_KEY)].map((m) => m[1]!);
    for (const text of [...strings, ...keys]) if (text.length <= MAX_WORD && words.size < MAX_LITERALS) words.add(text);
    for (const m of code.matchAll(NUMBER)) {
      const n = Number(m[1]);
      if (Number.isFinite(n) && numbers.size < MAX_LITERALS) numbers.add(n);
    }
  }
}

/** The numbers and words of the codes, changed lines first. */
export function codeFacts(codes: string[]): CodeFacts {
  const numbers = new Set<number>();
  const words = new Set<string>();
  harvest(changedLines(codes), numbers, words);
  for (const code of codes) harvest(code.split('\n'), numbers, words);
  return { numbers: [...numbers], words: [...words] };
}

type Path = (string | number)[];

/** Every leaf (and array) of a value with its path. */
function nodes(value: JsonValue, path: Path = [], out: { path: Path; value: JsonValue }[] = []) {
  out.push({ path, value });
  if (Array.isArray(value)) value.forEach((v, i) => nodes(v, [...path, i], out));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) nodes(v, [...path, k], out);
  return out;
}

function setAt(value: JsonValue, path: Path, replacement: JsonValue): JsonValue {
  if (!path.length) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) return value.map((v, i) => (i === head ? setAt(v, rest, replacement) : v));
  if (value !== null && typeof value === 'object')
    return { ...value, [head!]: setAt(value[head as string]!, rest, replacement) };
  return value;
}

/** c−1, c, c+1 of every number in the code (integers stay integers). */
function neighbours(numbers: number[]): number[] {
  return [...new Set(numbers.flatMap((c) => [c - 1, c, c + 1, -c]))];
}

function* literals(template: JsonValue, facts: CodeFacts): Generator<JsonValue> {
  const values = neighbours(facts.numbers);
  const all = nodes(template);
  for (const { path, value } of all)
    if (typeof value === 'number') for (const n of values) yield setAt(template, path, n);
  // Then each list given one of them more: a constant the code compares elements against.
  for (const { path, value } of all)
    if (Array.isArray(value)) for (const n of values) yield setAt(template, path, [...value, n]);
}

function* sweep(template: JsonValue): Generator<JsonValue> {
  const leaves = nodes(template).filter((n) => typeof n.value === 'number');
  for (const n of SWEEP) for (const { path } of leaves) yield setAt(template, path, n);
  // Lists of numbers swept as a whole too: [n], [n, n], and the list with each element set to n.
  for (const { path, value } of nodes(template)) {
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) continue;
    for (const n of SWEEP.filter((x) => x >= 0 && x <= 10)) {
      yield setAt(template, path, [n]);
      yield setAt(template, path, [n, n]);
      yield setAt(template, path, [n, n + 1]);
      yield setAt(template, path, [n + 1, n]);
      for (let i = 0; i < value.length; i++)
        yield setAt(
          template,
          path,
          value.map((v, j) => (j === i ? n : v)),
        );
    }
  }
}

/** A value of one argument reused in another: the threshold put in the list, the key as the value. */
function* reuse(template: JsonValue): Generator<JsonValue> {
  const all = nodes(template).filter((n) => n.path.length);
  const scalars = all.filter((n) => typeof n.value === 'number' || typeof n.value === 'string');
  for (const from of scalars) {
    for (const to of all) {
      if (
        to.path.join('\u0000').startsWith(from.path.join('\u0000')) ||
        from.path.join('\u0000').startsWith(to.path.join('\u0000'))
      )
        continue;
      if (Array.isArray(to.value)) {
        const list = to.value;
        yield setAt(template, to.path, [...list, from.value]);
        yield setAt(template, to.path, [from.value, ...list]);
        for (let i = 0; i < list.length; i++)
          yield setAt(
            template,
            to.path,
            list.map((v, j) => (j === i ? from.value : v)),
          );
      } else if (typeof to.value === typeof from.value) {
        yield setAt(template, to.path, from.value);
      }
    }
  }
}

function sortedCopy(list: JsonValue[]): JsonValue[] {
  return [...list].sort((a, b) =>
    typeof a === 'number' && typeof b === 'number' ? a - b : JSON.stringify(a) < JSON.stringify(b) ? -1 : 1,
  );
}

/** Lists and objects edited in shape: insert, remove, duplicate, reorder, sort, shorten, empty. */
function* structure(template: JsonValue): Generator<JsonValue> {
  for (const { path, value } of nodes(template)) {
    if (Array.isArray(value)) {
      yield setAt(template, path, []);
      yield setAt(template, path, sortedCopy(value));
      yield setAt(template, path, sortedCopy(value).reverse());
      yield setAt(template, path, [...value].reverse());
      yield setAt(template, path, [...value, ...value]);
      for (let k = 1; k < value.length; k++) yield setAt(template, path, value.slice(0, k));
      for (let i = 0; i < value.length; i++) {
        yield setAt(
          template,
          path,
          value.filter((_, j) => j !== i),
        );
        yield setAt(template, path, [...value.slice(0, i + 1), value[i]!, ...value.slice(i + 1)]);
        yield setAt(template, path, [...value.slice(i), ...value.slice(0, i)]);
        if (i + 1 < value.length)
          yield setAt(template, path, [...value.slice(0, i), value[i + 1]!, value[i]!, ...value.slice(i + 2)]);
      }
    } else if (value !== null && typeof value === 'object') {
      yield setAt(template, path, {});
      const keys = Object.keys(value);
      for (const k of keys)
        yield setAt(template, path, Object.fromEntries(Object.entries(value).filter(([kk]) => kk !== k)));
      yield setAt(template, path, Object.fromEntries(Object.entries(value).reverse()));
    }
  }
}

/** The code's words put into string arguments: alone, in pairs both ways, and beside the original. */
function* strings(template: JsonValue, facts: CodeFacts): Generator<JsonValue> {
  const words = facts.words.filter((w) => w.length);
  for (const { path, value } of nodes(template)) {
    if (typeof value !== 'string') continue;
    const separator = /\s/.test(value) ? ' ' : (value.match(/[^\p{L}\p{N}]/u)?.[0] ?? ' ');
    for (const w of words) yield setAt(template, path, w);
    for (const a of words) for (const b of words) if (a !== b) yield setAt(template, path, `${a}${separator}${b}`);
    for (const a of words)
      for (const b of words) if (a !== b && separator !== '') yield setAt(template, path, `${a}${b}`);
    for (const w of words) {
      yield setAt(template, path, value ? `${value}${separator}${w}` : w);
      yield setAt(template, path, value ? `${w}${separator}${value}` : w);
    }
  }
}

/** String and list lengths every string and list argument is set to: lengths decide primes, parity, halves. */
const LENGTHS = Array.from({ length: 17 }, (_, i) => i);

/** A string or list made `n` long from its own elements (repeated when shorter). */
function resized<T>(items: T[], filler: T, n: number): T[] {
  const from = items.length ? items : [filler];
  return Array.from({ length: n }, (_, i) => from[i % from.length]!);
}

/**
 * Every string argument at each length 0 to 16, built from its own characters, and every list of
 * scalars grown to those lengths (shorter lists are the structure source's).
 */
function* lengths(template: JsonValue): Generator<JsonValue> {
  const all = nodes(template);
  for (const n of LENGTHS)
    for (const { path, value } of all) {
      if (typeof value === 'string') yield setAt(template, path, resized([...value], 'a', n).join(''));
      else if (Array.isArray(value) && n > value.length && value.every((v) => typeof v !== 'object' || v === null))
        yield setAt(template, path, resized(value, 1, n));
    }
}

/** Small primes: products of two and three of them are what factor and divisor code decides on. */
const PRIMES = [2, 3, 5, 7, 11, 13];

/** Products of two and three small primes (and of the code's small whole numbers), and sums of the code's numbers in pairs. */
function productValues(facts: CodeFacts): number[] {
  const small = [...new Set([...PRIMES, ...facts.numbers.filter((n) => Number.isInteger(n) && n > 1 && n <= 20)])];
  const out = new Set<number>();
  for (const a of small) for (const b of small) if (a <= b) out.add(a * b);
  for (const a of PRIMES) for (const b of PRIMES) for (const c of PRIMES) if (a <= b && b <= c) out.add(a * b * c);
  const numbers = facts.numbers.filter(Number.isInteger);
  for (const a of numbers) for (const b of numbers) if (a < b) out.add(a + b);
  // Above the sweep (which has the small ones), smaller first.
  return [...out].filter((n) => n > SWEEP[SWEEP.length - 1]!).sort((x, y) => x - y);
}

/** Each number argument set to a product of small primes, or to the sum of two of the code's numbers. */
function* products(template: JsonValue, facts: CodeFacts): Generator<JsonValue> {
  const leaves = nodes(template).filter((n) => typeof n.value === 'number');
  for (const v of productValues(facts)) for (const { path } of leaves) yield setAt(template, path, v);
}

const DIGIT_RUN = /\d+/g;

/** `n` written as a run of digits as wide as `width` (zero-padded, as in `03-11-2000`). */
function padded(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/**
 * Numbers written inside strings (dates, versions, codes): each run of digits replaced by the code's
 * numbers and their neighbours and by 0 to 12, one run at a time, then two runs at a time.
 */
function* digits(template: JsonValue, facts: CodeFacts): Generator<JsonValue> {
  const values = [
    ...new Set(
      [...neighbours(facts.numbers), ...SWEEP.filter((n) => n >= 0 && n <= 12)].filter(
        (n) => Number.isInteger(n) && n >= 0,
      ),
    ),
  ];
  const strings = nodes(template).filter((n) => typeof n.value === 'string');
  const runsOf = (text: string) => [...text.matchAll(DIGIT_RUN)].map((m) => ({ at: m.index, width: m[0].length }));
  const replace = (text: string, runs: { at: number; width: number }[], by: number[]) => {
    let out = text;
    // Right to left, so earlier positions stay valid.
    for (let k = runs.length - 1; k >= 0; k--)
      out = out.slice(0, runs[k]!.at) + padded(by[k]!, runs[k]!.width) + out.slice(runs[k]!.at + runs[k]!.width);
    return out;
  };
  for (const { path, value } of strings) {
    const runs = runsOf(value as string);
    for (const run of runs) for (const v of values) yield setAt(template, path, replace(value as string, [run], [v]));
  }
  for (const { path, value } of strings) {
    const runs = runsOf(value as string);
    for (let i = 0; i < runs.length; i++)
      for (let j = i + 1; j < runs.length; j++)
        for (const a of values)
          for (const b of values) yield setAt(template, path, replace(value as string, [runs[i]!, runs[j]!], [a, b]));
  }
}

/** Representatives of each character class, and the edges of the letter and digit ranges. */
const CLASS_CHARACTERS = ['a', 'z', 'A', 'Z', '0', '9', ' ', '.', '!', '_', '`', '{', '@', '[', '/', ':'];

/**
 * Strings ending (and made of) one character: each class's edges, and the characters whose codes
 * are the code's numbers and their neighbours (code comparing `ord(c)` with 97 and 122).
 */
function* characters(template: JsonValue, facts: CodeFacts): Generator<JsonValue> {
  const codes = neighbours(facts.numbers).filter((n) => Number.isInteger(n) && n >= 32 && n <= 126);
  const chars = [...new Set([...CLASS_CHARACTERS, ...codes.map((n) => String.fromCharCode(n))])];
  for (const { path, value } of nodes(template)) {
    if (typeof value !== 'string') continue;
    for (const c of chars) {
      yield setAt(template, path, `${value}${c}`);
      yield setAt(template, path, `${value} ${c}`);
      yield setAt(template, path, c);
      if (value) yield setAt(template, path, `${value.slice(0, -1)}${c}`);
    }
  }
}

function* capped(source: Iterable<JsonValue>): Generator<JsonValue> {
  let n = 0;
  for (const v of source) {
    if (n++ >= PER_TEMPLATE) return;
    yield v;
  }
}

/** Each source's inputs, derived from every template in turn. */
export function codeInputs(templates: JsonValue[], facts: CodeFacts): Record<CodeSource, Iterable<JsonValue>> {
  const over = (make: (t: JsonValue) => Iterable<JsonValue>) => ({
    *[Symbol.iterator]() {
      for (const t of templates) yield* capped(make(t));
    },
  });
  // The later sources take one input of each template in turn: their share is small.
  const interleaved = (make: (t: JsonValue) => Iterable<JsonValue>) => ({
    *[Symbol.iterator]() {
      const live = templates.map((t) => capped(make(t)));
      while (live.length) {
        for (let i = 0; i < live.length;) {
          const next = live[i]!.next();
          if (next.done) live.splice(i, 1);
          else {
            yield next.value;
            i++;
          }
        }
      }
    },
  });
  return {
    literals: over((t) => literals(t, facts)),
    sweep: over(sweep),
    reuse: over(reuse),
    structure: over(structure),
    strings: over((t) => strings(t, facts)),
    lengths: interleaved(lengths),
    products: interleaved((t) => products(t, facts)),
    digits: interleaved((t) => digits(t, facts)),
    characters: interleaved((t) => characters(t, facts)),
  };
}
