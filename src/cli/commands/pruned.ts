import type { DiseConfig } from '../../config/schema.js';
import { withDatabase, type Output } from '../context.js';
import { stamp, titleCase } from '../format/style.js';

interface PrunedRow {
  id: string;
  prunedAt: string | null;
  severity: string | null;
  failureType: string | null;
  why: string | null;
  replacedBy: string | null;
  tainted: number;
}

/** `dise pruned`: pruned versions and why (the `pruned` view). */
export async function pruned(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  await withDatabase(out, async ({ prisma }) => {
    const rows = await prisma.$queryRaw<PrunedRow[]>`
      SELECT t.tool_id AS id, to_char(t.pruned_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS "prunedAt",
             f.severity, f.failure_type AS "failureType",
             COALESCE(t.prune_evidence->'analysis'->>'reason', f.description) AS why,
             (SELECT r.child_id FROM lineage_relationships r WHERE r.parent_id = t.tool_id AND r.relationship_type = 'regenerated' ORDER BY r.id DESC LIMIT 1) AS "replacedBy",
             (SELECT count(*)::int FROM tool_lineage d WHERE d.health_status = 'degraded' AND d.tool_id IN (
                SELECT child_id FROM lineage_relationships WHERE parent_id = t.tool_id)) AS tainted
      FROM tool_lineage t
      LEFT JOIN LATERAL (SELECT * FROM failures WHERE tool_id = t.tool_id ORDER BY
                           (failure_type = 'manual'), CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 ELSE 3 END, id DESC LIMIT 1) f ON true
      WHERE t.health_status = 'pruned'
      ORDER BY t.pruned_at DESC NULLS LAST, t.tool_id`;
    if (options.json) {
      out.result(JSON.stringify(rows, null, 2));
      return;
    }
    if (!rows.length) {
      out.result('Pruned Tools: none');
      return;
    }
    out.result('Pruned Tools:');
    rows.forEach((r, i) => {
      out.result(`  ${i + 1}. ${r.id} (${titleCase(r.severity ?? 'unknown')}: ${titleCase(r.failureType ?? 'failure')})`);
      out.result(`     Pruned ${stamp(r.prunedAt)}${r.replacedBy ? `, replaced by ${r.replacedBy}` : ''}`);
      if (r.why) out.result(`     Why: ${r.why}`);
    });
  }, config);
}
