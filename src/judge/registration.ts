import type { RegistrationValidator } from '../lineage/registration.js';
import { judgeWithScope, type JudgeDeps } from './plans.js';

/**
 * The check every new version passes at registration (`dise tool add`, the demo): the judge with
 * the registration plan, inside the registration's transaction — static analysis, the rule gates in
 * its scope, its suite, regression against its first parent and the differential check beside every
 * parent (stored with its differences; an optimization or refactor that differs fails). A version with a critical finding
 * is stored FAILED with its failure records, and so never routed.
 */
export function registrationValidator(deps: JudgeDeps): RegistrationValidator {
  return async (tx, version) => {
    const verdict = await judgeWithScope(
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
    if (verdict.differential) await deps.store.differential.record(verdict.differential, tx);
    // Imported rules in quarantine report what they match here and never refuse.
    const reported = await deps.store.shared.observe(
      version,
      verdict.passed,
      deps.config.rules_sharing.promote_after,
      tx,
      deps.config.self_healing.propagation.similarity_threshold,
    );
    return {
      health: verdict.passed ? 'healthy' : 'failed',
      failures: verdict.failures,
      differential: verdict.differential,
      reports: reported.map(
        (v) => `imported rule ${v.ruleId} (report-only) matches at line ${v.line}: ${v.excerpt} — ${v.description}`,
      ),
    };
  };
}
