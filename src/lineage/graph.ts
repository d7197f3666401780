import { Prisma } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import type { ToolLanguage, ToolSource } from '../shared/language.js';
import type { Health, JsonValue, MutationType, RelationshipType } from '../shared/lineage-types.js';
import { LineageError } from './errors.js';
import { normalizeVersionId } from './ids.js';
import { grantRules } from './rules.js';
import { ancestorSet, descendantSet, isLineageEdge, jsonbSafeText, type Db } from './sql.js';

/** A version's own columns, as the healing steps read them. */
export interface VersionRow {
  id: string;
  name: string;
  version: string;
  major: number;
  minor: number;
  patch: number;
  health: Health;
  code: string;
  language: ToolLanguage;
  description: string;
  category: string;
  generation: number;
  prunedAt: Date | null;
}

/** The latest mutation of a version: why it exists. */
export interface LatestMutation {
  type: MutationType;
  description: string;
  fitnessBefore: number | null;
}

export interface WalkRow {
  id: string;
  generation: number;
  health: Health;
}

function toVersionRow(r: {
  toolId: string;
  toolName: string;
  version: string;
  major: number;
  minor: number;
  patch: number;
  healthStatus: string;
  code: string;
  language: string;
  description: string;
  category: string;
  generation: number;
  prunedAt: Date | null;
}): VersionRow {
  return {
    id: r.toolId,
    name: r.toolName,
    version: r.version,
    major: r.major,
    minor: r.minor,
    patch: r.patch,
    health: r.healthStatus as Health,
    code: r.code,
    language: r.language as ToolLanguage,
    description: r.description,
    category: r.category,
    generation: r.generation,
    prunedAt: r.prunedAt,
  };
}

/** tool_lineage and lineage_relationships: versions, the DAG's walks, health changes. */
export class GraphStore {
  constructor(private readonly prisma: PrismaClient) {}

  async version(id: string, db: Db = this.prisma): Promise<VersionRow | null> {
    const r = await db.toolLineage.findUnique({ where: { toolId: id } });
    return r ? toVersionRow(r) : null;
  }

  /** A version, or a LineageError naming it. */
  async requireVersion(id: string, db: Db = this.prisma): Promise<VersionRow> {
    const v = await this.version(id, db);
    if (!v) throw new LineageError('UNKNOWN_VERSION', `unknown version ${id}`, 'id', [id]);
    return v;
  }

  async requireVersions(ids: string[], db: Db = this.prisma): Promise<void> {
    const found = await db.toolLineage.findMany({ where: { toolId: { in: ids } }, select: { toolId: true } });
    const have = new Set(found.map((f) => f.toolId));
    const missing = ids.find((id) => !have.has(id));
    if (missing) throw new LineageError('UNKNOWN_VERSION', `unknown version ${missing}`, 'id', [missing]);
  }

  /** Is any version written in `language`? */
  async usesLanguage(language: ToolLanguage, db: Db = this.prisma): Promise<boolean> {
    return (await db.toolLineage.findFirst({ where: { language }, select: { toolId: true } })) !== null;
  }

  /** The code (and its language) of each version named (missing ones are left out). */
  async codes(ids: string[], db: Db = this.prisma): Promise<Map<string, ToolSource>> {
    if (!ids.length) return new Map();
    const rows = await db.toolLineage.findMany({
      where: { toolId: { in: ids } },
      select: { toolId: true, code: true, language: true },
    });
    return new Map(rows.map((r) => [r.toolId, { code: r.code, language: r.language as ToolLanguage }]));
  }

  async latestMutation(id: string, db: Db = this.prisma): Promise<LatestMutation | null> {
    const m = await db.mutation.findFirst({
      where: { toolId: id },
      orderBy: { id: 'desc' },
      select: { mutationType: true, description: true, fitnessBefore: true },
    });
    return m
      ? { type: m.mutationType as MutationType, description: m.description, fitnessBefore: m.fitnessBefore }
      : null;
  }

  /** The version a heal created, if it got that far. */
  async versionByHeal(healId: string, db: Db = this.prisma): Promise<string | null> {
    return (await db.toolLineage.findUnique({ where: { healId }, select: { toolId: true } }))?.toolId ?? null;
  }

  /** Patch numbers in use above `patch` for a tool's major.minor line. */
  async patchesAbove(toolName: string, major: number, minor: number, patch: number): Promise<Set<number>> {
    const rows = await this.prisma.toolLineage.findMany({
      where: { toolName, major, minor, patch: { gt: patch } },
      select: { patch: true },
    });
    return new Set(rows.map((r) => r.patch));
  }

