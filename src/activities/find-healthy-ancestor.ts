import { createHash } from 'node:crypto';
import { candidateAncestors } from '../healing/ancestry.js';
import { judgeStoredVersion } from '../judge/plans.js';
import { firstReproduced, gatherFailingCasesOf, runCase } from '../healing/failing-cases.js';
import type { AncestorResult } from '../shared/heal-types.js';
import { checkpoint, throwIfCancelled } from './cancellation.js';
import type { ActivityDeps } from './deps.js';

export interface FindHealthyAncestorInput {
  healId: string;
  failedId: string;
  culpritId: string;
  failureId: number;
}

/**
 * Step 6: walks up from the pruned version (merges included), nearest first, and validates each
 * ancestor against today's suite and rule gates and on the failing inputs — never trusting a stored
 * health flag. The first that passes is where the heal starts, and every failing input is minted
 * into a test attached to it (so every descendant, the regenerated version included, must pass it):
 * expecting the reported correct value or, when none was given, that ancestor's own output.
 */
export function findHealthyAncestorActivity(deps: ActivityDeps) {
  return async function findHealthyAncestor(input: FindHealthyAncestorInput): Promise<AncestorResult> {
    // Independent reads, at once: a heal is measured end to end, one database round trip at a time.
    const [failingCases, ancestors] = await Promise.all([
      gatherFailingCasesOf(deps.store, [
        { versionId: input.failedId, focusFailureId: input.failureId },
        ...(input.culpritId !== input.failedId ? [{ versionId: input.culpritId, focusFailureId: null }] : []),
      ]),
      candidateAncestors(deps.store, input.culpritId),
    ]);
    const cases = failingCases.flat();
    const tried: AncestorResult['tried'] = [];
    for (const candidate of ancestors) {
      await checkpoint();
      const today = await judgeStoredVersion(deps, candidate);
      if (!today.passed) {
        tried.push({ id: candidate.id, passed: false, why: today.why });
        continue;
      }
      const repro = await firstReproduced(deps.sandbox, candidate, cases);
      if (repro) {
        tried.push({
          id: candidate.id,
          passed: false,
          why: `fails the failing input ${JSON.stringify(repro.input)} too`,
        });
        continue;
      }
      tried.push({ id: candidate.id, passed: true, why: null });

      const minted = [];
      for (const c of cases) {
        const expected =
          c.expected !== undefined ? c.expected : (await runCase(deps.sandbox, candidate, c.input)).output;
        if (expected === undefined) continue; // the ancestor cannot answer it either: nothing to pin
        const key = createHash('sha256').update(JSON.stringify(c.input)).digest('hex').slice(0, 10);
        minted.push({
          name: `minted: ${input.failedId} input ${key}`,
          input: c.input,
          expected,
          sourceFailureId: c.failureId ?? input.failureId,
        });
      }
      throwIfCancelled(); // outputs of a cancelled step are not to be pinned as tests
      await deps.store.tests.mint(candidate.id, minted);
      return { ancestorId: candidate.id, tried, mintedTests: minted.length };
    }
    return { ancestorId: null, tried, mintedTests: 0 };
  };
}
