import type { TestDatabase } from './database.js';

/**
 * Lineage invariants every heal must leave behind, checked in SQL: routes point at usable versions,
 * no pruned version has more than one replacement, no version is routed while a heal is marked
 * running for it after the heal ended, and every regenerated version has its edges.
 */
export async function lineageViolations(db: TestDatabase, toolName: string): Promise<string[]> {
  const violations: string[] = [];
  const badRoutes = await db.query<{ tool_name: string; version_id: string; health_status: string }>(
    `SELECT r.tool_name, r.version_id, t.health_status FROM routes r JOIN tool_lineage t ON t.tool_id = r.version_id
     WHERE r.tool_name = $1 AND t.health_status NOT IN ('healthy', 'regenerated')`,
    [toolName],
  );
  for (const r of badRoutes) violations.push(`route ${r.tool_name} → ${r.version_id} (${r.health_status})`);
  const doubles = await db.query<{ parent_id: string; n: number }>(
    `SELECT parent_id, count(*)::int AS n FROM lineage_relationships WHERE relationship_type = 'regenerated' AND parent_id LIKE $1 GROUP BY parent_id HAVING count(*) > 1`,
    [`${toolName}@%`],
  );
  for (const d of doubles) violations.push(`${d.parent_id} has ${d.n} regenerated versions`);
  const orphans = await db.query<{ tool_id: string }>(
    `SELECT t.tool_id FROM tool_lineage t WHERE t.tool_name = $1 AND t.health_status = 'regenerated'
       AND (t.regenerated_from IS NULL
            OR NOT EXISTS (SELECT 1 FROM lineage_relationships r WHERE r.child_id = t.tool_id AND r.parent_id = t.regenerated_from)
            OR NOT EXISTS (SELECT 1 FROM lineage_relationships r WHERE r.child_id = t.tool_id AND r.relationship_type = 'regenerated'))`,
    [toolName],
  );
  for (const o of orphans) violations.push(`${o.tool_id} lacks its ancestor edge or its regenerated relation`);
  return violations;
}
