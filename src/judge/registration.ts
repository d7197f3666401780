import type { RegistrationValidator } from '../lineage/registration.js';
import { loadFeatureReview, reviewFeatureAdd, type FeatureReviewDeps } from './feature-review.js';
import { loadJudgement } from './plans.js';

/**
 * The check every new version passes at registration (`dise tool add`, the demo): the judge with
 * the registration plan — static analysis, the rule gates in its scope, its suite, regression against
 * its first parent and the differential check beside every parent (stored with its differences; an
 * optimization or refactor that differs fails). Its evidence is read inside the registration's
 * transaction, the tool code runs with none open, and the verdict is written in the registration's
 * one short transaction. A version with a critical finding is stored FAILED with its failure
 * records, and so never routed. A feature_add whose differences were listed then meets the judges
 * beyond its parent (src/judge/feature-review.ts): the LLM reviewer and peers, with no transaction
 * open either, or a person (stored HELD until `dise review`).
 */
export function registrationValidator(deps: FeatureReviewDeps): RegistrationValidator {
  return async (tx, version) => {
    const judge = await loadJudgement(
      deps,
      'registration',
      version,
      {
        scopeOf: version.id,
        baselineId: version.parents[0] ?? null,
        parentIds: version.parents,
        mutationOf: version.id,
      },
      tx,
    );
    const reviewEvidence = await loadFeatureReview(deps, version, tx);
    return async () => {
      const verdict = await judge();
      const review =
        reviewEvidence &&
        verdict.passed &&
        verdict.differential?.verdict === 'listed' &&
        verdict.differential.judgedAs === 'feature_add'
          ? await reviewFeatureAdd(deps, version, reviewEvidence, verdict.differential, verdict.differingInputs)
          : null;
      const failures = [...verdict.failures, ...(review?.failures ?? [])];
      const passed = verdict.passed && review?.outcome !== 'held';
      return async (db) => {
        if (verdict.differential) await deps.store.differential.record(verdict.differential, db);
        // Imported rules in quarantine report what they match here and never refuse.
        const reported = await deps.store.shared.observe(
          version,
          passed,
          deps.config.rules_sharing.promote_after,
          db,
          deps.config.self_healing.propagation.similarity_threshold,
        );
        return {
          health: !passed ? 'failed' : review?.outcome === 'awaiting' ? 'held' : 'healthy',
          failures,
          differential: verdict.differential,
          reports: [
            ...(review?.notes ?? []),
            ...reported.map(
              (v) =>
                `imported rule ${v.ruleId} (report-only) matches at line ${v.line}: ${v.excerpt} — ${v.description}`,
            ),
          ],
        };
      };
    };
  };
}
