import type { DiseConfig } from '../../config/schema.js';
import { quickReads } from '../../lineage/quick-reads.js';
import { withPool, type Output } from '../context.js';
import { canaryProgressLine } from '../format/canary-view.js';
import { colorEnabled, healthBadge } from '../format/style.js';

/** `dise tool list`: every tool, its routed version and that version's health, and its canary if one runs. */
export async function toolList(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  await withPool(
    out,
    async ({ pool }) => {
      const listed = await quickReads.listTools(pool);
      // A tool with a version in CANARY shows it with its progress: calls mirrored, agreement, the judge's verdict.
      const canaryOf = await quickReads.runningCanaries(pool);
      const tools = listed.map((t) => {
        const c = canaryOf.get(t.name);
        return {
          ...t,
          canary: c
            ? {
                candidateId: c.candidateId,
                stableId: c.stableId,
                mirrored: c.mirrored,
                agreement: c.verdict?.agreement ?? null,
                verdict: c.verdict?.decision ?? null,
                minCalls: c.verdict?.minCalls ?? null,
              }
            : null,
        };
      });
      if (options.json) {
        out.result(JSON.stringify(tools, null, 2));
        return;
      }
      if (!tools.length) {
        out.info('no tools registered yet (dise tool add <manifest>)');
        return;
      }
      const color = colorEnabled();
      const width = Math.max(4, ...tools.map((t) => t.name.length));
      const vwidth = Math.max(6, ...tools.map((t) => (t.routedVersion ?? '-').length));
      out.result(`${'TOOL'.padEnd(width)}  ${'ROUTED'.padEnd(vwidth)}  VERSIONS  IMMUNITY  HEALTH`);
      for (const t of tools) {
        const answers = t.alternativeId
          ? `  known wrong: answered by ${t.alternativeId}`
          : t.knownWrong
            ? `  known wrong: ${config.runtime.known_wrong_policy === 'refuse' ? 'calls refused' : 'served with a warning'} (no healthy alternative)`
            : '';
        out.result(
          `${t.name.padEnd(width)}  ${(t.routedVersion ?? '-').padEnd(vwidth)}  ${String(t.versions).padStart(8)}  ${(t.mutationScore === null ? '-' : `${Math.round(t.mutationScore * 100)}%`).padStart(8)}  ${t.health ? healthBadge(t.health, color) : '-'}${answers}`,
        );
        const c = canaryOf.get(t.name);
        if (c)
          out.result(
            `${' '.repeat(width)}  └ ${c.candidateId} ${healthBadge('canary', color)} in shadow: ${canaryProgressLine(c.mirrored, c.verdict)}`,
          );
      }
    },
    config,
  );
}
