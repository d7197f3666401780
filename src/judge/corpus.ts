import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { CORPUS_SOURCES, type CorpusCounts, type CorpusSourceName, type JsonValue } from '../shared/lineage-types.js';
import {
  CODE_SOURCES,
  codeFacts,
  codeInputs,
  FIRST_CODE_SOURCES,
  type CodeFacts,
  type CodeSource,
} from './code-inputs.js';

/**
 * Where a corpus input came from: the suites, recorded calls, inputs derived from them by reading the
 * code (its literals, sweeps, reuse of one argument in another, shape edits, its words), or random
 * edits (`generated`).
 */
export type CorpusSource = CorpusSourceName;

export interface CorpusInput {
  input: JsonValue;
  /** The input as JSON text (what the sandbox is given). */
  json: string;
  source: CorpusSource;
}

/** A source that threw while building the corpus: its inputs stop where it threw. */
export interface BrokenSource {
  source: CorpusSource | 'code facts';
  /** The exception, as `Name: message`. */
  error: string;
}

export interface Corpus {
  inputs: CorpusInput[];
  seed: number;
  sources: CorpusCounts;
  /**
   * Sources that threw (a hostile literal, a bug in a generator). The corpus keeps what the other
   * sources built, and the differential check refuses the version, naming each source and its error:
   * a check that could not run as configured never lets a version through.
   */
  broken?: BrokenSource[];
}

export interface CorpusOptions {
  /** Every input of the suites in scope, minted tests included. */
  suiteInputs: JsonValue[];
  /** The tool's sample of recorded real inputs. */
  recordedInputs: JsonValue[];
  /** Most inputs in all. */
  size: number;
  /** Most inputs derived from the suite and recorded ones (read from the code, or random edits). */
  generated: number;
  seed: number;
  /** The code of the version judged and of its parent(s): their literals and comparisons seed inputs. */
  codes?: string[];
  /** The code-reading sources used (default all; none gives the suite, recorded and random edits only). */
  codeSources?: readonly CodeSource[];
}

/** A 31-bit seed derived from a text (the version id), so a check is repeatable without configuration. */
export function seedFrom(text: string): number {
  return createHash('sha256').update(text).digest().readUInt32BE(0) & 0x7fffffff;
}

// What the generator edits strings with: separators and the characters validators trip over.
const SPECIALS = [
  '@',
  '.',
  '-',
  '_',
  '+',
  '/',
  '\\',
  ':',
  ';',
  ',',
  '"',
  "'",
  '%',
  '#',
  '!',
  '<',
  '>',
  '(',
  ')',
  '[',
  ']',
  '=',
  '?',
  '&',
  '*',
  '\u0000',
];
const WHITESPACE = [' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u200b'];
const UNICODE = ['é', 'ü', 'ß', 'İ', 'ı', 'ø', 'ñ', '用户', '例子', 'д', 'ع', '😀', '\u212a', 'ﬁ', '\u0301'];
const NUMBER_BOUNDARIES = [
  0,
  1,
  -1,
  2,
  0.5,
  -0.5,
  255,
  256,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  Number.MIN_SAFE_INTEGER,
  1e21,
  1e-7,
  Number.EPSILON,
];

// Built once: building a regex-driven arbitrary costs milliseconds.
const SHORT_ALNUM = fc.stringMatching(/^[a-z0-9]{1,3}$/);
const SHORT_STRING = fc.string({ maxLength: 4 });

const isSeparator = (c: string) => !/[\p{L}\p{N}]/u.test(c);

