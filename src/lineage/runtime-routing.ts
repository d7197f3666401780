import type { ToolLanguage } from '../shared/language.js';
import type pg from 'pg';
import type { Health } from '../shared/lineage-types.js';

// The routing statements of the tool runtime, over node-postgres: kept apart from RoutingStore so the
// runtime (and `dise call`) never loads Prisma's client.

/** A version as the runtime caches it. */
export interface RoutedVersionRow {
  tool_id: string;
  tool_name: string;
  health_status: Health;
  code: string;
  language: ToolLanguage;
  code_hash: string;
}

/** A route as the runtime caches it: where callers go, and whether that version is known wrong. */
export interface RouteEntry {
  versionId: string;
  /** Why the routed version is known to answer wrongly; null when it is not. */
  knownWrong: string | null;
  /** The healthy version of a similar tool answering instead, when one was found. */
  alternativeId: string | null;
}

/** Queries the runtime's routing cache runs over node-postgres (its own pool, its hot path). */
export const runtimeRouting = {
  async routeOf(pool: pg.Pool, toolName: string): Promise<RouteEntry | null> {
    const { rows } = await pool.query<{
      version_id: string;
      known_wrong: string | null;
      alternative_id: string | null;
    }>('SELECT version_id, known_wrong, alternative_id FROM routes WHERE tool_name = $1', [toolName]);
    const row = rows[0];
    return row ? { versionId: row.version_id, knownWrong: row.known_wrong, alternativeId: row.alternative_id } : null;
  },
  async version(pool: pg.Pool, id: string): Promise<RoutedVersionRow | undefined> {
    const { rows } = await pool.query<RoutedVersionRow>(
      'SELECT tool_id, tool_name, health_status, code, language, code_hash FROM tool_lineage WHERE tool_id = $1',
      [id],
    );
    return rows[0];
  },
  /** The routes of `names` (every tool when omitted) with their routed versions, in one query. */
  async routedVersions(
    pool: pg.Pool,
    names?: string[],
  ): Promise<(RoutedVersionRow & { known_wrong: string | null; alternative_id: string | null })[]> {
    // A route always points at a version of its own tool (setRoute derives it from the version id).
    const { rows } = await pool.query<RoutedVersionRow & { known_wrong: string | null; alternative_id: string | null }>(
      `SELECT t.tool_id, t.tool_name, t.health_status, t.code, t.language, t.code_hash, r.known_wrong, r.alternative_id
       FROM routes r JOIN tool_lineage t ON t.tool_id = r.version_id
       ${names ? 'WHERE r.tool_name = ANY($1::varchar[])' : ''}`,
      names ? [names] : [],
    );
    return rows;
  },
};
