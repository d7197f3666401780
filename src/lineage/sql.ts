import { Prisma } from '../generated/prisma/client.js';
import type { PrismaClient } from '../infra/database.js';
import { jsonbSafe, sqlText } from './sql-text.js';

export { jsonbSafe, jsonbSafeText, sqlText, textSafe } from './sql-text.js';

/**
 * The SQL facts every statement on the lineage tables shares, spelled once: what a lineage edge is,
 * what a routable version is, the recursive walks, and the newest routable version of a tool.
 */

/** A Prisma client or an open transaction: every data-layer method takes either. */
export type Db = PrismaClient | Prisma.TransactionClient;

/** `<alias>.relationship_type` is an ancestry edge (direct, merge or fork; never `regenerated`). */
export function isLineageEdge(alias?: string): Prisma.Sql {
  return Prisma.raw(sqlText.isLineageEdge(alias));
}

/** `<alias>.health_status` lets callers be routed to the version. */
export function isRoutable(alias?: string): Prisma.Sql {
  return Prisma.raw(sqlText.isRoutable(alias));
}

/**
 * `WITH RECURSIVE d(id)`: every descendant of a version along lineage edges, each once. A version that
 * reverts it (undoes its change) is not reached, nor is anything below such a version: a revert is
 * the branch healed, not more of the branch.
 */
export function descendantSet(id: string): Prisma.Sql {
  const notReverting = (alias: string) =>
    Prisma.sql`NOT EXISTS (SELECT 1 FROM lineage_relationships x WHERE x.child_id = ${Prisma.raw(alias)}.child_id AND x.parent_id = ${id} AND x.relationship_type = 'reverts')`;
  return Prisma.sql`WITH RECURSIVE d(id) AS (
        SELECT s.child_id FROM lineage_relationships s WHERE s.parent_id = ${id} AND ${isLineageEdge('s')} AND ${notReverting('s')}
        UNION
        SELECT r.child_id FROM lineage_relationships r JOIN d ON r.parent_id = d.id WHERE ${isLineageEdge('r')} AND ${notReverting('r')}
      )`;
}

/** `WITH RECURSIVE a(id)`: every ancestor of a version (and the version itself with `includeSelf`). */
export function ancestorSet(id: string, { includeSelf = false }: { includeSelf?: boolean } = {}): Prisma.Sql {
  const start = includeSelf
    ? Prisma.sql`SELECT ${id}::varchar`
    : Prisma.sql`SELECT parent_id FROM lineage_relationships WHERE child_id = ${id} AND ${isLineageEdge()}`;
  return Prisma.sql`WITH RECURSIVE a(id) AS (
        ${start}
        UNION
        SELECT r.parent_id FROM lineage_relationships r JOIN a ON r.child_id = a.id WHERE ${isLineageEdge('r')}
      )`;
}

/** Newest first by semantic version: the order that decides "the newest version of a tool". */
export function newestFirst(alias?: string): Prisma.Sql {
  return Prisma.raw(sqlText.newestFirst(alias));
}

/**
 * A scalar subquery: the newest routable version of the tool named by `toolName`, leaving out the
 * ids `exclude` (a SQL expression yielding ids) when given.
 */
export function newestRoutable(toolName: Prisma.Sql, exclude?: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(SELECT nr.tool_id FROM tool_lineage nr
          WHERE nr.tool_name = ${toolName} AND ${isRoutable('nr')}
            ${exclude ? Prisma.sql`AND nr.tool_id NOT IN (${exclude})` : Prisma.empty}
          ORDER BY ${newestFirst('nr')} LIMIT 1)`;
}

/** A value as Prisma JSON input (Prisma wants InputJsonValue, not our JsonValue), made safe for jsonb. */
export function asJson(value: unknown): Prisma.InputJsonValue {
  return jsonbSafe(value) as Prisma.InputJsonValue;
}
