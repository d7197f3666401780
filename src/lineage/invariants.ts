import type { PrismaClient } from '../infra/database.js';
import { isLineageEdge, isRoutable } from './sql.js';

/**
 * The lineage invariants as SQL, each one statement over the whole database (at most 1,000 rows of
 * evidence each); `dise doctor` turns the rows into messages.
 */
export class InvariantQueries {
  constructor(private readonly prisma: PrismaClient) {}

  /** Lineage edges that do not go down the generations (a cycle or a stale generation). */
  backwardEdges() {
    return this.prisma.$queryRaw<{ parent_id: string; child_id: string; pg: number; cg: number }[]>`
      SELECT r.parent_id, r.child_id, p.generation AS pg, c.generation AS cg
      FROM lineage_relationships r JOIN tool_lineage p ON p.tool_id = r.parent_id JOIN tool_lineage c ON c.tool_id = r.child_id
      WHERE ${isLineageEdge('r')} AND c.generation <= p.generation
      ORDER BY r.id LIMIT 1000`;
  }

  /** Routes to versions callers may not use. */
  unroutableRoutes() {
    return this.prisma.$queryRaw<{ tool_name: string; version_id: string; health_status: string }[]>`
      SELECT r.tool_name, r.version_id, t.health_status FROM routes r JOIN tool_lineage t ON t.tool_id = r.version_id
      WHERE NOT ${isRoutable('t')} ORDER BY r.tool_name`;
  }

  /** HEALTHY descendants of a pruned version not changed since the prune (so never re-validated). */
  untaintedDescendants() {
    return this.prisma.$queryRaw<{ pruned: string; tool_id: string }[]>`
      WITH RECURSIVE d(pruned, id) AS (
        SELECT p.tool_id, r.child_id FROM tool_lineage p JOIN lineage_relationships r ON r.parent_id = p.tool_id AND ${isLineageEdge('r')}
        WHERE p.health_status = 'pruned'
        UNION
        SELECT d.pruned, r.child_id FROM d JOIN lineage_relationships r ON r.parent_id = d.id AND ${isLineageEdge('r')}
      )
      SELECT d.pruned, t.tool_id FROM d
      JOIN tool_lineage t ON t.tool_id = d.id JOIN tool_lineage p ON p.tool_id = d.pruned
      WHERE t.health_status = 'healthy' AND t.updated_at < p.pruned_at
      ORDER BY t.tool_id LIMIT 1000`;
  }

  /** Rules held from neither an ancestor, the version itself, what it replaces, nor a wider scope. */
  strayRules() {
    return this.prisma.$queryRaw<{ tool_id: string; rule_id: string; source: string }[]>`
      SELECT i.tool_id, i.rule_id, a.source_failure AS source
      FROM rule_inheritance i JOIN avoidance_rules a ON a.rule_id = i.rule_id
      WHERE a.propagation_scope NOT IN ('global', 'all_similar')
        AND a.source_failure <> i.tool_id
        AND NOT EXISTS (
          SELECT 1 FROM lineage_relationships r JOIN rule_inheritance pi ON pi.tool_id = r.parent_id AND pi.rule_id = i.rule_id
          WHERE r.child_id = i.tool_id AND ${isLineageEdge('r')})
        AND NOT EXISTS (
          SELECT 1 FROM lineage_relationships r WHERE r.child_id = i.tool_id AND r.parent_id = a.source_failure AND r.relationship_type = 'regenerated')
      ORDER BY i.tool_id, i.rule_id LIMIT 1000`;
  }

  /**
   * Reverts whose `reverts` edge is wrong: the version undone must be PRUNED and an ancestor of the
   * revert, and a revert undoes exactly one version.
   */
  badReverts() {
    return this.prisma.$queryRaw<{ tool_id: string; reverted: string; problem: string }[]>`
      SELECT e.child_id AS tool_id, e.parent_id AS reverted,
             CASE WHEN p.health_status <> 'pruned' THEN 'is ' || upper(p.health_status) || ', not PRUNED'
                  WHEN (SELECT count(*) FROM lineage_relationships x WHERE x.child_id = e.child_id AND x.relationship_type = 'reverts') > 1 THEN 'is one of several versions it claims to revert'
                  ELSE 'is not one of its ancestors' END AS problem
      FROM lineage_relationships e JOIN tool_lineage p ON p.tool_id = e.parent_id
      WHERE e.relationship_type = 'reverts'
        AND (p.health_status <> 'pruned'
             OR (SELECT count(*) FROM lineage_relationships x WHERE x.child_id = e.child_id AND x.relationship_type = 'reverts') > 1
             OR NOT EXISTS (
               WITH RECURSIVE a(id) AS (
                 SELECT r.parent_id FROM lineage_relationships r WHERE r.child_id = e.child_id AND ${isLineageEdge('r')}
                 UNION
                 SELECT r.parent_id FROM lineage_relationships r JOIN a ON r.child_id = a.id WHERE ${isLineageEdge('r')}
               ) SELECT 1 FROM a WHERE a.id = e.parent_id))
      ORDER BY e.child_id`;
  }

  /** Regenerated versions missing regenerated_from, their parent edge to it, or their `regenerated` relation. */
  incompleteRegenerated() {
    return this.prisma.$queryRaw<{ tool_id: string; missing: string }[]>`
      SELECT t.tool_id,
             CASE WHEN t.regenerated_from IS NULL THEN 'regenerated_from'
                  WHEN NOT EXISTS (SELECT 1 FROM lineage_relationships r WHERE r.child_id = t.tool_id AND r.parent_id = t.regenerated_from AND ${isLineageEdge('r')}) THEN 'its parent edge to ' || t.regenerated_from
                  ELSE 'its regenerated relation' END AS missing
      FROM tool_lineage t
      WHERE t.health_status = 'regenerated'
        AND (t.regenerated_from IS NULL
             OR NOT EXISTS (SELECT 1 FROM lineage_relationships r WHERE r.child_id = t.tool_id AND r.parent_id = t.regenerated_from AND ${isLineageEdge('r')})
             OR NOT EXISTS (SELECT 1 FROM lineage_relationships r WHERE r.child_id = t.tool_id AND r.relationship_type = 'regenerated'))
      ORDER BY t.tool_id`;
  }

  /**
   * Canaries out of step with their candidate: a version in CANARY without a running canary (no
   * runtime would ever mirror it, no judge end it), or a running canary whose candidate is not CANARY.
   */
  strayCanaries() {
    return this.prisma.$queryRaw<{ tool_id: string; problem: string }[]>`
      SELECT t.tool_id, 'is CANARY without a running canary' AS problem
      FROM tool_lineage t
      WHERE t.health_status = 'canary' AND NOT EXISTS (SELECT 1 FROM canaries c WHERE c.candidate_id = t.tool_id AND c.status = 'running')
      UNION ALL
      SELECT c.candidate_id, 'has a running canary but is ' || upper(t.health_status) AS problem
      FROM canaries c JOIN tool_lineage t ON t.tool_id = c.candidate_id
      WHERE c.status = 'running' AND t.health_status <> 'canary'
      ORDER BY 1 LIMIT 1000`;
  }
}
