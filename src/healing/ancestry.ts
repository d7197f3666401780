import { judgeStoredVersion, type JudgeDeps } from '../judge/plans.js';
import type { LineageStore } from '../lineage/store.js';
import type { ToolSource } from '../shared/language.js';
import type { Health } from '../shared/lineage-types.js';
import { firstReproduced, type FailingCase } from './failing-cases.js';

export interface AncestorCandidate extends ToolSource {
  id: string;
  generation: number;
  health: Health;
}

/** Ancestors a heal may start from, nearest first; pruned and failed ones are never candidates. */
export async function candidateAncestors(store: LineageStore, versionId: string): Promise<AncestorCandidate[]> {
  const ancestors = await store.graph.usableAncestorSources(versionId);
  return ancestors.sort((a, b) => b.generation - a.generation || a.id.localeCompare(b.id));
}

/** A version is bad on the evidence when it reproduces any failing case or the judge refuses it today. */
export async function isBad(deps: JudgeDeps, v: { id: string } & ToolSource, cases: FailingCase[]): Promise<boolean> {
  if (await firstReproduced(deps.sandbox, v, cases)) return true;
  return !(await judgeStoredVersion(deps, v)).passed;
}

/**
 * The path from the last good ancestor down to the failed version along first parents, when the
 * good one lies on it; otherwise just [good, failed].
 */
export async function pathBetween(store: LineageStore, goodId: string, failedId: string): Promise<string[]> {
  const chain = [...(await store.graph.ancestorPath(failedId)), failedId];
  const at = chain.indexOf(goodId);
  return at >= 0 ? chain.slice(at) : [goodId, failedId];
}

/**
 * Bisects `path` (first known good, last known bad) for the first bad version: O(log n) versions run.
 * Returns the culprit and what each probe found.
 */
export async function bisect<T extends { id: string }>(
  path: T[],
  bad: (v: T) => Promise<boolean>,
): Promise<{ culprit: string; probes: { id: string; bad: boolean }[] }> {
  const probes: { id: string; bad: boolean }[] = [];
  let lo = 0; // good
  let hi = path.length - 1; // bad
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const isBadMid = await bad(path[mid]!);
    probes.push({ id: path[mid]!.id, bad: isBadMid });
    if (isBadMid) hi = mid;
    else lo = mid;
  }
  return { culprit: path[hi]!.id, probes };
}
