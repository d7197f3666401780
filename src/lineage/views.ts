import type { PrismaClient } from '../infra/database.js';
import { LINEAGE_EDGE_TYPES, type FailureRecord, type Health, type JsonValue, type MutationRecord, type MutationType, type RelationshipType, type Severity, type ToolLineage } from '../shared/lineage-types.js';
import { LineageError } from './errors.js';
import type { DifferentialStore } from './differential.js';
import type { GraphStore } from './graph.js';
import { normalizeVersionId } from './ids.js';
import { toRuleRecord } from './rules.js';
import { isLineageEdge } from './sql.js';

function isAncestryEdge(type: string): boolean {
  return (LINEAGE_EDGE_TYPES as readonly string[]).includes(type);
}

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

function iso(d: Date | null | undefined): string | null {
  return d ? d.toISOString() : null;
}

/**
 * What operators read: the lineage of a version, the picture around it, the health counts, recent
 * failures and pruned versions. The CLI and the dashboard are two faces of these reads.
 */
export class LineageViews {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly graph: GraphStore,
    private readonly differential: DifferentialStore,
  ) {}

  /** Everything a ToolLineage holds for one version. */
  async lineage(idInput: string): Promise<ToolLineage> {
    const id = normalizeVersionId(idInput).id;
    const row = await this.prisma.toolLineage.findUnique({
      where: { toolId: id },
      include: {
        parentEdges: { orderBy: { id: 'asc' } },
        childEdges: { orderBy: { id: 'asc' } },
        failures: { orderBy: { id: 'asc' } },
        mutations: { orderBy: { id: 'asc' } },
        rulesCreated: { orderBy: { createdAt: 'asc' } },
        inheritedRules: { orderBy: { ruleId: 'asc' }, select: { ruleId: true } },
        fitnessHistory: { orderBy: { id: 'asc' }, select: { fitnessScore: true } },
      },
    });
    if (!row) throw new LineageError('UNKNOWN_VERSION', `unknown version ${id}`, 'id', [id]);
    const route = await this.prisma.route.findUnique({ where: { toolName: row.toolName } });
    const lineageParents = row.parentEdges.filter((e) => isAncestryEdge(e.relationshipType));
    return {
      id: row.toolId,
      toolId: row.toolId,
      name: row.toolName,
      version: row.version,
      fullName: row.fullName,
      description: row.description,
      category: row.category,
      code: row.code,
      codeHash: row.codeHash,
      parents: lineageParents.map((e) => e.parentId),
      parentEdges: row.parentEdges.map((e) => ({ id: e.parentId, type: e.relationshipType as RelationshipType })),
      children: row.childEdges.filter((e) => isAncestryEdge(e.relationshipType)).map((e) => e.childId),
      ancestorPath: await this.graph.ancestorPath(id),
      ancestors: await this.ancestorsWithEdges(id),
      health: row.healthStatus as Health,
      failureCount: row.failureCount,
      failures: row.failures.map(
        (f): FailureRecord => ({
          id: f.id,
          failureType: f.failureType,
          description: f.description,
          stackTrace: f.stackTrace,
          testCaseFailed: f.testCaseFailed,
          detectionMethod: f.detectionMethod,
          severity: f.severity as Severity,
          timestamp: f.timestamp.toISOString(),
        }),
      ),
      mutations: row.mutations.map(
        (m): MutationRecord => ({
          mutationType: m.mutationType as MutationType,
          description: m.description,
          promptUsed: m.promptUsed,
          codeDiffHash: m.codeDiffHash,
          fitnessBefore: m.fitnessBefore,
          fitnessAfter: m.fitnessAfter,
          timestamp: m.timestamp.toISOString(),
        }),
      ),
      generation: row.generation,
      avoidanceRules: row.rulesCreated.map(toRuleRecord),
      inheritedRules: row.inheritedRules.map((r) => r.ruleId),
      fitnessHistory: row.fitnessHistory.map((f) => f.fitnessScore),
      executionCount: row.executionCount,
      successRate: row.successRate,
      createdAt: row.createdAt.toISOString(),
      lastExecuted: iso(row.lastExecuted),
      prunedAt: iso(row.prunedAt),
      regeneratedFrom: row.regeneratedFrom,
      regeneratedAs: row.childEdges.filter((e) => e.relationshipType === 'regenerated').map((e) => e.childId),
      reverts: row.parentEdges.find((e) => e.relationshipType === 'reverts')?.parentId ?? null,
      revertedBy: row.childEdges.filter((e) => e.relationshipType === 'reverts').map((e) => e.childId),
      healedBy: row.healId ? await this.healOutcome(row.healId) : null,
      pruneEvidence: (row.pruneEvidence ?? null) as JsonValue | null,
      differential: (await this.differential.latestFor([row.toolId])).get(row.toolId) ?? null,
      canary: await this.canaryOf(row.toolId),
      route: { routed: route?.versionId === row.toolId, toolRoutedTo: route?.versionId ?? null },
    };
  }

  /** A version's canary with its progress (null when it never ran in shadow). */
  private async canaryOf(id: string): Promise<ToolLineage['canary']> {
    const c = await this.prisma.canary.findUnique({ where: { candidateId: id } });
    if (!c) return null;
    const mirrored = await this.prisma.canaryComparison.count({ where: { candidateId: id } });
    const verdict = c.verdict as { decision?: string; agreement?: number; reasons?: string[]; minCalls?: number } | null;
    return {
      status: c.status,
      stableId: c.stableId,
      mirrored,
      agreement: verdict?.agreement ?? null,
      verdict: verdict?.decision ?? null,
      reasons: verdict?.reasons ?? [],
      minCalls: verdict?.minCalls ?? null,
      decision: c.decision,
    };
  }

  /** Every ancestor with its parent edges (one statement for the set, one for the edges). */
  private async ancestorsWithEdges(id: string): Promise<ToolLineage['ancestors']> {
    const ancestors = await this.graph.ancestors(id);
    const edges = await this.prisma.lineageRelationship.findMany({
      where: { childId: { in: ancestors.map((a) => a.id) }, relationshipType: { in: [...LINEAGE_EDGE_TYPES] } },
      orderBy: { id: 'asc' },
      select: { childId: true, parentId: true, relationshipType: true },
    });
    return ancestors.map((a) => ({
      ...a,
      parents: edges.filter((e) => e.childId === a.id).map((e) => ({ id: e.parentId, type: e.relationshipType as RelationshipType })),
    }));
  }

  /** How the heal that made a version made it: its strategy, the features it kept, the tests it set aside. */
  private async healOutcome(healId: string): Promise<ToolLineage['healedBy']> {
    const run = await this.prisma.healRun.findUnique({ where: { id: healId }, select: { result: true } });
    const r = (run?.result ?? null) as { strategy?: string | null; features?: { kept: number; total: number; lost: string[] } | null; setAside?: { name: string; introducedBy: string }[] } | null;
    return { healId, strategy: r?.strategy ?? null, features: r?.features ?? null, setAside: (r?.setAside ?? []).map((t) => ({ name: t.name, introducedBy: t.introducedBy })) };
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
    const counts = await this.prisma.$queryRaw<{ health_status: Health; n: number }[]>`SELECT health_status, count(*)::int AS n FROM tool_lineage GROUP BY health_status`;
    const [totals] = await this.prisma.$queryRaw<{ tools: number; versions: number }[]>`SELECT count(DISTINCT tool_name)::int AS tools, count(*)::int AS versions FROM tool_lineage`;
    return { tools: totals?.tools ?? 0, versions: totals?.versions ?? 0, byHealth: new Map(counts.map((c) => [c.health_status, c.n])) };
  }

  /** The newest failures (operator requests left out), each with the latest heal of its version. */
  async recentFailures(limit = 10): Promise<RecentFailure[]> {
    const rows = await this.prisma.$queryRaw<{ at: Date; tool_id: string; failure_type: string; severity: string; description: string; heal_status: string | null; new_version: string | null }[]>`
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
