import { HEAL_STEPS } from '../../shared/heal-steps.js';
import type { HealProgress } from '../../shared/heal-types.js';

/** A heal's outcome in a few lines: verdict, prune, rule, ancestor, attempts, result. */
export function renderHeal(p: HealProgress): string {
  const lines = [`Heal of ${p.versionId}: ${p.status.toUpperCase()} (${p.message})`];
  // A heal that is running, or ended early (cancelled, failed), says which step it is or was at.
  if (p.step !== 'done') lines.push(`  Step: ${p.step} — ${HEAL_STEPS[p.step].line}`);
  if (p.analysis) {
    lines.push(
      `  Analysis (${p.analysis.source}): ${p.analysis.verdict}${p.analysis.culpritId ? `, introduced by ${p.analysis.culpritId}` : ''} — ${p.analysis.reason}`,
    );
    if (p.analysis.bisect.length)
      lines.push(`  Bisected: ${p.analysis.bisect.map((b) => `${b.id} ${b.bad ? 'bad' : 'good'}`).join(', ')}`);
  }
  if (p.prune)
    lines.push(
      `  Pruned ${p.prune.prunedId}; tainted ${p.prune.taintedCount} descendant(s)${p.prune.reroutedTo ? `; callers rerouted to ${p.prune.reroutedTo}` : ''}`,
    );
  if (p.rule)
    lines.push(
      `  Rule ${p.rule.ruleId} (${p.rule.scope})${p.propagation ? `, reached ${p.propagation.reached} version(s)` : ''}`,
    );
  if (p.ancestor) {
    lines.push(
      `  Healthy ancestor: ${p.ancestor.ancestorId ?? 'none'}${p.ancestor.mintedTests ? `; minted ${p.ancestor.mintedTests} regression test(s) on it` : ''}`,
    );
  }
  for (const a of p.attempts) {
    lines.push(`  Attempt ${a.attempt} (${a.strategy ?? '?'}): ${a.ok ? 'passed validation' : 'rejected'}`);
    for (const r of a.rejections.slice(0, 5)) lines.push(`    - ${r.kind}: ${r.message}`);
  }
  if (p.newVersionId)
    lines.push(
      `  New version: ${p.newVersionId} ${p.canary ? `(in shadow beside ${p.canary.stableId}: dise canary status ${p.newVersionId})` : '(routed)'}${p.strategy ? `, by ${p.strategy}` : ''}${p.restored.length ? `; restored ${p.restored.join(', ')}` : ''}`,
    );
  // Older heal results (before strategies) carry neither field.
  const f = p.features;
  if (f && f.total)
    lines.push(`  Features kept: ${f.kept}/${f.total}${f.lost.length ? ` (lost: ${f.lost.join(', ')})` : ''}`);
  for (const t of p.setAside ?? [])
    lines.push(`  Set aside: "${t.name}" (introduced by ${t.introducedBy}; the healthy ancestor fails it)`);
  return lines.join('\n');
}
