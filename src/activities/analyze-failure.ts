import esquery from 'esquery';
import { bisect, candidateAncestors, isBad, pathBetween } from '../healing/ancestry.js';
import { judgeStoredVersion } from '../judge/plans.js';
import {
  firstReproduced,
  failureAndCases,
  reproducedCases,
  TRANSIENT_ERRORS,
  type FailingCase,
} from '../healing/failing-cases.js';
import { analyzeOffline, lineDiff, patternMatches } from '../healing/offline-analysis.js';
import { revertChange } from '../healing/revert.js';
import { analyzeWithLlm } from '../llm/analyst.js';
import { MalformedAnswerError, PermanentLlmError } from '../llm/client.js';
import type { FailureAnalysis } from '../shared/heal-types.js';
import type { ToolLanguage, ToolSource } from '../shared/language.js';
import type { PropagationScope } from '../shared/lineage-types.js';
import { activitySignal, checkpoint, throwIfCancelled } from './cancellation.js';
import { requireVersion, type ActivityDeps } from './deps.js';

export interface AnalyzeFailureInput {
  healId: string;
  versionId: string;
  failureId: number;
  /** False forces the offline analysis (e.g. after the LLM kept failing). */
  useLlm: boolean;
}

const SECURITY_TYPES = new Set(['security_vulnerability', 'host_access']);

function describeCases(cases: FailingCase[]): string {
  return cases
    .slice(0, 8)
    .map(
      (c) =>
        `- input ${JSON.stringify(c.input)}${c.observed !== undefined ? ` returned ${JSON.stringify(c.observed)}` : ''}${c.expected !== undefined ? `, expected ${JSON.stringify(c.expected)}` : ''}${c.errorType ? ` failed with ${c.errorType}` : ''}`,
    )
    .join('\n');
}

/**
 * A machine pattern is kept only if it is usable, matches the code that broke, and matches neither the
 * good code nor any code the heal may produce; otherwise it is advice (semantic), never a gate.
 */
function checkedPattern(
  pattern: string,
  kind: 'regex' | 'ast' | 'semantic',
  badCode: string,
  notIn: string[],
  language: ToolLanguage,
): 'regex' | 'ast' | 'semantic' {
  if (kind === 'semantic') return kind;
  try {
    if (kind === 'regex') new RegExp(pattern);
    else esquery.parse(pattern);
  } catch {
    return 'semantic';
  }
  if (!patternMatches(pattern, kind, badCode, language)) return 'semantic';
  return notIn.some((code) => patternMatches(pattern, kind, code, language)) ? 'semantic' : kind;
}

/** The code of each version named: from the versions already read, the rest from the database. */
async function sourcesOf(
  deps: ActivityDeps,
  ids: string[],
  read: ({ id: string } & ToolSource)[],
): Promise<Map<string, ToolSource>> {
  const known = new Map(read.map((v): [string, ToolSource] => [v.id, { code: v.code, language: v.language }]));
  const missing = await deps.store.graph.codes(ids.filter((id) => !known.has(id)));
  return new Map([...known, ...missing]);
}

/**
 * Step 2: what went wrong, and whose fault it is. Finds the nearest ancestor that passes today's
 * suite; if it fails the failing inputs the same way, the cause is older or environmental and
 * nothing will be pruned; if the failure no longer reproduces and looks transient, neither. Otherwise
 * bisects the path from that ancestor to the failed version for the version that introduced the
 * failure, and explains the change (LLM when configured, else a diff-based analysis).
 */
export function analyzeFailureActivity(deps: ActivityDeps) {
  const analyze = analysis(deps);
  return async function analyzeFailure(input: AnalyzeFailureInput): Promise<FailureAnalysis> {
    const result = await analyze(input);
    throwIfCancelled(); // verdicts reached after a cancellation may rest on aborted tool runs
    return result;
  };
}