/** Edits of a string: the list (special characters, doubled separators, whitespace, digits, case, unicode, empty and long). */
function stringEdits(s: string): fc.Arbitrary<JsonValue> {
  const at = fc.nat(s.length);
  const insert = (chars: string[]) =>
    fc.tuple(at, fc.constantFrom(...chars)).map(([i, c]) => s.slice(0, i) + c + s.slice(i));
  const separators = [...s].map((c, i) => (isSeparator(c) ? i : -1)).filter((i) => i >= 0);
  const edits: fc.Arbitrary<JsonValue>[] = [
    insert(SPECIALS),
    insert(WHITESPACE),
    insert(UNICODE),
    insert(['0', '1', '9', '42', '007']),
    fc.constant(''),
    fc.constant(null),
    fc.constant(s.toUpperCase()),
    fc.constant(s.toLowerCase()),
    fc.constant(` ${s} `),
    fc.integer({ min: 2, max: 50 }).map((n) => s.repeat(n)),
    fc.tuple(at, fc.integer({ min: 1, max: 8 })).map(([i, n]) => s.slice(0, i) + s.slice(i + n)),
    fc.tuple(at, SHORT_STRING).map(([i, t]) => s.slice(0, i) + t + s.slice(i + 1)),
    fc.tuple(at, SHORT_ALNUM).map(([i, t]) => s.slice(0, i) + t + s.slice(i)),
  ];
  if (s.length) {
    edits.push(
      fc
        .nat(s.length - 1)
        .map(
          (i) =>
            s.slice(0, i) + (s[i] === s[i]!.toUpperCase() ? s[i]!.toLowerCase() : s[i]!.toUpperCase()) + s.slice(i + 1),
        ),
    );
    edits.push(fc.nat(Math.max(0, s.length - 2)).map((i) => s.slice(0, i) + (s[i + 1] ?? '') + s[i] + s.slice(i + 2)));
  }
  if (separators.length) {
    // Doubling, dropping or moving a separator: `user@@domain.com`, `userdomain.com`, `@userdomain.com`.
    const sep = fc.constantFrom(...separators);
    edits.push(sep.map((i) => s.slice(0, i) + s[i] + s.slice(i)));
    edits.push(sep.map((i) => s.slice(0, i) + s.slice(i + 1)));
    edits.push(
      fc.tuple(sep, at).map(([i, j]) => {
        const without = s.slice(0, i) + s.slice(i + 1);
        return without.slice(0, j) + s[i] + without.slice(j);
      }),
    );
    edits.push(sep.map((i) => s.slice(0, i + 1)));
    edits.push(sep.map((i) => s.slice(i)));
  }
  return fc.oneof(...edits);
}

function numberEdits(n: number): fc.Arbitrary<JsonValue> {
  return fc.oneof(
    fc.constantFrom(...NUMBER_BOUNDARIES),
    fc.constantFrom(n + 1, n - 1, -n, n * 2, Math.trunc(n / 2), n + 0.5),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.constant(null),
  );
}

function arrayEdits(a: JsonValue[], depth: number): fc.Arbitrary<JsonValue> {
  const edits: fc.Arbitrary<JsonValue>[] = [
    fc.constant([]),
    fc.constant(null),
    fc.constant([...a, ...a]),
    fc.constant([...a].reverse()),
  ];
  if (a.length) {
    const at = fc.nat(a.length - 1);
    edits.push(at.map((i) => a.filter((_, j) => j !== i)));
    edits.push(at.map((i) => [...a.slice(0, i + 1), a[i]!, ...a.slice(i + 1)]));
    edits.push(at.map((i) => [...a.slice(0, i), null, ...a.slice(i + 1)]));
    edits.push(fc.integer({ min: 10, max: 200 }).map((n) => Array.from({ length: n }, (_, i) => a[i % a.length]!)));
    if (depth < 3)
      edits.push(at.chain((i) => edit(a[i]!, depth + 1).map((v) => [...a.slice(0, i), v, ...a.slice(i + 1)])));
  }
  return fc.oneof(...edits);
}