  /** How many versions a tool has. */
  async versionCount(toolName: string): Promise<number> {
    return this.prisma.toolLineage.count({ where: { toolName } });
  }

  // ---------------------------------------------------------------- walks (one statement each)

  /** Every ancestor (merges included), nearest generation last. */
  async ancestors(idInput: string, db: Db = this.prisma): Promise<WalkRow[]> {
    const id = normalizeVersionId(idInput).id;
    return db.$queryRaw<WalkRow[]>`
      ${ancestorSet(id)}
      SELECT t.tool_id AS id, t.generation, t.health_status AS health
      FROM a JOIN tool_lineage t ON t.tool_id = a.id
      ORDER BY t.generation, t.tool_id`;
  }

  /**
   * Every ancestor a heal may start from (neither PRUNED nor FAILED), with its code, in no order.
   */
  async usableAncestorSources(idInput: string, db: Db = this.prisma): Promise<(WalkRow & ToolSource)[]> {
    const id = normalizeVersionId(idInput).id;
    return db.$queryRaw<(WalkRow & { code: string; language: ToolLanguage })[]>`
      ${ancestorSet(id)}
      SELECT t.tool_id AS id, t.generation, t.health_status AS health, t.code, t.language
      FROM a JOIN tool_lineage t ON t.tool_id = a.id
      WHERE t.health_status NOT IN ('pruned', 'failed')`;
  }

  /** Every descendant, in generation order. */
  async descendants(idInput: string, db: Db = this.prisma): Promise<WalkRow[]> {
    const id = normalizeVersionId(idInput).id;
    return db.$queryRaw<WalkRow[]>`
      ${descendantSet(id)}
      SELECT t.tool_id AS id, t.generation, t.health_status AS health
      FROM d JOIN tool_lineage t ON t.tool_id = d.id
      ORDER BY t.generation, t.tool_id`;
  }

  /** How many descendants a version has (one statement, no rows shipped). */
  async countDescendants(idInput: string): Promise<number> {
    const id = normalizeVersionId(idInput).id;
    const [row] = await this.prisma.$queryRaw<{ n: bigint }[]>`
      ${descendantSet(id)}
      SELECT count(*) AS n FROM d`;
    return Number(row?.n ?? 0);
  }

  /** Marks every HEALTHY descendant of `id` DEGRADED in one statement. Returns the ids tainted. */
  async taintDescendants(idInput: string, db: Db = this.prisma): Promise<string[]> {
    return (await this.taintBelow(idInput, true, db)).tainted;
  }

  /**
   * Every descendant of `id`, and (with `taint`) those HEALTHY or in CANARY marked DEGRADED by the
   * same statement: what a prune takes out of routing and what it taints, in one round trip.
   */
  async taintBelow(
    idInput: string,
    taint: boolean,
    db: Db = this.prisma,
  ): Promise<{ descendants: string[]; tainted: string[] }> {
    const id = normalizeVersionId(idInput).id;
    const rows = await db.$queryRaw<{ id: string; tainted: boolean }[]>`
      ${descendantSet(id)},
      tainted AS (
        UPDATE tool_lineage t SET health_status = 'degraded', updated_at = now()
        FROM d WHERE ${taint} AND t.tool_id = d.id AND t.health_status IN ('healthy', 'canary')
        RETURNING t.tool_id
      )
      SELECT d.id, tainted.tool_id IS NOT NULL AS tainted FROM d LEFT JOIN tainted ON tainted.tool_id = d.id`;
    return { descendants: rows.map((r) => r.id), tainted: rows.filter((r) => r.tainted).map((r) => r.id) };
  }

  /** The first-parent path from the root down to (excluding) `id`. */
  async ancestorPath(idInput: string, db: Db = this.prisma): Promise<string[]> {
    const id = normalizeVersionId(idInput).id;
    const rows = await db.$queryRaw<{ id: string; depth: number }[]>`
      WITH RECURSIVE p(id, depth) AS (
        SELECT ${id}::varchar, 0
        UNION ALL
        SELECT (SELECT r.parent_id FROM lineage_relationships r
                WHERE r.child_id = p.id AND ${isLineageEdge('r')}
                ORDER BY r.id LIMIT 1), p.depth + 1
        FROM p WHERE p.id IS NOT NULL AND p.depth < 100000
      )
      SELECT id, depth FROM p WHERE id IS NOT NULL AND depth > 0 ORDER BY depth DESC`;
    return rows.map((r) => r.id);
  }

