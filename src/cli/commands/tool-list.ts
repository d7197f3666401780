import type { DiseConfig } from '../../config/schema.js';
import { withDatabase, type Output } from '../context.js';
import { canaryProgressLine } from '../format/canary-view.js';
import { colorEnabled, healthBadge } from '../format/style.js';

/** `dise tool list`: every tool, its routed version and that version's health, and its canary if one runs. */
export async function toolList(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  await withDatabase(out, async ({ store }) => {
    const listed = await store.listTools();
    // A tool with a version in CANARY shows it with its progress: calls mirrored, agreement, the judge's verdict.
    const running = await store.canaries.list({ running: true });
    const counts = await store.canaries.mirroredCounts(running.map((c) => c.candidateId));
    const canaryOf = new Map(
      running.map((c) => {
        const n = counts.get(c.candidateId);
        return [c.toolName, { candidateId: c.candidateId, stableId: c.stableId, mirrored: n?.mirrored ?? 0, agreement: c.verdict?.agreement ?? null, verdict: c.verdict?.decision ?? null, minCalls: c.verdict?.minCalls ?? null }];
      }),
    );
    const tools = listed.map((t) => ({ ...t, canary: canaryOf.get(t.name) ?? null }));
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
    out.result(`${'TOOL'.padEnd(width)}  ${'ROUTED'.padEnd(vwidth)}  VERSIONS  HEALTH`);
    for (const t of tools) {
      out.result(`${t.name.padEnd(width)}  ${(t.routedVersion ?? '-').padEnd(vwidth)}  ${String(t.versions).padStart(8)}  ${t.health ? healthBadge(t.health, color) : '-'}`);
      const c = canaryOf.get(t.name);
      if (c) out.result(`${' '.repeat(width)}  └ ${c.candidateId} ${healthBadge('canary', color)} in shadow: ${canaryProgressLine(c.mirrored, running.find((r) => r.candidateId === c.candidateId)?.verdict ?? null)}`);
    }
  }, config);
}