function objectEdits(o: { [key: string]: JsonValue }, depth: number): fc.Arbitrary<JsonValue> {
  const keys = Object.keys(o);
  const edits: fc.Arbitrary<JsonValue>[] = [fc.constant(null), fc.constant({ ...o, extra: 'x' })];
  if (keys.length) {
    const key = fc.constantFrom(...keys);
    // Missing and null fields.
    edits.push(key.map((k) => Object.fromEntries(Object.entries(o).filter(([kk]) => kk !== k))));
    edits.push(key.map((k) => ({ ...o, [k]: null })));
    if (depth < 3) edits.push(key.chain((k) => edit(o[k]!, depth + 1).map((v) => ({ ...o, [k]: v }))));
  }
  return fc.oneof(...edits);
}

/** One edit of a value, keeping its type except for null (type changes are a different tool). */
function edit(value: JsonValue, depth = 0): fc.Arbitrary<JsonValue> {
  if (typeof value === 'string') return stringEdits(value);
  if (typeof value === 'number') return numberEdits(value);
  if (typeof value === 'boolean') return fc.constantFrom(!value, null);
  if (value === null) return fc.constant(null);
  if (Array.isArray(value)) return arrayEdits(value, depth);
  return objectEdits(value, depth);
}

/** One or two edits of one of the seeds. */
function generatedFrom(seeds: JsonValue[]): fc.Arbitrary<JsonValue> {
  return fc.tuple(fc.nat(seeds.length - 1), fc.integer({ min: 1, max: 3 })).chain(([i, edits]) => {
    const once = edit(seeds[i]!);
    return edits === 1 ? once : once.chain((v) => edit(v));
  });
}

/**
 * Of the derived inputs, the share kept for the first code-reading sources (literals, sweeps, reuse,
 * structure, words), then the share of the later ones (lengths, products, digits in strings,
 * characters: they run after the first, so an input both build counts for the first); random edits
 * get the rest.
 */
const CODE_SHARE = 0.5;
const LATER_SHARE = 0.2;

/**
 * The differential corpus: every suite input, the tool's recorded inputs, inputs derived from the
 * code of the versions compared (literals and their neighbours, small-integer sweeps, one argument's
 * value in another, shape edits, the code's words; taken in turns so each source gets its share),
 * then random edits of the seeds (fast-check arbitraries sampled with `seed`: the same seed gives the
 * same corpus). Duplicates are dropped; the total is at most `size`.
 */
