import { performance } from 'node:perf_hooks';
import { jsonEqual } from '../detection/json-equal.js';
import { codeHash } from '../detection/tool-code.js';
import { ToolExecutionError } from '../sandbox/errors.js';
import { ScreeningVoid, type BatchOutcome, type Sandbox, type ScreeningSession } from '../sandbox/sandbox.js';
import type { ToolSource } from '../shared/language.js';
import type {
  DetectedFailure,
  DifferentialDifference,
  DifferentialOutcome,
  DifferentialReport,
  JsonValue,
  MutationType,
} from '../shared/lineage-types.js';
import type { Corpus, CorpusSource } from './corpus.js';

/** Mutation types that promise the same behaviour: any difference refuses the version. */
export const SAME_BEHAVIOUR: readonly MutationType[] = ['optimization', 'refactor'];

/** Limits an isolate hit: the answer says nothing about the code's behaviour on that input. */
const UNJUDGEABLE = new Set(['timeout', 'memory_limit']);

/**
 * A Python call's time limit in the check's first try (lower than sandbox.timeout_ms): HumanEval-like
 * code answers small inputs in microseconds, and an input that runs into a limit would otherwise cost
 * the whole call limit, parent and version each, one input after another. A parent that does not
 * finish in it leaves the input unjudged; a version that does not (where its parent did) gets the
 * full call limit before its timeout counts as a difference.
 */
export const QUICK_PYTHON_MS = 200;

/** Inputs asked for ahead at a time (see prefetch in judgeDifferential). */
const PREFETCH_INPUTS = 256;
/** The longest the check's own work runs between two turns of the event loop. */
const TURN_MS = 10;
/** Most shrinking candidates answered ahead together (see shrinkInput). */
const SHRINK_AHEAD = 64;
/** Shrinking tries at most this many candidate inputs per difference. */
const SHRINK_BUDGET = 300;
/** Failure records made from the smallest differences of a refused version. */
const MAX_FAILURE_RECORDS = 5;

export interface DifferentialSubject extends ToolSource {
  id: string;
  /** The version(s) it is compared with: its parent, each parent of a merge, or a heal's ancestor. */
  parents: ({ id: string } & ToolSource)[];
  /** The declared type (null: none declared, judged as a refactor). */
  mutationType: MutationType | null;
  /** What the mutation says it does, for messages. */
  mutationDescription?: string | null;
  /** Inputs of the critical tests in scope, with what they expect. */
  criticalTests: { name: string; input: JsonValue; expected: JsonValue }[];
  corpus: Corpus;
  /** Most differing inputs shrunk and reported. */
  maxDifferences: number;
  /** Most milliseconds spent running inputs, shrinking included (default: no limit). */
  timeBudgetMs?: number;
  /** A Python call's limit in the first try (default QUICK_PYTHON_MS; null: the call limit, as before it existed). */
  quickPythonMs?: number | null;
}

export interface DifferentialResult {
  report: DifferentialReport;
  failures: DetectedFailure[];
  /** Every differing input as found in the corpus, before shrinking (not stored; the peers' evidence). */
  differingInputs: JsonValue[];
}

async function outcomeOf(run: () => Promise<string>): Promise<DifferentialOutcome> {
  try {
    return { output: JSON.parse(await run()) as JsonValue, error: null };
  } catch (err) {
    if (err instanceof ScreeningVoid) throw err;
    return { output: null, error: err instanceof ToolExecutionError ? err.errorType : 'thrown' };
  }
}

function batchOutcomeOf(o: BatchOutcome): DifferentialOutcome {
  if (o.error) return { output: null, error: o.error.errorType };
  try {
    return { output: JSON.parse(o.output) as JsonValue, error: null };
  } catch {
    return { output: null, error: 'non_json_result' };
  }
}

/**
 * How the check runs a version on an input, tool code always off this thread (JavaScript on
 * isolated-vm's own threads; Python as Sandbox.runJson runs it). `exact`: each call in a fresh context
 * (Sandbox.runJsonAsync). `screened`: JavaScript calls in one screening context per version
 * (Sandbox.screen), answered ahead in batches (prefetch: one hand-over per time slice, not one per
 * call); its answers stand only if its checks find the context untouched: `finish()` false, or a
 * ScreeningVoid thrown mid-way, and the whole check runs again the exact way.
 */
