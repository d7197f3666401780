import { judgeStoredVersion, type JudgeDeps } from '../judge/plans.js';
import type { LineageStore } from '../lineage/store.js';
import type { DiseConfig } from '../config/schema.js';
import { firstReproduced, gatherFailingCases } from './failing-cases.js';

/**
 * The seed's find_healthy_alternative: for a version callers are left on although it is known to
 * answer wrongly, a version of another tool that can answer instead — routed and routable, of the
 * same category, with a trigram-similar description (self_healing.propagation.similarity_threshold),
 * passing its own suite today and answering none of the failing inputs the way the broken version
 * did. The most similar that qualifies, or null.
 */
export async function findHealthyAlternative(
  deps: JudgeDeps & { store: LineageStore; config: DiseConfig },
  versionId: string,
  failureId: number | null,
  between: () => Promise<void> = async () => undefined,
): Promise<{ alternativeId: string | null; tried: { id: string; why: string | null }[] }> {
  const threshold = deps.config.self_healing.propagation.similarity_threshold;
  const candidates = await deps.store.routing.alternativeCandidates(versionId, threshold);
  if (!candidates.length) return { alternativeId: null, tried: [] };
  const cases = await gatherFailingCases(deps.store, versionId, failureId);
  const tried: { id: string; why: string | null }[] = [];
  for (const candidate of candidates) {
    await between();
    const repro = await firstReproduced(deps.sandbox, candidate, cases);
    if (repro) {
      tried.push({ id: candidate.id, why: `fails the failing input ${JSON.stringify(repro.input)} too` });
      continue;
    }
    const today = await judgeStoredVersion(deps, candidate);
    if (!today.passed) {
      tried.push({ id: candidate.id, why: today.why });
      continue;
    }
    tried.push({ id: candidate.id, why: null });
    return { alternativeId: candidate.id, tried };
  }
  return { alternativeId: null, tried };
}
