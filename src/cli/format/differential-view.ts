import { corpusSourcesText, type DifferentialOutcome, type DifferentialReport } from '../../shared/lineage-types.js';
import { paint } from './style.js';

function answer(o: DifferentialOutcome): string {
  return o.error !== null ? `error ${o.error}` : JSON.stringify(o.output);
}

const VERDICT: Record<DifferentialReport['verdict'], string> = {
  same: 'same behaviour',
  refused: 'REFUSED',
  listed: 'differences listed for review',
};

/**
 * The differential evidence of a version: the verdict, the corpus it ran on (sources and seed) and
 * the `limit` smallest differing inputs with every answer.
 */
export function renderDifferential(
  d: DifferentialReport,
  options: { limit?: number; indent?: string; color?: boolean } = {},
): string[] {
  const indent = options.indent ?? '  ';
  const limit = options.limit ?? 3;
  const color = options.color ?? false;
  const tone = d.verdict === 'refused' ? 'red' : d.verdict === 'listed' ? 'yellow' : 'green';
  const lines = [
    `${indent}differential vs ${d.parents.join(' + ')}: ${paint(VERDICT[d.verdict], tone, color)} — ${d.message}`,
    `${indent}  corpus: ${d.inputs} inputs (${corpusSourcesText(d.sources)}; seed ${d.seed})${d.unjudged ? `, ${d.unjudged} left out (a parent hit a limit)` : ''}${d.notRun ? `, ${d.notRun} not run (time budget, or larger than an input a parent could not answer)` : ''}, ${d.differing} differing, ${d.durationMs.toFixed(1)} ms`,
  ];
  for (const x of d.differences.slice(0, limit)) {
    const from =
      JSON.stringify(x.originalInput) !== JSON.stringify(x.input)
        ? ` (shrunk from ${JSON.stringify(x.originalInput)}, ${x.source})`
        : ` (${x.source})`;
    lines.push(
      `${indent}  ${JSON.stringify(x.input)}${from}: ${d.versionId} → ${answer(x.output)}, ${x.parents.map((p) => `${p.id} → ${answer(p.output)}`).join(', ')}${x.criticalTest ? ` [critical test "${x.criticalTest}"]` : ''}`,
    );
  }
  if (d.differences.length > limit)
    lines.push(`${indent}  … ${d.differences.length - limit} more (dise lineage ${d.versionId} --json)`);
  return lines;
}
