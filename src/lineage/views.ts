import type { PrismaClient } from '../infra/database.js';
import type { Health, RelationshipType, ToolLineage } from '../shared/lineage-types.js';
import { prismaRunner } from './sql-runner.js';
import { quickReads } from './quick-reads.js';
import { isLineageEdge } from './sql.js';

/** A node and an edge of a lineage picture. */
export interface PictureNode {
  id: string;
  health: Health;
  note: string;
}
export interface PictureEdge {
  from: string;
  to: string;
  type: RelationshipType;
}

export interface RecentFailure {
  at: string;
  versionId: string;
  failureType: string;
  severity: string;
  description: string;
  heal: { status: string; newVersionId: string | null } | null;
}

export interface PrunedListing {
  id: string;
  prunedAt: string | null;
  severity: string | null;
  failureType: string | null;
  why: string | null;
  replacedBy: string | null;
  tainted: number;
}

/**
 * What operators read: the lineage of a version, the picture around it, the health counts, recent
 * failures and pruned versions. The CLI and the dashboard are two faces of these reads.
 */
export class LineageViews {
  constructor(private readonly prisma: PrismaClient) {}

  /** Everything a ToolLineage holds for one version (the same statement the quick CLI runs). */
  async lineage(idInput: string): Promise<ToolLineage> {
    return quickReads.lineage(prismaRunner(this.prisma), idInput);
  }

  /**
   * The picture around a version: every version of its tool, plus the ancestors it was forked from,
   * with all their edges (one query for the nodes, one for the edges).
   */
  async picture(id: string): Promise<{ nodes: PictureNode[]; edges: PictureEdge[] }> {
    const rows = await this.prisma.$queryRaw<{ tool_id: string; health_status: Health; note: string | null }[]>`
      WITH RECURSIVE tool AS (SELECT tool_id FROM tool_lineage WHERE tool_name = (SELECT tool_name FROM tool_lineage WHERE tool_id = ${id})),
      anc(id) AS (
        SELECT tool_id FROM tool
        UNION
        SELECT r.parent_id FROM lineage_relationships r JOIN anc ON r.child_id = anc.id WHERE ${isLineageEdge('r')}
      )
      SELECT t.tool_id, t.health_status,
             (SELECT m.description FROM mutations m WHERE m.tool_id = t.tool_id ORDER BY m.id DESC LIMIT 1) AS note
      FROM anc JOIN tool_lineage t ON t.tool_id = anc.id
      ORDER BY t.generation, t.major, t.minor, t.patch, t.tool_id`;
    const ids = rows.map((r) => r.tool_id);
    const edges = await this.prisma.lineageRelationship.findMany({
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

  /** Versions by health, and how many tools and versions there are. */
  async healthCounts(): Promise<{ tools: number; versions: number; byHealth: Map<Health, number> }> {
    const counts = await this.prisma.$queryRaw<
      { health_status: Health; n: number }[]
    >`SELECT health_status, count(*)::int AS n FROM tool_lineage GROUP BY health_status`;
    const [totals] = await this.prisma.$queryRaw<
      { tools: number; versions: number }[]
    >`SELECT count(DISTINCT tool_name)::int AS tools, count(*)::int AS versions FROM tool_lineage`;
    return {
      tools: totals?.tools ?? 0,
      versions: totals?.versions ?? 0,
      byHealth: new Map(counts.map((c) => [c.health_status, c.n])),
    };
  }

  /** The newest failures (operator requests left out), each with the latest heal of its version. */
  async recentFailures(limit = 10): Promise<RecentFailure[]> {
    const rows = await this.prisma.$queryRaw<
      {
        at: Date;
        tool_id: string;
        failure_type: string;
        severity: string;
        description: string;
        heal_status: string | null;
        new_version: string | null;
      }[]
    >`
      SELECT f.timestamp AS at, f.tool_id, f.failure_type, f.severity, f.description, h.status AS heal_status, h.result->>'newVersionId' AS new_version
      FROM failures f
      LEFT JOIN LATERAL (SELECT status, result FROM heal_runs WHERE tool_id = f.tool_id ORDER BY started_at DESC LIMIT 1) h ON true
      WHERE f.failure_type <> 'manual'
      ORDER BY f.id DESC LIMIT ${limit}`;
    return rows.map((f) => ({
      at: f.at.toISOString(),
      versionId: f.tool_id,
      failureType: f.failure_type,
      severity: f.severity,
      description: f.description,
      heal: f.heal_status ? { status: f.heal_status, newVersionId: f.new_version } : null,
    }));
  }

  /** Pruned versions, newest first: the most telling failure, why, and what replaced them. */
  async pruned(): Promise<PrunedListing[]> {
    return this.prisma.$queryRaw<PrunedListing[]>`
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
  }
}
