import { jsonEqual } from '../detection/json-equal.js';
import type { RecentEvidence, StoredFailure } from '../lineage/failures.js';
import type { LineageStore } from '../lineage/store.js';
import { codeHash } from '../detection/tool-code.js';
import { ToolExecutionError } from '../sandbox/errors.js';
import type { ToolSource } from '../shared/language.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { JsonValue } from '../shared/lineage-types.js';

/** One input a version got wrong, and how. */
export interface FailingCase {
  input: JsonValue;
  /** A wrong output that was observed. */
  observed?: JsonValue;
  /** The correct output, when someone said what it is. */
  expected?: JsonValue;
  /** The error the call ended with, for failed calls. */
  errorType?: string;
  failureId: number | null;
  source: 'report' | 'execution' | 'test';
}

/** Error kinds that can come from the environment rather than the code. */
export const TRANSIENT_ERRORS = new Set(['timeout', 'memory_limit']);

const MAX_CASES = 25;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Gathers what the version got wrong: reported wrong results (with their evidence), inputs of its
 * recent failed calls, and failed tests recorded against it. Deduplicated by input, at most 25.
 */
export async function gatherFailingCases(
  store: LineageStore,
  versionId: string,
  focusFailureId: number | null,
): Promise<FailingCase[]> {
  return (await failureAndCases(store, versionId, focusFailureId)).cases;
}

/**
 * The failure that triggered a heal, with the cases gathered as gatherFailingCases does: read with
 * the version's recent failures (once), and alone only when it is older than all of them.
 */
export async function failureAndCases(
  store: LineageStore,
  versionId: string,
  focusFailureId: number | null,
): Promise<{ focus: StoredFailure | null; cases: FailingCase[] }> {
  const [evidence] = await store.failures.recentEvidence([versionId], RECENT_FAILURES, RECENT_CALLS);
  const focus =
    focusFailureId === null
      ? null
      : (evidence!.failures.find((f) => f.id === focusFailureId) ?? (await store.failures.find(focusFailureId)));
  return { focus, cases: casesFrom(evidence!, focusFailureId) };
}

/** The failing cases of several versions (each with its focus failure, if any), in one read. */
export async function gatherFailingCasesOf(
  store: LineageStore,
  versions: { versionId: string; focusFailureId: number | null }[],
): Promise<FailingCase[][]> {
  const evidence = await store.failures.recentEvidence(
    versions.map((v) => v.versionId),
    RECENT_FAILURES,
    RECENT_CALLS,
  );
  return evidence.map((e, i) => casesFrom(e, versions[i]!.focusFailureId));
}

const RECENT_FAILURES = 100;
const RECENT_CALLS = 200;

/** The cases in a version's recent evidence: the focus failure's first, then the others, newest first. */
function casesFrom(evidence: RecentEvidence, focusFailureId: number | null): FailingCase[] {
  const cases: FailingCase[] = [];
  const seen = new Set<string>();
  const add = (c: FailingCase) => {
    const key = JSON.stringify(c.input);
    if (seen.has(key) || cases.length >= MAX_CASES) return;
    seen.add(key);
    cases.push(c);
  };
  const failures = [...evidence.failures].sort(
    (a, b) => Number(b.id === focusFailureId) - Number(a.id === focusFailureId),
  );
  for (const f of failures) {
    const ev = f.evidence;
    if (!isObject(ev)) continue;
    if (f.failureType === 'wrong_output' && 'input' in ev) {
      add({
        input: ev.input as JsonValue,
        ...('observed' in ev && ev.observed !== null ? { observed: ev.observed as JsonValue } : {}),
        ...('expected' in ev ? { expected: ev.expected as JsonValue } : {}),
        failureId: f.id,
        source: 'report',
      });
    }
    if (
      (f.failureType === 'test_failure' || f.failureType === 'regression') &&
      Array.isArray(ev.failed ?? ev.regressions)
    ) {
      for (const t of (ev.failed ?? ev.regressions) as { input: JsonValue; expected: JsonValue }[]) {
        add({ input: t.input, expected: t.expected, failureId: f.id, source: 'test' });
      }
    }
  }
  for (const e of evidence.failedCalls) {
    if (e.input === null) continue;
    add({
      input: e.input,
      ...(e.errorType ? { errorType: e.errorType } : {}),
      failureId: focusFailureId,
      source: 'execution',
    });
  }
  return cases;
}

export interface CaseOutcome {
  output?: JsonValue;
  errorType?: string;
}

/**
 * Runs a failing input on a version. Asynchronous (Sandbox.runAsync): the version replayed is often
 * the broken one, and broken code may spin to the time limit; the worker's event loop stays free
 * meanwhile for heartbeats, cancellations and the other heals.
 */
export async function runCase(sandbox: Sandbox, source: ToolSource, input: JsonValue): Promise<CaseOutcome> {
  try {
    return { output: await sandbox.runAsync(codeHash(source.code), source.code, input, source.language) };
  } catch (err) {
    return { errorType: err instanceof ToolExecutionError ? err.errorType : 'thrown' };
  }
}

/** Does `source` fail this case the same way the failed version did? */
export async function reproduces(sandbox: Sandbox, source: ToolSource, c: FailingCase): Promise<boolean> {
  const outcome = await runCase(sandbox, source, c.input);
  if (outcome.errorType !== undefined) {
    // An error reproduces an error of the same type, or any wrong-output case (no usable answer).
    return c.errorType !== undefined ? c.errorType === outcome.errorType : true;
  }
  if (c.expected !== undefined) return !jsonEqual(outcome.output, c.expected);
  if (c.observed !== undefined) return jsonEqual(outcome.output, c.observed);
  return false; // the case was an error, this run answered
}

/** The cases `source` reproduces, in order. */
export async function reproducedCases(
  sandbox: Sandbox,
  source: ToolSource,
  cases: FailingCase[],
): Promise<FailingCase[]> {
  const out: FailingCase[] = [];
  for (const c of cases) if (await reproduces(sandbox, source, c)) out.push(c);
  return out;
}

/** The first case `source` reproduces (undefined: none). */
export async function firstReproduced(
  sandbox: Sandbox,
  source: ToolSource,
  cases: FailingCase[],
): Promise<FailingCase | undefined> {
  for (const c of cases) if (await reproduces(sandbox, source, c)) return c;
  return undefined;
}