function analysis(deps: ActivityDeps) {
  return async (input: AnalyzeFailureInput): Promise<FailureAnalysis> => {
    // Independent reads, at once: a heal is measured end to end, one database round trip at a time.
    const [failed, { focus: failure, cases }, ancestors] = await Promise.all([
      requireVersion(deps, input.versionId),
      failureAndCases(deps.store, input.versionId, input.failureId),
      candidateAncestors(deps.store, input.versionId),
    ]);
    // The trigger may be an operator's request: say what actually went wrong, with an example.
    const example = cases[0] ? describeCases([cases[0]]).replace(/^- /, '') : null;
    const failureText =
      failure && failure.failureType !== 'manual'
        ? `${failure.description}${example && failure.failureType !== 'wrong_output' ? ` (e.g. ${example})` : ''}`
        : (example ?? failure?.description ?? 'failure');
    const defaultScope: PropagationScope =
      SECURITY_TYPES.has(failure?.failureType ?? '') && deps.config.self_healing.propagation.critical_failures_global
        ? 'global'
        : deps.config.self_healing.propagation.default_scope;
    const base = {
      problematicPattern: '',
      patternKind: 'semantic' as const,
      ruleDescription: '',
      scope: defaultScope,
      source: 'offline' as const,
      failingCases: cases.length,
      bisect: [],
      culpritParentId: null,
      reproduced: false,
    };

    const reproducedByFailed = await reproducedCases(deps.sandbox, failed, cases);
    // Walk up, nearest first: the first ancestor that passes today's suite is the last validated
    // one; the first that also answers the failing inputs correctly is where the bug is absent.
    let validated: ({ id: string } & ToolSource) | undefined;
    let lastGood: ({ id: string } & ToolSource) | undefined;
    for (const candidate of ancestors) {
      await checkpoint();
      if (!(await judgeStoredVersion(deps, candidate)).passed) continue;
      validated ??= candidate;
      if (!(await firstReproduced(deps.sandbox, candidate, reproducedByFailed))) {
        lastGood = candidate;
        break;
      }
    }
    if (!validated) {
      return {
        ...base,
        recoverable: false,
        verdict: 'unrecoverable',
        reason: `no ancestor of ${input.versionId} passes its suite today: nothing to heal from`,
        culpritId: null,
        lastGoodId: null,
      };
    }

    if (cases.length && !reproducedByFailed.length) {
      const transient = cases.every((c) => c.errorType && TRANSIENT_ERRORS.has(c.errorType));
      return {
        ...base,
        recoverable: true,
        verdict: 'transient',
        reason: transient
          ? `the failures (${[...new Set(cases.map((c) => c.errorType))].join(', ')}) do not reproduce now: a transient fault, not the code`
          : `none of the ${cases.length} failing input(s) reproduces against ${input.versionId} now; nothing to prune on this evidence`,
        culpritId: null,
        lastGoodId: validated.id,
      };
    }
    if (!lastGood) {
      return {
        ...base,
        recoverable: true,
        verdict: 'not_this_mutation',
        reason: `${validated.id}, which passes its suite, fails the same ${reproducedByFailed.length} input(s) the same way, as does every validated ancestor: the cause is the environment or an older bug, not ${input.versionId}'s mutation`,
        culpritId: null,
        lastGoodId: validated.id,
      };
    }

    const pathIds = await pathBetween(deps.store, lastGood.id, input.versionId);
    const codeOf = await sourcesOf(deps, pathIds, [failed, ...ancestors]);
    const path = pathIds.map((id) => ({ id, ...codeOf.get(id)! }));
    const { culprit, probes } = await bisect(path, async (v) => {
      await checkpoint();
      return isBad(deps, v, reproducedByFailed);
    });
    const culpritIndex = pathIds.indexOf(culprit);
    const before = path[culpritIndex - 1]!;
    const mutation = (await deps.store.graph.latestMutation(culprit))?.description ?? null;
    const bad = codeOf.get(culprit)!;
    const badCode = bad.code;
    const language = bad.language;
    // What the heal is expected to produce: a rule must never forbid it.
    // Undoing a change across languages (a rewrite from JavaScript to Python) is no merge.
    const oneLanguage = before.language === language && failed.language === language;
    const revert =
      culprit !== input.versionId && oneLanguage
        ? revertChange({ culpritCode: badCode, failedCode: failed.code, parentCode: before.code, language })
        : null;
    const healedCodes = [lastGood.code, before.code, ...(revert?.ok ? [revert.code] : [])];
    // Nothing learned from nothing: a gate only when a failing input was reproduced on the culprit.
    const reproduced = (await firstReproduced(deps.sandbox, bad, reproducedByFailed)) !== undefined;
    const common = {
      recoverable: true,
      verdict: 'mutation' as const,
      culpritId: culprit,
      culpritParentId: before.id,
      lastGoodId: lastGood.id,
      bisect: probes,
      failingCases: cases.length,
      reproduced,
    };
    // A structural difference between two languages explains nothing: the rule is then advice.
    const offline = () =>
      analyzeOffline({
        goodCode: before.code,
        badCode,
        language,
        goodId: before.id,
        badId: culprit,
        mutation,
        failure: failureText,
        healedCodes,
        reproduced: reproduced && before.language === language,
      });

    if (input.useLlm && deps.llm) {
      try {
        const answer = await analyzeWithLlm(
          deps.llm,
          {
            language,
            failedId: input.versionId,
            culpritId: culprit,
            goodId: before.id,
            failure: failureText,
            failureType: failure?.failureType ?? 'failure',
            mutation,
            diff: lineDiff(before.code, badCode),
            goodCode: before.code,
            badCode,
            failingCases: describeCases(reproducedByFailed),
          },
          activitySignal(),
        );
        return {
          ...common,
          recoverable: answer.recoverable,
          reason: answer.reason,
          problematicPattern: answer.problematic_pattern,
          patternKind: reproduced
            ? checkedPattern(answer.problematic_pattern, answer.pattern_kind, badCode, healedCodes, language)
            : 'semantic',
          ruleDescription: answer.rule_description,
          scope: defaultScope === 'global' ? 'global' : answer.scope,
          source: 'llm',
        };
      } catch (err) {
        // Transient errors propagate: Temporal retries them. A malformed or refused answer falls back.
        if (!(err instanceof MalformedAnswerError || err instanceof PermanentLlmError)) throw err;
        const fallback = offline();
        return {
          ...common,
          ...fallback,
          reason: `${fallback.reason} (offline analysis: ${err.message})`,
          scope: defaultScope,
          source: 'offline',
        };
      }
    }
    return { ...common, ...offline(), scope: defaultScope, source: 'offline' };
  };
}
