import type { Health, ToolLineage } from '../../shared/lineage-types.js';
import { immunityLine } from '../../shared/immunity-types.js';
import { renderDifferential } from './differential-view.js';
import { healthBadge, paint, stamp, titleCase } from './style.js';

interface PruneEvidence {
  analysis?: {
    verdict: string;
    source: string;
    reason: string;
    lastGoodId: string | null;
    bisect?: { id: string; bad: boolean }[];
  } | null;
  failingInputs?: { input: unknown; observed?: unknown; expected?: unknown; errorType?: string }[];
  metricWindow?: unknown;
  staticFindings?: { description: string }[];
  diff?: string | null;
}

export interface LineageViewExtras {
  /** Health of every version named in the view (ancestors, children, regenerated versions). */
  healthOf: Map<string, Health>;
  /** For each rule created here: how many versions it reached. */
  ruleReach?: Map<string, number>;
  color?: boolean;
}

const DETECTION_LABEL: Record<string, string> = {
  runtime: 'Runtime monitoring',
  test: 'Test suite',
  regression_test: 'Regression test',
  static_analysis: 'Static analysis',
  report: 'Reported by a caller',
  differential: 'Differential check against the parent',
};

/** The `lineage` view: status, ancestry, failures, mutations, rules created, recovery. */
export function renderLineage(l: ToolLineage, extras: LineageViewExtras): string {
  const color = extras.color ?? false;
  const lines: string[] = [];
  lines.push(paint(`Tool Lineage: ${l.id}`, 'bold', color));
  const status = healthBadge(l.health, color);
  // The most telling failure: a detector's or a caller's, not an operator's request to heal.
  const telling = [...l.failures].reverse().find((f) => f.failureType !== 'manual') ?? l.failures.at(-1);
  const why = l.health === 'pruned' || l.health === 'failed' ? ` (${telling?.description ?? 'failure recorded'})` : '';
  lines.push(`Status: ${status}${why}`);
  if (l.prunedAt) lines.push(`Pruned: ${stamp(l.prunedAt)}`);
  if (l.description) lines.push(`Description: ${l.description}`);
  lines.push(
    `Language: ${l.language}   Generation: ${l.generation}   Executions: ${l.executionCount}   Success rate: ${(l.successRate * 100).toFixed(1)}%`,
  );
  if (l.immunity) lines.push(`Mutation score: ${immunityLine(l.immunity)}`);
  if (l.canary) {
    const c = l.canary;
    const progress = `mirrored ${c.mirrored}${c.minCalls ? `/${c.minCalls}` : ''}, agreement ${c.agreement === null ? '-' : `${(c.agreement * 100).toFixed(1)}%`}, verdict ${c.verdict ?? 'not judged yet'}`;
    lines.push(
      `Canary: ${c.status === 'running' ? `in shadow beside ${c.stableId}` : `${c.status} (was in shadow beside ${c.stableId})`}: ${progress}`,
    );
    if (c.decision) lines.push(`  Decision: ${c.decision}`);
    else if (c.reasons.length) lines.push(`  Judge: ${c.reasons.join('; ')}`);
  }
  if (l.route.toolRoutedTo) {
    lines.push(
      `Routing: ${l.route.routed ? 'callers of ' + l.name + ' are routed here' : `callers of ${l.name} go to ${l.route.toolRoutedTo}`}`,
    );
  }

  // Every ancestor, merged-in branches included, oldest first; a merge names what it merges.
  lines.push('', 'Ancestry:');
  const chain = [
    ...l.ancestors.map((a) => ({ id: a.id, health: a.health, parents: a.parents.map((p) => p.id) })),
    { id: l.id, health: l.health, parents: l.parents },
  ];
  chain.forEach((a, i) => {
    const last = i === chain.length - 1;
    const merge = a.parents.length > 1 ? `  merge of ${a.parents.join(' + ')}` : '';
    const offPath =
      !last && !l.ancestorPath.includes(a.id)
        ? `  (merged in via ${chain.slice(i + 1).find((c) => c.parents.includes(a.id))?.id ?? '?'})`
        : '';
    lines.push(
      `  ${last ? '└─' : '├─'} ${a.id} (${healthBadge(a.health, color)})${merge}${offPath}${last ? ' ← You are here' : ''}`,
    );
  });
  if (l.children.length) {
    lines.push(
      `  Children: ${l.children.map((c) => `${c} (${healthBadge(extras.healthOf.get(c) ?? 'healthy', color)})`).join(', ')}`,
    );
  }

  lines.push('', 'Failures:');
  if (!l.failures.length) lines.push('  none');
  l.failures.forEach((f, i) => {
    lines.push(`  ${i + 1}. [${stamp(f.timestamp)}] ${titleCase(f.failureType)}: ${f.description}`);
    lines.push(`     Severity: ${titleCase(f.severity)}`);
    lines.push(`     Detection: ${DETECTION_LABEL[f.detectionMethod] ?? titleCase(f.detectionMethod)}`);
    if (f.testCaseFailed) lines.push(`     Test: ${f.testCaseFailed}`);
  });

  lines.push('', 'Mutations Applied:');
  if (!l.mutations.length) lines.push('  none (root version)');
  for (const m of l.mutations) {
    lines.push(`  - [${stamp(m.timestamp)}] ${titleCase(m.mutationType)}: ${m.description}`);
    if (m.fitnessBefore !== null || m.fitnessAfter !== null) {
      lines.push(`    Fitness: ${m.fitnessBefore ?? '?'} → ${m.fitnessAfter ?? '?'}`);
    }
  }

  if (l.differential) {
    lines.push('', 'Differential Check:');
    lines.push(...renderDifferential(l.differential, { limit: 5, color }));
  }

  lines.push('', 'Avoidance Rules Created:');
  if (!l.avoidanceRules.length) lines.push('  none');
  for (const r of l.avoidanceRules) {
    lines.push(`  - ${r.ruleId}: ${r.description}`);
    const reach = extras.ruleReach?.get(r.ruleId);
    lines.push(`    Scope: ${r.propagationScope}${reach !== undefined ? `   Propagated to: ${reach} version(s)` : ''}`);
  }
  if (l.inheritedRules.length) lines.push(`  Inherited: ${l.inheritedRules.join(', ')}`);

  const evidence = l.pruneEvidence as PruneEvidence | null;
  if (evidence) {
    lines.push('', 'Prune Decision:');
    const a = evidence.analysis;
    if (a) {
      lines.push(
        `  Verdict: ${a.verdict} (${a.source} analysis)${a.lastGoodId ? `; last good version ${a.lastGoodId}` : ''}`,
      );
      lines.push(`  Reason: ${a.reason}`);
      if (a.bisect?.length)
        lines.push(`  Bisected: ${a.bisect.map((b) => `${b.id} ${b.bad ? 'bad' : 'good'}`).join(', ')}`);
    }
    for (const c of (evidence.failingInputs ?? []).slice(0, 5)) {
      const what = c.errorType
        ? `failed with ${c.errorType}`
        : `returned ${JSON.stringify(c.observed)}${c.expected !== undefined ? `, expected ${JSON.stringify(c.expected)}` : ''}`;
      lines.push(`  Evidence: input ${JSON.stringify(c.input)} ${what}`);
    }
    if (evidence.metricWindow) lines.push(`  Metric window: ${JSON.stringify(evidence.metricWindow)}`);
    if (evidence.staticFindings?.length)
      lines.push(`  Static findings: ${evidence.staticFindings.map((f) => f.description).join('; ')}`);
    if (evidence.diff) {
      lines.push('  Diff:');
      for (const d of evidence.diff.split('\n').slice(0, 12))
        lines.push(`    ${paint(d, d.startsWith('+') ? 'green' : 'red', color)}`);
    }
  }

  if (l.regeneratedFrom || l.regeneratedAs.length || l.revertedBy.length) {
    lines.push('', 'Recovery:');
    if (l.reverts) {
      lines.push(
        `  Revert: undoes ${l.reverts}'s change on top of ${l.regeneratedFrom ?? '?'}, keeping what came after it`,
      );
    } else if (l.regeneratedFrom) {
      const rollback = l.healedBy?.strategy === 'rollback';
      lines.push(`  ${rollback ? 'Rolled back' : 'Regenerated'} from healthy ancestor ${l.regeneratedFrom}`);
    }
    const f = l.healedBy?.features;
    if (f && f.total) {
      lines.push(`  Features kept: ${f.kept}/${f.total}${f.lost.length ? ` (lost: ${f.lost.join(', ')})` : ''}`);
    }
    for (const t of l.healedBy?.setAside ?? [])
      lines.push(`  Set aside: "${t.name}" (introduced by ${t.introducedBy}; it encodes the bug)`);
    for (const r of l.revertedBy) {
      const h = extras.healthOf.get(r);
      lines.push(`  ${paint('✓', 'green', color)} Change reverted in ${r}${h ? ` (${healthBadge(h, color)})` : ''}`);
    }
    for (const r of l.regeneratedAs) {
      const h = extras.healthOf.get(r);
      lines.push(`  ${paint('✓', 'green', color)} Auto-regenerated as ${r}${h ? ` (${healthBadge(h, color)})` : ''}`);
    }
  }
  return lines.join('\n');
}