interface Runner {
  screened: boolean;
  outcome(key: string, source: ToolSource, json: string, timeoutMs?: number): Promise<DifferentialOutcome>;
  /**
   * Answers `jsons` ahead where the runner can batch them, in order, until one runs into the time
   * limit (larger inputs may be left out then) or `stop()` says so.
   */
  prefetch(key: string, source: ToolSource, jsons: readonly string[], stop: () => boolean): Promise<void>;
  /** An answer known already (prefetched), if any. */
  known(key: string, json: string): DifferentialOutcome | undefined;
  finish(): Promise<boolean>;
}

function exactRunner(sandbox: Sandbox): Runner {
  return {
    screened: false,
    outcome: (key, source, json, timeoutMs) =>
      outcomeOf(() => sandbox.runJsonAsync(key, source.code, json, source.language, timeoutMs)),
    prefetch: () => Promise.resolve(),
    known: () => undefined,
    finish: () => Promise.resolve(true),
  };
}

function screenedRunner(sandbox: Sandbox, sessions: Map<string, ScreeningSession | null>): Runner {
  const answers = new Map<string, Map<string, DifferentialOutcome>>();
  const sessionFor = async (key: string, source: ToolSource) => {
    let session = sessions.get(key);
    if (session === undefined) {
      session = await sandbox.screenAsync(key, source.code, source.language);
      // Two callers may have opened one meanwhile: the first one kept stands.
      const opened = sessions.get(key);
      if (opened !== undefined) {
        session?.close();
        return opened;
      }
      sessions.set(key, session);
      answers.set(key, new Map());
    }
    return session;
  };
  return {
    // Python is never screened (its sessions are null): its answers already come from fresh calls.
    get screened() {
      return [...sessions.values()].some((session) => session !== null);
    },
    outcome: async (key, source, json, timeoutMs) => {
      const session = await sessionFor(key, source);
      const known = answers.get(key)!.get(json);
      if (known) return known;
      if (!session) return outcomeOf(() => sandbox.runJsonAsync(key, source.code, json, source.language, timeoutMs));
      const { outcomes } = await session.runBatchAsync([json]);
      const outcome = batchOutcomeOf(outcomes[0]!);
      answers.get(key)!.set(json, outcome);
      return outcome;
    },
    prefetch: async (key, source, jsons, stop) => {
      const session = await sessionFor(key, source);
      if (!session) return;
      const known = answers.get(key)!;
      const wanted = [...new Set(jsons.filter((json) => !known.has(json)))];
      for (let at = 0; at < wanted.length && !stop();) {
        const batch = await session.runBatchAsync(wanted.slice(at), stop);
        for (const o of batch.outcomes) known.set(wanted[at++]!, batchOutcomeOf(o));
        if (batch.timedOut) return;
      }
    },
    known: (key, json) => answers.get(key)?.get(json),
    finish: async () => {
      for (const s of sessions.values()) if (s && !(await s.finishAsync())) return false;
      return true;
    },
  };
}

function sameOutcome(a: DifferentialOutcome, b: DifferentialOutcome): boolean {
  return a.error !== null || b.error !== null ? a.error === b.error : jsonEqual(a.output, b.output);
}

/** Numbers up to this size never stop the check from running larger ones. */
const SMALL = 1000;

/** The largest absolute number anywhere in a value (0 when it holds none). */
function largestNumber(value: JsonValue): number {
  if (typeof value === 'number') return Math.abs(value);
  if (Array.isArray(value)) return value.reduce<number>((m, v) => Math.max(m, largestNumber(v)), 0);
  if (value !== null && typeof value === 'object')
    return Object.values(value).reduce<number>((m, v) => Math.max(m, largestNumber(v)), 0);
  return 0;
}

/** Whether a value holds a negative number. */
function hasNegative(value: JsonValue): boolean {
  if (typeof value === 'number') return value < 0;
  if (Array.isArray(value)) return value.some(hasNegative);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasNegative);
  return false;
}

/** Whether a value holds a number that is not a whole number. */
function hasFraction(value: JsonValue): boolean {
  if (typeof value === 'number') return !Number.isInteger(value);
  if (Array.isArray(value)) return value.some(hasFraction);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasFraction);
  return false;
}

