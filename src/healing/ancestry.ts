import type { DiseConfig } from '../config/schema.js';
import { checkRuleGates } from '../detection/static-analysis.js';
import { runSuite, type SuiteTest } from '../detection/test-runner.js';
import type { PrismaClient } from '../infra/database.js';
import type { LineageStore } from '../lineage/store.js';
import { codeHash } from '../lineage/tool-code.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { Health } from '../shared/lineage-types.js';
import { reproduces, type FailingCase } from './failing-cases.js';

export interface AncestorCandidate {
  id: string;
  generation: number;
  health: Health;
  code: string;
}

/** Ancestors a heal may start from, nearest first; pruned and failed ones are never candidates. */
export async function candidateAncestors(prisma: PrismaClient, store: LineageStore, versionId: string): Promise<AncestorCandidate[]> {
  const ancestors = (await store.ancestors(versionId)).filter((a) => a.health !== 'pruned' && a.health !== 'failed');
  if (!ancestors.length) return [];
  const rows = await prisma.toolLineage.findMany({ where: { toolId: { in: ancestors.map((a) => a.id) } }, select: { toolId: true, code: true } });
  const code = new Map(rows.map((r) => [r.toolId, r.code]));
  return ancestors
    .map((a) => ({ id: a.id, generation: a.generation, health: a.health, code: code.get(a.id)! }))
    .sort((a, b) => b.generation - a.generation || a.id.localeCompare(b.id));
}

export async function suiteOf(store: LineageStore, versionId: string): Promise<SuiteTest[]> {
  return (await store.suiteFor(versionId)).map((t) => ({ id: t.id, name: t.name, input: t.input, expected: t.expected, critical: t.critical, toolId: t.toolId, origin: t.origin }));
}

/**
 * Validates a version against today's suite (its tests and its ancestors', minted ones included)
 * and the rule gates in its scope — never trusting a stored health flag.
 */
export async function passesToday(
  sandbox: Sandbox,
  config: DiseConfig,
  store: LineageStore,
  candidate: { id: string; code: string },
): Promise<{ passed: boolean; why: string | null }> {
  const suite = await suiteOf(store, candidate.id);
  if (config.self_healing.detection.test_based && suite.length) {
    const failed = runSuite(sandbox, codeHash(candidate.code), candidate.code, suite).filter((r) => !r.passed && r.critical);
    if (failed.length) return { passed: false, why: `fails ${failed.length} critical test(s), e.g. "${failed[0]!.name}"` };
  }
  const violations = checkRuleGates(candidate.code, await store.rulesInScope(candidate.id));
  if (violations.length) return { passed: false, why: `violates rule ${violations[0]!.ruleId}` };
  return { passed: true, why: null };
}

/** A version is bad on the evidence when it fails its suite or reproduces any failing case. */
export async function isBad(sandbox: Sandbox, config: DiseConfig, store: LineageStore, v: { id: string; code: string }, cases: FailingCase[]): Promise<boolean> {
  if (cases.some((c) => reproduces(sandbox, v.code, c))) return true;
  return !(await passesToday(sandbox, config, store, v)).passed;
}

/**
 * The path from the last good ancestor down to the failed version along first parents, when the
 * good one lies on it; otherwise just [good, failed].
 */
export async function pathBetween(store: LineageStore, goodId: string, failedId: string): Promise<string[]> {
  const chain = [...(await store.ancestorPath(failedId)), failedId];
  const at = chain.indexOf(goodId);
  return at >= 0 ? chain.slice(at) : [goodId, failedId];
}

/**
 * Bisects `path` (first known good, last known bad) for the first bad version: O(log n) versions run.
 * Returns the culprit and what each probe found.
 */
export async function bisect(
  path: { id: string; code: string }[],
  bad: (v: { id: string; code: string }) => Promise<boolean>,
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