  /** The version that replaced a failed one (its `regenerated` edge) or reverted a pruned one, if any. */
  async healedReplacement(idInput: string, db: Db = this.prisma): Promise<string | null> {
    const id = normalizeVersionId(idInput).id;
    const edge = await db.lineageRelationship.findFirst({
      where: { parentId: id, relationshipType: { in: ['regenerated', 'reverts'] } },
      orderBy: { id: 'desc' },
      select: { childId: true },
    });
    return edge?.childId ?? null;
  }

  /**
   * Adds a parent edge between existing versions (e.g. recording a late merge). Refuses an edge that
   * would close a cycle, found with one recursive query; re-levels the generations below and gives
   * the child the parent's rules.
   */
  async addParent(childInput: string, parentInput: string, type: RelationshipType = 'merge'): Promise<void> {
    const child = normalizeVersionId(childInput, 'child').id;
    const parent = normalizeVersionId(parentInput, 'parent').id;
    if (child === parent)
      throw new LineageError('CYCLE', `edge ${parent} → ${child} would make ${child} its own parent`, 'parent', [
        child,
      ]);
    await this.prisma.$transaction(async (tx) => {
      await this.requireVersions([child, parent], tx);
      const [cycle] = await tx.$queryRaw<{ found: boolean }[]>`
        ${descendantSet(child)}
        SELECT EXISTS (SELECT 1 FROM d WHERE id = ${parent}) AS found`;
      if (cycle?.found) {
        throw new LineageError(
          'CYCLE',
          `edge ${parent} → ${child} would close a cycle: ${parent} already descends from ${child}`,
          'parent',
          [parent, child],
        );
      }
      await tx.lineageRelationship.create({ data: { childId: child, parentId: parent, relationshipType: type } });
      // Edge types follow the parent count: a second parent turns the version into a merge.
      await tx.$executeRaw`
        UPDATE lineage_relationships SET relationship_type = 'merge'
        WHERE child_id = ${child} AND relationship_type IN ('direct', 'fork')
          AND (SELECT count(*) FROM lineage_relationships WHERE child_id = ${child} AND ${isLineageEdge()}) > 1`;
      // Keep every edge going down the generations: push the child, then its descendants, down as
      // far as needed (one set-based statement per level that moves).
      for (let moved = 1, guard = 0; moved > 0 && guard < 100_000; guard++) {
        moved = await tx.$executeRaw`
          UPDATE tool_lineage c SET generation = p.generation + 1
          FROM lineage_relationships r JOIN tool_lineage p ON p.tool_id = r.parent_id
          WHERE r.child_id = c.tool_id AND ${isLineageEdge('r')} AND c.generation <= p.generation`;
      }
      await grantRules(
        tx,
        Prisma.sql`SELECT ${child}::varchar, rule_id, 'ancestor' FROM rule_inheritance WHERE tool_id = ${parent}`,
      );
    });
  }

  // ---------------------------------------------------------------- health changes

  /**
   * Prunes a version (kept, never deleted) with the evidence for the decision, and marks the version
   * that failed FAILED when it is another one.
   */
  async prune(culpritId: string, failedId: string, evidence: JsonValue, db: Db = this.prisma): Promise<void> {
    // One statement: the culprit PRUNED with its evidence, the failed version (another one) FAILED.
    const isCulprit = Prisma.sql`tool_id = ${culpritId}`;
    await db.$executeRaw`
      UPDATE tool_lineage SET
        health_status = CASE WHEN ${isCulprit} THEN 'pruned' ELSE 'failed' END,
        pruned_at = CASE WHEN ${isCulprit} THEN COALESCE(pruned_at, now()) ELSE pruned_at END,
        prune_evidence = CASE WHEN ${isCulprit} THEN ${jsonbSafeText(JSON.stringify(evidence))}::jsonb ELSE prune_evidence END,
        updated_at = now()
      WHERE ${isCulprit} OR (tool_id = ${failedId} AND health_status <> 'pruned')`;
  }

  /** Sets the health of versions registration just stored (after validation, inside its transaction). */
  async setHealth(id: string, health: Health, db: Db = this.prisma): Promise<void> {
    await db.toolLineage.update({ where: { toolId: id }, data: { healthStatus: health } });
  }

  /** Restores DEGRADED versions that were re-validated; returns how many. */
  async restore(ids: string[]): Promise<number> {
    if (!ids.length) return 0;
    const { count } = await this.prisma.toolLineage.updateMany({
      where: { toolId: { in: ids }, healthStatus: 'degraded' },
      data: { healthStatus: 'healthy', updatedAt: new Date() },
    });
    return count;
  }
}
