import { pathBetween } from '../healing/ancestry.js';
import { lineDiff } from '../healing/offline-analysis.js';
import { revertChange } from '../healing/revert.js';
import { MalformedAnswerError, PermanentLlmError } from '../llm/client.js';
import { regenerateWithLlm, reviseWithLlm } from '../llm/regenerator.js';
import type { RegenerationCandidate, RegenerationStrategy } from '../shared/heal-types.js';
import { activitySignal } from './cancellation.js';
import { requireVersion, type ActivityDeps } from './deps.js';

export interface RegenerateInput {
  healId: string;
  attempt: number;
  strategy: RegenerationStrategy;
  ancestorId: string;
  failedId: string;
  culpritId: string;
  /** The version the culprit changed: what a revert restores. */
  culpritParentId: string | null;
  /** Why the culprit's change is wrong, for the LLM. */
  mistake: string;
  ruleIds: string[];
  /** Why earlier attempts were rejected: fed to the next one. */
  rejections: string[];
}

/**
 * Step 7: a candidate by one strategy. `revert` undoes the culprit's change on top of the failed
 * version with a three-way merge (offline; a conflict is a failed attempt); `llm` has the LLM rewrite
 * the failed version without the mistake, keeping the later changes — or regenerate from the healthy
 * ancestor when the failed version is itself the culprit; `rollback` is the ancestor's own code. An
 * unusable answer is a failed attempt (code null); transient LLM errors are thrown for Temporal to
 * retry.
 */
export function regenerateActivity(deps: ActivityDeps) {
  return async function regenerate(input: RegenerateInput): Promise<RegenerationCandidate> {
    const { store } = deps;
    const [ancestor, failed, culprit, culpritParent] = await Promise.all([
      requireVersion(deps, input.ancestorId),
      requireVersion(deps, input.failedId),
      requireVersion(deps, input.culpritId),
      input.culpritParentId ? requireVersion(deps, input.culpritParentId) : null,
    ]);
    const keepsLaterWork = input.culpritId !== input.failedId;

    if (input.strategy === 'rollback') {
      return {
        strategy: 'rollback',
        code: ancestor.code,
        notes: `rollback to ${input.ancestorId}'s code`,
        builtOn: input.ancestorId,
      };
    }

    if (input.strategy === 'revert') {
      if (!keepsLaterWork) {
        return {
          strategy: 'revert',
          code: null,
          notes: `nothing after ${input.culpritId} to keep: a revert of it would be a rollback`,
          builtOn: null,
        };
      }
      const parent = culpritParent ?? ancestor;
      if (parent.language !== culprit.language || failed.language !== culprit.language) {
        return {
          strategy: 'revert',
          code: null,
          notes: `${input.culpritId} is in ${culprit.language}, ${parent.id} in ${parent.language}: undoing a rewrite into another language is no merge`,
          builtOn: null,
        };
      }
      const result = revertChange({
        culpritCode: culprit.code,
        failedCode: failed.code,
        parentCode: parent.code,
        language: failed.language,
      });
      if (!result.ok)
        return {
          strategy: 'revert',
          code: null,
          notes: `revert of ${input.culpritId} on ${input.failedId} conflicts: ${result.reason}`,
          builtOn: null,
        };
      return {
        strategy: 'revert',
        code: result.code,
        notes: `reverted ${input.culpritId}'s change (against ${parent.id}) on top of ${input.failedId}, merged by ${result.granularity}`,
        builtOn: input.failedId,
      };
    }

    if (!deps.llm)
      return { strategy: 'llm', code: null, notes: 'no LLM is configured (set OPENAI_API_KEY)', builtOn: null };
    const scopeOf = keepsLaterWork ? input.failedId : input.ancestorId;
    const scopeVersion = keepsLaterWork ? failed : ancestor;
    const rules = [
      ...(await store.rules.inScopeWith(scopeOf, input.ruleIds)).map((r) => ({
        ruleId: r.ruleId,
        description: r.description,
        patternToAvoid: r.patternToAvoid,
        reason: r.reason,
        sourceFailure: r.sourceFailure,
      })),
      // Semantic rules learned by other installations: advice, with no pattern, like a local semantic rule.
      ...(
        await store.shared.advice(
          { id: scopeOf, code: scopeVersion.code, language: scopeVersion.language },
          undefined,
          deps.config.self_healing.propagation.similarity_threshold,
        )
      ).map((a) => ({
        ruleId: a.ruleId,
        description: a.description,
        patternToAvoid: '',
        reason: a.reason,
        sourceFailure: a.source,
      })),
    ];
    try {
      if (keepsLaterWork) {
        const parent = culpritParent ?? ancestor;
        const path = await pathBetween(store, input.culpritId, input.failedId);
        const laterGoals = [];
        for (const id of path.slice(1)) {
          const m = await store.graph.latestMutation(id);
          if (m) laterGoals.push({ versionId: id, goal: `${m.description} (${m.type})` });
        }
        const answer = await reviseWithLlm(
          deps.llm,
          {
            language: failed.language,
            failedId: input.failedId,
            failedCode: failed.code,
            culpritId: input.culpritId,
            culpritDiff: lineDiff(parent.code, culprit.code),
            culpritMistake: input.mistake,
            laterGoals,
            rules,
            rejections: input.rejections,
            attempt: input.attempt,
          },
          activitySignal(),
        );
        return { strategy: 'llm', code: answer.code, notes: answer.notes, builtOn: input.failedId };
      }
      const goal = (await store.graph.latestMutation(input.culpritId))?.description ?? `improve ${input.ancestorId}`;
      const answer = await regenerateWithLlm(
        deps.llm,
        {
          language: ancestor.language,
          ancestorId: input.ancestorId,
          ancestorCode: ancestor.code,
          goal,
          rules,
          rejections: input.rejections,
          attempt: input.attempt,
        },
        activitySignal(),
      );
      return { strategy: 'llm', code: answer.code, notes: answer.notes, builtOn: input.ancestorId };
    } catch (err) {
      if (err instanceof MalformedAnswerError || err instanceof PermanentLlmError) {
        return { strategy: 'llm', code: null, notes: err.message, builtOn: null };
      }
      throw err;
    }
  };
}