/** Smaller first: shorter JSON, then code-point order (so `"a@"` before `"b@"`). */
export function compareSize(a: JsonValue, b: JsonValue): number {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  return x.length - y.length || (x < y ? -1 : x > y ? 1 : 0);
}

/** Simpler versions of a value, roughly smallest first. */
function* shrinkCandidates(value: JsonValue): Generator<JsonValue> {
  if (typeof value === 'string') {
    if (value === '') return;
    yield '';
    const chars = [...value];
    for (let size = chars.length >> 1 || 1; size >= 1; size = size === 1 ? 0 : size >> 1) {
      for (let i = 0; i + size <= chars.length; i += size)
        yield [...chars.slice(0, i), ...chars.slice(i + size)].join('');
    }
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i]!;
      const simple = /\p{N}/u.test(c) ? '0' : /\p{L}/u.test(c) ? 'a' : null;
      if (simple && c > simple) yield [...chars.slice(0, i), simple, ...chars.slice(i + 1)].join('');
    }
  } else if (typeof value === 'number') {
    if (value === 0) return;
    yield 0;
    if (!Number.isInteger(value)) yield Math.trunc(value);
    if (value < 0) yield -value;
    for (let delta = Math.trunc(value / 2); Math.abs(delta) >= 1; delta = Math.trunc(delta / 2)) yield value - delta;
    yield value > 0 ? value - 1 : value + 1;
  } else if (value === true) {
    yield false;
  } else if (Array.isArray(value)) {
    if (!value.length) return;
    yield [];
    for (let size = value.length >> 1 || 1; size >= 1; size = size === 1 ? 0 : size >> 1) {
      for (let i = 0; i + size <= value.length; i += size) yield [...value.slice(0, i), ...value.slice(i + size)];
    }
    for (let i = 0; i < value.length; i++) {
      for (const smaller of shrinkCandidates(value[i]!)) yield [...value.slice(0, i), smaller, ...value.slice(i + 1)];
    }
  } else if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    for (const k of keys) yield Object.fromEntries(Object.entries(value).filter(([kk]) => kk !== k));
    for (const k of keys) for (const smaller of shrinkCandidates(value[k]!)) yield { ...value, [k]: smaller };
  }
}

/**
 * Greedy shrinking: take the first simpler candidate that still differs and is smaller, until none
 * does (or the budget is spent). Returns the smallest differing input found.
 */
export async function shrinkInput(
  input: JsonValue,
  differs: (candidate: JsonValue) => boolean | Promise<boolean>,
  budget = SHRINK_BUDGET,
  ahead?: (candidates: JsonValue[]) => Promise<void>,
): Promise<JsonValue> {
  let current = input;
  let tries = 0;
  for (let improved = true; improved && tries < budget;) {
    improved = false;
    const candidates = shrinkCandidates(current);
    const pending: JsonValue[] = [];
    let exhausted = false;
    // The next candidates are handed to `ahead` together (one batch each for the versions instead of
    // one hand-over per candidate), one at first and twice as many each time none of them differed:
    // greedy shrinking often takes an early candidate, and those after it would be answered for nothing.
    let window = 1;
    for (;;) {
      if (!pending.length) {
        const wanted = window;
        window = Math.min(window * 2, SHRINK_AHEAD);
        while (!exhausted && pending.length < wanted) {
          const next = candidates.next();
          if (next.done) exhausted = true;
          else if (compareSize(next.value, current) < 0) pending.push(next.value);
        }
        if (!pending.length) break;
        if (ahead) await ahead(pending.slice(0, Math.max(0, budget - tries)));
      }
      const candidate = pending.shift()!;
      if (++tries > budget) break;
      if (await differs(candidate)) {
        current = candidate;
        improved = true;
        break;
      }
    }
  }
  return current;
}

function show(o: DifferentialOutcome): string {
  return o.error !== null ? `an error (${o.error})` : JSON.stringify(o.output);
}

/** One line per difference: what the version answers, and what each parent answers. */
export function describeDifference(d: DifferentialDifference, versionId: string): string {
  return `${JSON.stringify(d.input)}: ${versionId} answers ${show(d.output)}, ${d.parents.map((p) => `${p.id} ${show(p.output)}`).join(', ')}`;
}

