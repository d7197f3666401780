import { runSuite } from '../detection/test-runner.js';
import { pathBetween } from '../healing/ancestry.js';
import { judgeWithScope, toSuiteTests } from '../judge/plans.js';
import { codeHash } from '../detection/tool-code.js';
import type { ToolSource } from '../shared/language.js';
import type { CandidateValidation, FeaturesKept, RegenerationStrategy, SetAsideTest } from '../shared/heal-types.js';
import { checkpoint } from './cancellation.js';
import { requireVersion, type ActivityDeps } from './deps.js';

export interface ValidateCandidateInput {
  healId: string;
  attempt: number;
  code: string;
  strategy: RegenerationStrategy;
  /** What the candidate is built on: the failed version (revert, LLM revision) or the healthy ancestor. */
  builtOn: string;
  ancestorId: string;
  failedId: string;
  culpritId: string;
  ruleIds: string[];
  requireTests: boolean;
}

/** A version's code and language alone. */
const sourceOf = (v: ToolSource): ToolSource => ({ code: v.code, language: v.language });

/**
 * Step 8: the judge decides. A candidate built on the healthy ancestor is judged as before against
 * it: parse, static analysis, every rule gate in scope (the new rules included), the ancestor's suite
 * (minted tests included) and regression against it, and the ancestor's answers to recorded real
 * inputs. A candidate built on the failed version must pass the failed version's whole suite —
 * features added after the culprit included — less the tests the culprit introduced that encode the
 * bug (the healthy ancestor fails them: set aside, and named), with regression against the failed
 * version. A candidate made from the ancestor also passes the differential check beside it, under the
 * culprit's declared mutation type. Either way the result says how many of the features added after
 * the culprit it keeps.
 */
export function validateCandidateActivity(deps: ActivityDeps) {
  return async function validateCandidate(input: ValidateCandidateInput): Promise<CandidateValidation> {
    const { store } = deps;
    const onFailed = input.builtOn === input.failedId;
    // Independent reads, at once: a heal is measured end to end, one database round trip at a time.
    // Tests introduced from the culprit down to the failed version are the features at stake.
    const [ancestor, failed, pathIds, suite] = await Promise.all([
      requireVersion(deps, input.ancestorId),
      onFailed ? requireVersion(deps, input.failedId) : null,
      input.culpritId === input.failedId ? [input.failedId] : pathBetween(store, input.culpritId, input.failedId),
      store.tests.suiteFor(input.failedId),
    ]);
    // The candidate is written in the language of the version it is built on (promotion inherits it).
    const language = failed ? failed.language : ancestor.language;
    await checkpoint();

    const path = new Set(pathIds);
    const pathTests = toSuiteTests(suite.filter((t) => path.has(t.toolId) && t.origin === 'authored'));
    const culpritTests = pathTests.filter((t) => t.toolId === input.culpritId);
    const setAside: SetAsideTest[] = (await runSuite(deps.sandbox, codeHash(ancestor.code), ancestor, culpritTests))
      .map((r, i) => ({ r, t: culpritTests[i]! }))
      .filter(({ r }) => !r.passed)
      .map(({ t }) => ({ testId: t.id!, name: t.name, introducedBy: input.culpritId }));
    const asideIds = new Set(setAside.map((s) => s.testId));
    const featureTests = pathTests.filter((t) => !asideIds.has(t.id!));
    const results = await runSuite(deps.sandbox, codeHash(input.code), { code: input.code, language }, featureTests);
    const features: FeaturesKept = {
      kept: results.filter((r) => r.passed).length,
      total: results.length,
      lost: results.filter((r) => !r.passed).map((r) => r.name),
    };

    const why = 'regeneration.require_test_validation is off in config.yaml';
    const verdict = await judgeWithScope(
      deps,
      onFailed ? 'revert' : 'candidate',
      { id: `candidate ${input.attempt} (${input.strategy})`, code: input.code, language },
      onFailed
        ? {
            scopeOf: input.failedId,
            extraRuleIds: input.ruleIds,
            baselineId: input.failedId,
            excludeTests: [...asideIds],
            skip: input.requireTests ? {} : { suite: why, regression: why },
            known: { suite, baseline: sourceOf(failed!) },
          }
        : {
            scopeOf: input.ancestorId,
            extraRuleIds: input.ruleIds,
            baselineId: input.ancestorId,
            replayFrom: [input.failedId, input.culpritId],
            // The candidate keeps the culprit's goal, and so its promise: an optimization's candidate
            // must answer every corpus input as the ancestor does.
            parentIds: [input.ancestorId],
            mutationOf: input.culpritId,
            skip: input.requireTests ? {} : { suite: why, regression: why },
            known: { baseline: sourceOf(ancestor) },
          },
    );
    await checkpoint(); // the judge's verdict is moot for a cancelled heal
    return {
      ok: verdict.passed,
      rejections: verdict.rejections,
      testsRun: verdict.testsRun,
      replayed: verdict.replayed,
      setAside: onFailed ? setAside : [],
      features,
    };
  };
}
