import type { ToolLanguage, ToolSource } from '../shared/language.js';
import { Prisma } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import { ROUTABLE_HEALTH } from '../shared/lineage-types.js';
import { LIST_TOOLS_SQL, resolveVersion, toToolListing, type ToolListing } from './quick-reads.js';
import { normalizeVersionId } from './ids.js';
import { isRoutable, newestRoutable, type Db } from './sql.js';
import { prismaRunner } from './sql-runner.js';

export { runtimeRouting, type RouteEntry, type RoutedVersionRow } from './runtime-routing.js';

/** routes: which version callers of a tool reach. */
export class RoutingStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** Points callers of the version's tool at it. */
  async setRoute(versionInput: string, reason: string, db: Db = this.prisma): Promise<void> {
    const ref = normalizeVersionId(versionInput);
    await db.route.upsert({
      where: { toolName: ref.name },
      create: { toolName: ref.name, versionId: ref.id, reason },
      // A route that moves (or is set again by an operator) is no longer known wrong.
      update: { versionId: ref.id, reason, updatedAt: new Date(), knownWrong: null, alternativeId: null },
    });
  }

  /**
   * Marks the route of a tool as pointing at a version known to answer wrongly (while it still
   * points at `versionId`), with the alternative that answers instead, or none.
   */
  async markKnownWrong(
    toolName: string,
    versionId: string,
    why: string,
    alternativeId: string | null,
    db: Db = this.prisma,
  ): Promise<boolean> {
    const { count } = await db.route.updateMany({
      where: { toolName, versionId },
      data: { knownWrong: why, alternativeId },
    });
    return count > 0;
  }

  /**
   * Candidates to answer for a version known wrong, most similar first: the routed, routable
   * versions of other tools of the same category (never one known wrong itself) whose description
   * is trigram-similar to its description at or above `threshold`.
   */
  async alternativeCandidates(
    versionId: string,
    threshold: number,
    limit = 10,
  ): Promise<({ id: string; similarity: number } & ToolSource)[]> {
    const rows = await this.prisma.$queryRaw<{ tool_id: string; code: string; language: ToolLanguage; sim: number }[]>`
      WITH src AS (SELECT tool_name, category, description FROM tool_lineage WHERE tool_id = ${versionId})
      SELECT t.tool_id, t.code, t.language, similarity(t.description, src.description)::float8 AS sim
      FROM src, routes r JOIN tool_lineage t ON t.tool_id = r.version_id
      WHERE t.tool_name <> src.tool_name AND src.category <> '' AND t.category = src.category
        AND r.known_wrong IS NULL AND ${isRoutable('t')}
        AND similarity(t.description, src.description) >= ${threshold}
      ORDER BY sim DESC, t.tool_id
      LIMIT ${limit}`;
    return rows.map((r) => ({ id: r.tool_id, code: r.code, language: r.language, similarity: r.sim }));
  }

  /**
   * Peers of a version: the routed, routable versions of other tools of its category (never empty)
   * and language, never one known wrong — the tools asked to answer a feature_add's differing inputs.
   */
  async peersOf(versionId: string, limit: number, db: Db = this.prisma): Promise<({ id: string } & ToolSource)[]> {
    const rows = await db.$queryRaw<{ tool_id: string; code: string; language: ToolLanguage }[]>`
      WITH src AS (SELECT tool_name, category, language FROM tool_lineage WHERE tool_id = ${versionId})
      SELECT t.tool_id, t.code, t.language
      FROM src, routes r JOIN tool_lineage t ON t.tool_id = r.version_id
      WHERE t.tool_name <> src.tool_name AND src.category <> '' AND t.category = src.category
        AND t.language = src.language AND r.known_wrong IS NULL AND ${isRoutable('t')}
      ORDER BY t.tool_id
      LIMIT ${limit}`;
    return rows.map((r) => ({ id: r.tool_id, code: r.code, language: r.language }));
  }

  async routeOf(toolName: string, db: Db = this.prisma): Promise<string | null> {
    return (await db.route.findUnique({ where: { toolName }, select: { versionId: true } }))?.versionId ?? null;
  }

  /** Resolves a tool name or a version id to a version id: a name goes to its routed version, else its newest. */
  async resolve(nameOrId: string): Promise<string> {
    return resolveVersion(prismaRunner(this.prisma), nameOrId);
  }

  /** The newest routable version of a tool, leaving out `exclude`. */
  async newestRoutable(toolName: string, exclude: string[] = [], db: Db = this.prisma): Promise<string | null> {
    const [row] = await db.$queryRaw<{ id: string | null }[]>`
      SELECT ${newestRoutable(Prisma.sql`${toolName}::varchar`, exclude.length ? Prisma.sql`SELECT unnest(${exclude}::varchar[])` : undefined)} AS id`;
    return row?.id ?? null;
  }

  /** Is the version one callers may be routed to? */
  async isRoutable(versionId: string, db: Db = this.prisma): Promise<boolean> {
    const v = await db.toolLineage.findUnique({ where: { toolId: versionId }, select: { healthStatus: true } });
    return !!v && (ROUTABLE_HEALTH as readonly string[]).includes(v.healthStatus);
  }

  /**
   * Moves every route that points at one of `affected` to `lastGood` (for its own tool) or else the
   * newest routable version of that tool outside `affected`, in one statement. Routes with nowhere
   * to go stay. Returns the routes moved.
   */
  async rerouteAway(
    affected: string[],
    lastGood: { id: string; toolName: string } | null,
    reason: string,
    db: Db = this.prisma,
  ): Promise<{ toolName: string; versionId: string }[]> {
    const rows = await db.$queryRaw<{ tool_name: string; version_id: string }[]>`
      WITH affected AS (SELECT unnest(${affected}::varchar[]) AS id),
      moved AS (
        SELECT r.tool_name,
               CASE WHEN ${lastGood?.toolName ?? null}::varchar = r.tool_name THEN ${lastGood?.id ?? null}::varchar
               ELSE ${newestRoutable(Prisma.sql`r.tool_name`, Prisma.sql`SELECT id FROM affected`)} END AS version_id
        FROM routes r WHERE r.version_id IN (SELECT id FROM affected)
      )
      UPDATE routes r SET version_id = moved.version_id, reason = ${reason}, updated_at = now(), known_wrong = NULL, alternative_id = NULL
      FROM moved WHERE r.tool_name = moved.tool_name AND moved.version_id IS NOT NULL
      RETURNING r.tool_name, r.version_id`;
    return rows.map((r) => ({ toolName: r.tool_name, versionId: r.version_id }));
  }

  /**
   * Makes sure callers of a tool reach a version they may use: keeps a routable route, else moves it
   * to `preferred` when that is a routable version of the tool, else to the tool's newest routable
   * version. Returns where the route points (null when the tool has no route).
   */
  async ensureRoutable(
    toolName: string,
    preferred: string | null,
    reason: string,
    db: Db = this.prisma,
  ): Promise<string | null> {
    const route = await db.route.findUnique({
      where: { toolName },
      include: { version: { select: { healthStatus: true } } },
    });
    if (!route) return null;
    if ((ROUTABLE_HEALTH as readonly string[]).includes(route.version.healthStatus)) return route.versionId;
    const preferredOk = preferred && preferred.startsWith(`${toolName}@`) && (await this.isRoutable(preferred, db));
    const target = preferredOk ? preferred : await this.newestRoutable(toolName, [], db);
    if (!target) return route.versionId;
    await this.setRoute(target, reason, db);
    return target;
  }

  /** How many tools have a route. */
  async routeCount(): Promise<number> {
    return this.prisma.route.count();
  }

  /** Routed, routable versions whose failure_count reached `trigger`. */
  async routedAtFailureCount(trigger: number): Promise<{ versionId: string; failureCount: number }[]> {
    const rows = await this.prisma.$queryRaw<{ tool_id: string; failure_count: number }[]>`
      SELECT t.tool_id, t.failure_count FROM routes r JOIN tool_lineage t ON t.tool_id = r.version_id
      WHERE ${isRoutable('t')} AND t.failure_count >= ${trigger}`;
    return rows.map((r) => ({ versionId: r.tool_id, failureCount: r.failure_count }));
  }

  /** Those of `ids` callers may be routed to. */
  async routableAmong(ids: string[]): Promise<Set<string>> {
    if (!ids.length) return new Set();
    const rows = await this.prisma.$queryRaw<{ tool_id: string }[]>`
      SELECT tool_id FROM tool_lineage WHERE tool_id = ANY(${ids}::varchar[]) AND ${isRoutable()}`;
    return new Set(rows.map((r) => r.tool_id));
  }

  /** Every tool with its version count, routed version, that version's health and what the route says. */
  async listTools(): Promise<ToolListing[]> {
    const rows = await this.prisma.$queryRawUnsafe<Parameters<typeof toToolListing>[0][]>(LIST_TOOLS_SQL);
    return rows.map(toToolListing);
  }
}