/**
 * The differential check: the version and its parent(s) run side by side on the corpus, in the
 * sandbox (its time and memory limits apply to every call). An input differs when the version's
 * answer matches none of its parents' (so a merge may take each answer from either parent). Each
 * difference is shrunk to the smallest input that still differs; the declared mutation type decides
 * what differences mean.
 */
export async function runDifferential(sandbox: Sandbox, s: DifferentialSubject): Promise<DifferentialResult> {
  const started = performance.now();
  // JavaScript versions are screened first (one context per version instead of one per call); if a
  // screening cannot vouch for its answers, the whole check runs again with a fresh context per call.
  const sessions = new Map<string, ScreeningSession | null>();
  try {
    return await judgeDifferential(sandbox, s, started, screenedRunner(sandbox, sessions));
  } catch (err) {
    if (!(err instanceof ScreeningVoid)) throw err;
  } finally {
    for (const session of sessions.values()) session?.close();
  }
  return judgeDifferential(sandbox, s, started, exactRunner(sandbox));
}

async function judgeDifferential(
  sandbox: Sandbox,
  s: DifferentialSubject,
  started: number,
  runner: Runner,
): Promise<DifferentialResult> {
  const subjectKey = codeHash(s.code);
  const parents = s.parents.map((p) => ({ ...p, key: codeHash(p.code) }));
  const cache = new Map<
    string,
    { differs: boolean; output: DifferentialOutcome; parents: DifferentialOutcome[] } | null
  >();
  // Answers known ahead resolve at once, and a run of them never leaves the microtask queue: the loop
  // over them gives the event loop a turn every few milliseconds.
  let turnAt = performance.now();
  const compare = async (json: string) => {
    if (performance.now() - turnAt > TURN_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      turnAt = performance.now();
    }
    const known = cache.get(json);
    if (known !== undefined) return known;
    const result = await compareWith(runner, json);
    cache.set(json, result);
    return result;
  };
  // A difference found in screening is reported only once fresh contexts show it too. Only the
  // reported ones are run again (each shrunk input), not every differing input of the corpus: one
  // that fresh contexts do not confirm voids the screening, and the whole check runs fresh.
  const exact = exactRunner(sandbox);
  const confirmed = new Map<string, Awaited<ReturnType<typeof compareWith>>>();
  const confirm = async (json: string) => {
    const screened = await compare(json);
    if (!screened?.differs || !runner.screened) return screened;
    let result = confirmed.get(json);
    if (result === undefined) {
      result = await compareWith(exact, json);
      confirmed.set(json, result);
    }
    if (!result?.differs) throw new ScreeningVoid('a difference found in screening did not show in fresh contexts');
    return result;
  };
  // Python calls first run with the quick limit (see QUICK_PYTHON_MS); JavaScript calls with the
  // call limit (its isolates stop a runaway call cheaply).
  const callLimit = sandbox.callLimitMs;
  const quickMs = s.quickPythonMs === undefined ? QUICK_PYTHON_MS : s.quickPythonMs;
  const quick = s.language === 'python' && quickMs !== null && quickMs < callLimit ? quickMs : undefined;
  // A version's quick timeout is retried with the full limit (so a difference never depends on how
  // fast the machine is), while there is time left for it; once one such retry confirmed a timeout,
  // the version is refused whatever the rest says, and later quick timeouts are left unjudged.
  let timeoutConfirmed: string | null = null;
  const compareWith = async (r: Runner, json: string) => {
    const parentOutputs: DifferentialOutcome[] = [];
    for (const p of parents) parentOutputs.push(await r.outcome(p.key, p, json, quick));
    const judged = parentOutputs.filter((o) => !(o.error && UNJUDGEABLE.has(o.error)));
    if (!judged.length) return null;
    let output = await r.outcome(subjectKey, s, json, quick);
    if (quick !== undefined && output.error === 'timeout' && timeoutConfirmed !== json) {
      if (timeoutConfirmed !== null || performance.now() + callLimit > deadline) return null;
      output = await r.outcome(subjectKey, s, json);
      if (output.error === 'timeout') timeoutConfirmed = json;
    }
    return { differs: !judged.some((o) => sameOutcome(o, output)), output, parents: parentOutputs };
  };

  const deadline = started + (s.timeBudgetMs ?? Infinity);
  const spent = () => performance.now() > deadline;

  let compared = 0;
  let unjudged = 0;
  let notRun = 0;
  const differing: { input: JsonValue; source: CorpusSource }[] = [];
  // Inputs run smallest numbers first, and those at least as big as one a parent could not answer
  // within its limits are not run: huge numbers fed to a loop or a range would each spend the whole
  // time limit (and, for code the interpreter cannot interrupt, a restart), one after another.
  let limitAt = Infinity;
  // Whole numbers come before fractions: a fraction fed to code written for integers often recurses
  // or loops to its limit.
  const byMagnitude = s.corpus.inputs
    .map((item) => ({ item, magnitude: largestNumber(item.input), fractional: hasFraction(item.input) }))
    .sort((a, b) => Number(a.fractional) - Number(b.fractional) || a.magnitude - b.magnitude);
  // Answers are asked for ahead, a chunk of inputs at a time (the parents', then the version's where a
  // parent's answer is judged): a screened version answers them in batches on its isolate's thread.
  const prefetch = async (jsons: string[]) => {
    for (const p of parents) await runner.prefetch(p.key, p, jsons, spent);
    const subjectJsons: string[] = [];
    for (const json of jsons) {
      const answers = parents.map((p) => runner.known(p.key, json));
      if (answers.some((o) => o === undefined)) break;
      if (answers.some((o) => !(o!.error && UNJUDGEABLE.has(o!.error)))) subjectJsons.push(json);
    }
    await runner.prefetch(subjectKey, s, subjectJsons, spent);
  };
  let prefetchedTo = 0;
  for (let i = 0; i < byMagnitude.length; i++) {
    const { item, magnitude } = byMagnitude[i]!;
    if (spent() || magnitude >= limitAt) {
      notRun++;
      continue;
    }
    if (i >= prefetchedTo) {
      prefetchedTo = i + PREFETCH_INPUTS;
      await prefetch(
        byMagnitude
          .slice(i, prefetchedTo)
          .filter((x) => x.magnitude < limitAt)
          .map((x) => x.item.json),
      );
    }
    const r = await compare(item.json);
    if (!r) {
      unjudged++;
      // A small positive count that runs into a limit (the 12th prime Fibonacci number) says the
      // larger ones will too; a negative one says nothing about them (a countdown that never ends).
      if (magnitude > SMALL || (magnitude >= 2 && !hasNegative(item.input))) limitAt = Math.min(limitAt, magnitude);
      continue;
    }
    compared++;
    if (r.differs) differing.push({ input: item.input, source: item.source });
  }

  const criticalByInput = new Map(s.criticalTests.map((t) => [JSON.stringify(t.input), t]));
  // Inputs of critical tests are kept as they are (the test is the evidence); the others are shrunk,
  // smallest first, and the shrunk inputs deduplicated.
  const differences: DifferentialDifference[] = [];
  const seen = new Set<string>();
  const ordered = [...differing].sort((a, b) => compareSize(a.input, b.input));
  for (const d of ordered) {
    if (differences.length >= s.maxDifferences) break;
    const test = criticalByInput.get(JSON.stringify(d.input));
    const input = test
      ? d.input
      : await shrinkInput(
          d.input,
          async (candidate) => !spent() && ((await compare(JSON.stringify(candidate)))?.differs ?? false),
          undefined,
          async (candidates) => {
            if (spent()) return;
            // Shrinking candidates are small: every version answers them at once, in parallel (the
            // version's answers where no parent's is judged are just not used).
            const jsons = candidates.map((c) => JSON.stringify(c)).filter((json) => !cache.has(json));
            await Promise.all(
              [...parents.map((p) => ({ key: p.key, source: p as ToolSource })), { key: subjectKey, source: s }].map(
                ({ key, source }) => runner.prefetch(key, source, jsons, spent),
              ),
            );
          },
        );
    const key = JSON.stringify(input);
    if (seen.has(key)) continue;
    seen.add(key);
    const r = (await confirm(key))!;
    differences.push({
      input,
      output: r.output,
      parents: parents.map((p, i) => ({ id: p.id, output: r.parents[i]! })),
      originalInput: d.input,
      source: d.source,
      criticalTest: test?.name ?? null,
    });
  }
  differences.sort((a, b) => compareSize(a.input, b.input));
  if (!(await runner.finish())) throw new ScreeningVoid('a final check found a screening context touched');

  const judgedAs: MutationType = s.mutationType ?? 'refactor';
  const undeclared =
    s.mutationType === null
      ? `${s.id} declares no mutation type, so it is judged as a refactor (same behaviour promised); `
      : '';
  const failures: DetectedFailure[] = [];
  let verdict: DifferentialReport['verdict'];
  let message: string;
  const parentNames = parents.map((p) => p.id).join(' and ');
  if (!differing.length) {
    verdict = 'same';
    message = `${undeclared}answers ${parents.length > 1 ? `each of ${compared} inputs as ${parents.map((p) => p.id).join(' or ')} does` : `all ${compared} inputs as ${parentNames} does`}`;
  } else if (SAME_BEHAVIOUR.includes(judgedAs)) {
    verdict = 'refused';
    message = `${undeclared}${judgedAs} ${s.mutationDescription ? `"${s.mutationDescription}" ` : ''}promises the same behaviour, but ${differing.length} of ${compared} inputs are answered differently from ${parentNames}`;
    for (const d of differences.slice(0, MAX_FAILURE_RECORDS))
      failures.push(differenceFailure(s, d, `${judgedAs} changed behaviour: ${describeDifference(d, s.id)}`));
  } else {
    const broken = differences.filter((d) => {
      const test = d.criticalTest ? criticalByInput.get(JSON.stringify(d.input)) : undefined;
      return test && (d.output.error !== null || !jsonEqual(d.output.output, test.expected));
    });
    verdict = broken.length ? 'refused' : 'listed';
    message = broken.length
      ? `${judgedAs}: ${broken.length} difference(s) from ${parentNames} on inputs of critical tests, answered against what the test expects`
      : `${judgedAs}: ${differing.length} of ${compared} inputs answered differently from ${parentNames}; listed for review (a ${judgedAs} is expected to differ)`;
    for (const d of broken.slice(0, MAX_FAILURE_RECORDS))
      failures.push(
        differenceFailure(
          s,
          d,
          `differs on the input of critical test "${d.criticalTest}": ${describeDifference(d, s.id)}`,
        ),
      );
  }
  // A corpus source that threw leaves the check short of inputs it was configured to judge on: the
  // version is refused whatever the rest found, and the message names each source and its error.
  const broken = s.corpus.broken ?? [];
  if (broken.length) {
    const named = broken.map((b) => `"${b.source}" threw ${b.error}`).join('; ');
    const found =
      verdict === 'same' ? 'no difference on the inputs the other sources built' : `what they show: ${message}`;
    verdict = 'refused';
    message = `refused: the corpus could not be built as configured (source ${named}); ${found}`;
    failures.push({
      failureType: 'judge_error',
      description: `the differential check's corpus source ${named}; ${s.id} is refused until its corpus can be built`,
      stackTrace: null,
      testCaseFailed: null,
      detectionMethod: 'differential',
      severity: 'critical',
      evidence: { brokenSources: broken, seed: s.corpus.seed } as unknown as JsonValue,
    });
  }
  return {
    failures,
    differingInputs: differing.map((d) => d.input),
    report: {
      versionId: s.id,
      parents: parents.map((p) => p.id),
      mutationType: s.mutationType,
      judgedAs,
      verdict,
      seed: s.corpus.seed,
      inputs: compared,
      unjudged,
      notRun,
      sources: s.corpus.sources,
      differing: differing.length,
      differences,
      ...(broken.length ? { brokenSources: broken } : {}),
      message,
      durationMs: performance.now() - started,
    },
  };
}

function differenceFailure(s: DifferentialSubject, d: DifferentialDifference, description: string): DetectedFailure {
  return {
    failureType: 'regression',
    description,
    stackTrace: null,
    testCaseFailed: d.criticalTest,
    detectionMethod: 'differential',
    severity: 'critical',
    evidence: {
      input: d.input,
      output: d.output,
      parents: d.parents,
      originalInput: d.originalInput,
      source: d.source,
      seed: s.corpus.seed,
    } as unknown as JsonValue,
  };
}
