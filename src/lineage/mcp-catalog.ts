import type pg from 'pg';
import type { Health, JsonValue } from '../shared/lineage-types.js';

// The reads of `dise mcp` over node-postgres (it runs beside a ToolRuntime, without Prisma): which
// tools an agent can see, what their arguments look like, and why a tool changed.

/** A routed tool as MCP clients see it. */
export interface CatalogRow {
  name: string;
  versionId: string;
  health: Health;
  description: string;
  inputSchema: { [key: string]: JsonValue } | null;
  outputSchema: { [key: string]: JsonValue } | null;
  knownWrong: string | null;
  alternativeId: string | null;
  /** The alternative's health, when the route names one. */
  alternativeHealth: Health | null;
}

/** A heal of one version, as recorded in heal_runs. */
export interface HealRunRow {
  id: string;
  workflowId: string;
  versionId: string;
  status: string;
  trigger: string;
  steps: JsonValue;
  result: JsonValue | null;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

const ISO = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export const mcpCatalog = {
  /** Every routed tool with its routed version's description, schemas and health, and its route's alternative. */
  async routedTools(pool: pg.Pool): Promise<CatalogRow[]> {
    const { rows } = await pool.query<{
      name: string;
      version_id: string;
      health: Health;
      description: string;
      input_schema: CatalogRow['inputSchema'];
      output_schema: CatalogRow['outputSchema'];
      known_wrong: string | null;
      alternative_id: string | null;
      alternative_health: Health | null;
    }>(
      `SELECT r.tool_name AS name, r.version_id, t.health_status AS health, t.description, t.input_schema, t.output_schema,
              r.known_wrong, r.alternative_id, a.health_status AS alternative_health
       FROM routes r
       JOIN tool_lineage t ON t.tool_id = r.version_id
       LEFT JOIN tool_lineage a ON a.tool_id = r.alternative_id
       ORDER BY r.tool_name`,
    );
    return rows.map((r) => ({
      name: r.name,
      versionId: r.version_id,
      health: r.health,
      description: r.description,
      inputSchema: r.input_schema,
      outputSchema: r.output_schema,
      knownWrong: r.known_wrong,
      alternativeId: r.alternative_id,
      alternativeHealth: r.alternative_health,
    }));
  },

  /**
   * The inputs of every test of each named tool (all its versions, authored and minted), in a stable
   * order: what a schema is inferred from when no version declares one.
   */
  async testInputs(pool: pg.Pool, names: string[]): Promise<Map<string, JsonValue[]>> {
    const out = new Map<string, JsonValue[]>();
    if (!names.length) return out;
    const { rows } = await pool.query<{ name: string; input: JsonValue }>(
      `SELECT t.tool_name AS name, tc.input
       FROM test_cases tc JOIN tool_lineage t ON t.tool_id = tc.tool_id
       WHERE t.tool_name = ANY($1::varchar[])
       ORDER BY tc.id`,
      [names],
    );
    for (const r of rows) {
      const list = out.get(r.name) ?? [];
      list.push(r.input);
      out.set(r.name, list);
    }
    return out;
  },

  /** The heals of a version (or the one heal with that id or workflow id), newest first. */
  async healRuns(pool: pg.Pool, versionOrHealId: string): Promise<HealRunRow[]> {
    const { rows } = await pool.query<{
      id: string;
      workflow_id: string;
      tool_id: string;
      status: string;
      trigger: string;
      steps: JsonValue;
      result: JsonValue | null;
      error: string | null;
      started_at: string;
      finished_at: string | null;
    }>(
      `SELECT id, workflow_id, tool_id, status, trigger, steps, result, error, ${ISO('started_at')} AS started_at, ${ISO('finished_at')} AS finished_at
       FROM heal_runs WHERE tool_id = $1 OR id = $1 OR workflow_id = $1
       ORDER BY started_at DESC, id DESC`,
      [versionOrHealId],
    );
    return rows.map((r) => ({
      id: r.id,
      workflowId: r.workflow_id,
      versionId: r.tool_id,
      status: r.status,
      trigger: r.trigger,
      steps: r.steps,
      result: r.result,
      error: r.error,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
    }));
  },
};
