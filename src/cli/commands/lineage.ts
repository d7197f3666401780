import type { DiseConfig } from '../../config/schema.js';
import type { Health } from '../../shared/lineage-types.js';
import { withDatabase, type Output } from '../context.js';
import { UsageError } from '../errors.js';
import { renderDot, renderMermaid, type GraphEdge, type GraphNode } from '../format/lineage-graph.js';
import { renderLineage } from '../format/lineage-view.js';
import type { PrismaClient } from '../../infra/database.js';
import type { RelationshipType } from '../../shared/lineage-types.js';
import { colorEnabled } from '../format/style.js';

import { LINEAGE_FORMATS } from '../lineage-formats.js';

/** `dise lineage <id>`: the lineage view, or the whole ToolLineage as JSON. */
export async function lineage(id: string, options: { json: boolean; format: string }, config: DiseConfig, out: Output): Promise<void> {
  if (!(LINEAGE_FORMATS as readonly string[]).includes(options.format)) {
    throw new UsageError(`--format: unknown format "${options.format}"; use one of ${LINEAGE_FORMATS.join(', ')}`);
  }
  await withDatabase(out, async ({ store, prisma }) => {
    const l = await store.getLineage(await store.resolve(id));
    if (options.json) {
      out.result(JSON.stringify(l, null, 2));
      return;
    }
    if (options.format === 'mermaid' || options.format === 'dot') {
      const { nodes, edges } = await lineageGraph(prisma, l.id);
      out.result(options.format === 'mermaid' ? renderMermaid(nodes, edges) : renderDot(nodes, edges));
      return;
    }
    const named = [...l.ancestorPath, ...l.children, ...l.regeneratedAs, ...l.parents];
    const rows = await prisma.toolLineage.findMany({ where: { toolId: { in: named } }, select: { toolId: true, healthStatus: true } });
    const reach = await prisma.ruleInheritance.groupBy({
      by: ['ruleId'],
      where: { ruleId: { in: l.avoidanceRules.map((r) => r.ruleId) } },
      _count: { _all: true },
    });
    out.result(
      renderLineage(l, {
        healthOf: new Map(rows.map((r) => [r.toolId, r.healthStatus as Health])),
        ruleReach: new Map(reach.map((r) => [r.ruleId, r._count._all])),
        color: colorEnabled(),
      }),
    );
  }, config);
}

/**
 * The picture around a version: every version of its tool, plus the ancestors it was forked from,
 * with all their edges (one query for the nodes, one for the edges).
 */
async function lineageGraph(prisma: PrismaClient, id: string): Promise<{ nodes: GraphNode[]; edges: GraphEdge[] }> {
  const rows = await prisma.$queryRaw<{ tool_id: string; health_status: Health; note: string | null }[]>`
    WITH RECURSIVE tool AS (SELECT tool_id FROM tool_lineage WHERE tool_name = (SELECT tool_name FROM tool_lineage WHERE tool_id = ${id})),
    anc(id) AS (
      SELECT tool_id FROM tool
      UNION
      SELECT r.parent_id FROM lineage_relationships r JOIN anc ON r.child_id = anc.id WHERE r.relationship_type IN ('direct', 'merge', 'fork')
    )
    SELECT t.tool_id, t.health_status,
           (SELECT m.description FROM mutations m WHERE m.tool_id = t.tool_id ORDER BY m.id DESC LIMIT 1) AS note
    FROM anc JOIN tool_lineage t ON t.tool_id = anc.id
    ORDER BY t.generation, t.major, t.minor, t.patch, t.tool_id`;
  const ids = rows.map((r) => r.tool_id);
  const edges = await prisma.lineageRelationship.findMany({
    where: { childId: { in: ids }, parentId: { in: ids } },
    orderBy: { id: 'asc' },
    select: { parentId: true, childId: true, relationshipType: true },
  });
  return {
    nodes: rows.map((r) => ({ id: r.tool_id, health: r.health_status, note: r.note ?? 'root' })),
    // A `regenerated` edge runs from the replaced version to its replacement, as drawn.
    edges: edges.map((e) => ({ from: e.parentId, to: e.childId, type: e.relationshipType as RelationshipType })),
  };
}
