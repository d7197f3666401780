import type pg from 'pg';
import { Prisma } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import { looksLikeVersionId } from '../shared/ids.js';
import { ROUTABLE_HEALTH, type Health } from '../shared/lineage-types.js';
import { LineageError } from './errors.js';
import { normalizeVersionId } from './ids.js';
import { isRoutable, NEWEST_FIRST, newestRoutable, type Db } from './sql.js';

/** A version as the runtime caches it. */
export interface RoutedVersionRow {
  tool_id: string;
  tool_name: string;
  health_status: Health;
  code: string;
  code_hash: string;
}

/** Queries the runtime's routing cache runs over node-postgres (its own pool, its hot path). */
export const runtimeRouting = {
  async routeOf(pool: pg.Pool, toolName: string): Promise<string | null> {
    const { rows } = await pool.query<{ version_id: string }>('SELECT version_id FROM routes WHERE tool_name = $1', [toolName]);
    return rows[0]?.version_id ?? null;
  },
  async version(pool: pg.Pool, id: string): Promise<RoutedVersionRow | undefined> {
    const { rows } = await pool.query<RoutedVersionRow>('SELECT tool_id, tool_name, health_status, code, code_hash FROM tool_lineage WHERE tool_id = $1', [id]);
    return rows[0];
  },
  /** The routes of `names` (every tool when omitted) with their routed versions, in one query. */
  async routedVersions(pool: pg.Pool, names?: string[]): Promise<RoutedVersionRow[]> {
    // A route always points at a version of its own tool (setRoute derives it from the version id).
    const { rows } = await pool.query<RoutedVersionRow>(
      `SELECT t.tool_id, t.tool_name, t.health_status, t.code, t.code_hash
       FROM routes r JOIN tool_lineage t ON t.tool_id = r.version_id
       ${names ? 'WHERE r.tool_name = ANY($1::varchar[])' : ''}`,
      names ? [names] : [],
    );
    return rows;
  },
};

/** routes: which version callers of a tool reach. */
export class RoutingStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** Points callers of the version's tool at it. */
  async setRoute(versionInput: string, reason: string, db: Db = this.prisma): Promise<void> {
    const ref = normalizeVersionId(versionInput);
    await db.route.upsert({
      where: { toolName: ref.name },
      create: { toolName: ref.name, versionId: ref.id, reason },
      update: { versionId: ref.id, reason, updatedAt: new Date() },
    });
  }

  async routeOf(toolName: string, db: Db = this.prisma): Promise<string | null> {
    return (await db.route.findUnique({ where: { toolName }, select: { versionId: true } }))?.versionId ?? null;
  }

  /** Resolves a tool name or a version id to a version id: a name goes to its routed version, else its newest. */
  async resolve(nameOrId: string): Promise<string> {
    if (looksLikeVersionId(nameOrId)) {
      const id = normalizeVersionId(nameOrId).id;
      if (!(await this.prisma.toolLineage.findUnique({ where: { toolId: id }, select: { toolId: true } }))) {
        throw new LineageError('UNKNOWN_VERSION', `unknown version ${id}`, 'id', [id]);
      }
      return id;
    }
    const route = await this.routeOf(nameOrId);
    if (route) return route;
    const [newest] = await this.prisma.$queryRaw<{ tool_id: string }[]>`
      SELECT tool_id FROM tool_lineage WHERE tool_name = ${nameOrId} ORDER BY ${NEWEST_FIRST} LIMIT 1`;
    if (!newest) throw new LineageError('UNKNOWN_VERSION', `unknown tool or version "${nameOrId}"`, 'id', [nameOrId]);
    return newest.tool_id;
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
      UPDATE routes r SET version_id = moved.version_id, reason = ${reason}, updated_at = now()
      FROM moved WHERE r.tool_name = moved.tool_name AND moved.version_id IS NOT NULL
      RETURNING r.tool_name, r.version_id`;
    return rows.map((r) => ({ toolName: r.tool_name, versionId: r.version_id }));
  }

  /**
   * Makes sure callers of a tool reach a version they may use: keeps a routable route, else moves it
   * to `preferred` when that is a routable version of the tool, else to the tool's newest routable
   * version. Returns where the route points (null when the tool has no route).
   */
  async ensureRoutable(toolName: string, preferred: string | null, reason: string, db: Db = this.prisma): Promise<string | null> {
    const route = await db.route.findUnique({ where: { toolName }, include: { version: { select: { healthStatus: true } } } });
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

  /** Every tool with its version count, routed version and that version's health. */
  async listTools(): Promise<{ name: string; versions: number; routedVersion: string | null; health: Health | null }[]> {
    const rows = await this.prisma.$queryRaw<{ name: string; versions: bigint; routed: string | null; health: Health | null }[]>`
      SELECT t.tool_name AS name, count(*) AS versions, r.version_id AS routed, rv.health_status AS health
      FROM tool_lineage t
      LEFT JOIN routes r ON r.tool_name = t.tool_name
      LEFT JOIN tool_lineage rv ON rv.tool_id = r.version_id
      GROUP BY t.tool_name, r.version_id, rv.health_status
      ORDER BY t.tool_name`;
    return rows.map((r) => ({ name: r.name, versions: Number(r.versions), routedVersion: r.routed, health: r.health }));
  }
}