export function buildCorpus(options: CorpusOptions): Corpus {
  const steps = corpusSteps(options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * buildCorpus() a piece at a time, the event loop served between pieces (a full corpus's generation
 * takes ~100 ms of this thread on a loaded machine): the same corpus, input for input.
 */
export async function buildCorpusAsync(options: CorpusOptions): Promise<Corpus> {
  const steps = corpusSteps(options);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Random edits sampled per piece of buildCorpusAsync (a few milliseconds of work). */
const SAMPLES_PER_STEP = 150;

/** The corpus's construction, yielding where buildCorpusAsync() lets the event loop run. */
function* corpusSteps(options: CorpusOptions): Generator<void, Corpus, void> {
  const seen = new Set<string>();
  const inputs: CorpusInput[] = [];
  const sources = Object.fromEntries(CORPUS_SOURCES.map((k) => [k, 0])) as Record<CorpusSource, number>;
  const broken: BrokenSource[] = [];
  const done = (): Corpus => ({
    inputs,
    seed: options.seed,
    sources: withoutUnused(sources),
    ...(broken.length ? { broken } : {}),
  });
  const add = (input: JsonValue, source: CorpusSource): boolean => {
    if (inputs.length >= options.size) return false;
    const json = JSON.stringify(input);
    if (json === undefined || seen.has(json)) return false;
    seen.add(json);
    inputs.push({ input, json, source });
    sources[source]++;
    return true;
  };
  for (const input of options.suiteInputs) add(input, 'suite');
  // Room is kept for the derived inputs; recorded ones fill what is left.
  const recordedRoom = Math.max(0, options.size - inputs.length - options.generated);
  for (const input of options.recordedInputs.slice(0, recordedRoom)) add(input, 'recorded');
  const seeds = inputs.map((i) => i.input);
  const budget = Math.min(options.generated, options.size - inputs.length);
  if (!seeds.length || budget <= 0) return done();

  const templates = options.suiteInputs.length ? options.suiteInputs : seeds;
  const use = options.codeSources ?? CODE_SOURCES;
  let derived = 0;
  let facts: CodeFacts | null = null;
  try {
    facts = codeFacts(options.codes ?? []);
  } catch (err) {
    // Without the code's facts no code-reading source can run: one entry says why.
    if (use.length) broken.push({ source: 'code facts', error: errorText(err) });
  }
  if (facts) {
    const bySource = codeInputs(templates, facts);
    const first = use.filter((s) => FIRST_CODE_SOURCES.includes(s));
    const later = use.filter((s) => !FIRST_CODE_SOURCES.includes(s));
    derived += addInTurns(bySource, first, Math.floor(budget * CODE_SHARE), add, broken);
    yield;
    derived += addInTurns(bySource, later, Math.floor(budget * LATER_SHARE), add, broken);
    yield;
  }
  const randomBudget = budget - derived;
  if (randomBudget > 0) {
    try {
      // Edits sometimes repeat (or repeat a code-read input); three times the budget in tries fills it in
      // practice. Sampled a piece at a time: fast-check's `path` starts a sample at its n-th run, so the
      // pieces are, value for value, the one sample of that seed.
      const arbitrary = generatedFrom(seeds);
      const runs = randomBudget * 3;
      let added = 0;
      for (let at = 0; at < runs && added < randomBudget; at += SAMPLES_PER_STEP) {
        if (at) yield;
        const numRuns = Math.min(SAMPLES_PER_STEP, runs - at);
        for (const input of fc.sample(arbitrary, { seed: options.seed, numRuns, path: String(at) })) {
          if (added >= randomBudget) break;
          if (add(input, 'generated')) added++;
        }
      }
    } catch (err) {
      broken.push({ source: 'generated', error: errorText(err) });
    }
  }
  return done();
}

/** An exception as one line: `RangeError: Invalid string length`. */
function errorText(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.split('\n')[0]!.slice(0, 300);
}

/** The counts, without the code-reading sources that added nothing. */
function withoutUnused(sources: Record<CorpusSource, number>): CorpusCounts {
  const { suite, recorded, generated, ...code } = sources;
  return { suite, recorded, generated, ...Object.fromEntries(Object.entries(code).filter(([, n]) => n > 0)) };
}

/**
 * One new input from each source in turn, until `limit` are added or every source is spent.
 * A source that throws is recorded in `broken` and takes no more turns (what it added stays).
 * Returns how many were added.
 */
function addInTurns(
  bySource: Record<CodeSource, Iterable<JsonValue>>,
  use: readonly CodeSource[],
  limit: number,
  add: (input: JsonValue, source: CorpusSource) => boolean,
  broken: BrokenSource[],
): number {
  const live: { source: CodeSource; it: Iterator<JsonValue> }[] = [];
  for (const source of use) {
    try {
      live.push({ source, it: bySource[source][Symbol.iterator]() });
    } catch (err) {
      broken.push({ source, error: errorText(err) });
    }
  }
  let added = 0;
  while (live.length && added < limit) {
    for (let i = 0; i < live.length && added < limit;) {
      const { source, it } = live[i]!;
      let next: IteratorResult<JsonValue>;
      try {
        next = it.next();
        while (!next.done && !add(next.value, source)) next = it.next();
      } catch (err) {
        broken.push({ source, error: errorText(err) });
        live.splice(i, 1);
        continue;
      }
      if (next.done) {
        live.splice(i, 1);
      } else {
        added++;
        i++;
      }
    }
  }
  return added;
}
