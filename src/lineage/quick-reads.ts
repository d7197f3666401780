import type { ToolLanguage } from '../shared/language.js';
import type pg from 'pg';
import type { CanaryVerdict } from '../shared/canary-types.js';
import type { CorpusCounts, DifferentialReport, Health, MutationType, ToolLineage } from '../shared/lineage-types.js';
import { pgRunner, type SqlRunner } from './sql-runner.js';
import { sqlText } from './sql-text.js';
import { normalizeVersionId } from './ids.js';
import { LineageError } from './errors.js';
import { looksLikeVersionId } from '../shared/ids.js';

// The reads of the CLI's quick commands (`dise lineage`, `dise tool list`, `dise report`) over
// node-postgres: the same answers as LineageStore's Prisma reads (tested equal), without loading
// Prisma's client and query compiler, which alone cost more than the 300 ms a scripted command may
// take.

const ISO = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

export interface ToolListing {
  name: string;
  versions: number;
  routedVersion: string | null;
  health: Health | null;
  knownWrong: string | null;
  alternativeId: string | null;
  /** The languages the tool's versions are written in. */
  languages: ToolLanguage[];
  /** The routed version's mutation score from its latest `dise immunity` (0..1), null when never measured. */
  mutationScore: number | null;
}

/** Every tool with its version count, routed version, that version's health and what the route says. */
export const LIST_TOOLS_SQL = `
  SELECT t.tool_name AS name, count(*)::int AS versions, r.version_id AS routed, rv.health_status AS health, r.known_wrong, r.alternative_id,
         array_agg(DISTINCT t.language ORDER BY t.language) AS languages,
         (im.killed_after::float8 / NULLIF(im.mutants, 0)) AS mutation_score
  FROM tool_lineage t
  LEFT JOIN routes r ON r.tool_name = t.tool_name
  LEFT JOIN tool_lineage rv ON rv.tool_id = r.version_id
  LEFT JOIN LATERAL (SELECT i.mutants, i.killed_after FROM immunity_runs i WHERE i.tool_id = r.version_id ORDER BY i.id DESC LIMIT 1) im ON true
  GROUP BY t.tool_name, r.version_id, rv.health_status, r.known_wrong, r.alternative_id, im.mutants, im.killed_after
  ORDER BY t.tool_name`;

export function toToolListing(r: {
  name: string;
  versions: number | bigint;
  routed: string | null;
  health: Health | null;
  known_wrong: string | null;
  alternative_id: string | null;
  languages: ToolLanguage[];
  mutation_score: number | null;
}): ToolListing {
  return {
    name: r.name,
    versions: Number(r.versions),
    routedVersion: r.routed,
    health: r.health,
    knownWrong: r.known_wrong,
    alternativeId: r.alternative_id,
    languages: r.languages,
    mutationScore: r.mutation_score === null ? null : Number(r.mutation_score),
  };
}

/**
 * Resolves a tool name or a version id to a version id, over either driver (RoutingStore.resolve
 * runs it through Prisma): a name goes to its routed version, else its newest; a version id must exist.
 */
export async function resolveVersion(runner: SqlRunner, nameOrId: string): Promise<string> {
  if (looksLikeVersionId(nameOrId)) {
    const id = normalizeVersionId(nameOrId).id;
    const rows = await runner.query('SELECT 1 FROM tool_lineage WHERE tool_id = $1', [id]);
    if (!rows.length) throw new LineageError('UNKNOWN_VERSION', `unknown version ${id}`, 'id', [id]);
    return id;
  }
  const rows = await runner.query<{ id: string | null }>(
    `SELECT COALESCE((SELECT version_id FROM routes WHERE tool_name = $1),
                     (SELECT tool_id FROM tool_lineage WHERE tool_name = $1 ORDER BY ${sqlText.newestFirst()} LIMIT 1)) AS id`,
    [nameOrId],
  );
  const id = rows[0]?.id;
  if (!id) throw new LineageError('UNKNOWN_VERSION', `unknown tool or version "${nameOrId}"`, 'id', [nameOrId]);
  return id;
}

export const quickReads = {
  async listTools(pool: pg.Pool): Promise<ToolListing[]> {
    const { rows } = await pool.query(LIST_TOOLS_SQL);
    return rows.map(toToolListing);
  },

  /** A tool name goes to its routed version, else its newest; a version id must exist. */
  async resolve(pool: pg.Pool, nameOrId: string): Promise<string> {
    return resolveVersion(pgRunner(pool), nameOrId);
  },

  /**
   * The whole ToolLineage of a version in one statement, over any SqlRunner: LineageViews.lineage
   * runs it through Prisma, the quick CLI over node-postgres — one implementation of the read.
   */
  async lineage(runner: SqlRunner, idInput: string): Promise<ToolLineage> {
    const id = normalizeVersionId(idInput).id;
    const rows = await runner.query<{
      l: (Omit<ToolLineage, 'differential'> & { differentialRow: DifferentialRow | null }) | null;
    }>(LINEAGE_SQL, [id]);
    const row = rows[0]?.l;
    if (!row) throw new LineageError('UNKNOWN_VERSION', `unknown version ${id}`, 'id', [id]);
    const { differentialRow, ...l } = row;
    return { ...l, differential: differentialRow ? toDifferentialReport(differentialRow) : null };
  },

  /** Running canaries by tool: the candidate, what it runs beside, calls mirrored and the judge's latest verdict. */
  async runningCanaries(
    pool: pg.Pool,
  ): Promise<Map<string, { candidateId: string; stableId: string; mirrored: number; verdict: CanaryVerdict | null }>> {
    const { rows } = await pool.query<{
      tool_name: string;
      candidate_id: string;
      stable_id: string;
      mirrored: number;
      verdict: CanaryVerdict | null;
    }>(
      `SELECT c.tool_name, c.candidate_id, c.stable_id, c.verdict,
              (SELECT count(*)::int FROM canary_comparisons cc WHERE cc.candidate_id = c.candidate_id) AS mirrored
       FROM canaries c WHERE c.status = 'running'`,
    );
    return new Map(
      rows.map((r) => [
        r.tool_name,
        { candidateId: r.candidate_id, stableId: r.stable_id, mirrored: r.mirrored, verdict: r.verdict },
      ]),
    );
  },

  async healthOf(pool: pg.Pool, ids: string[]): Promise<Map<string, Health>> {
    if (!ids.length) return new Map();
    const { rows } = await pool.query<{ tool_id: string; health_status: Health }>(
      'SELECT tool_id, health_status FROM tool_lineage WHERE tool_id = ANY($1::varchar[])',
      [ids],
    );
    return new Map(rows.map((r) => [r.tool_id, r.health_status]));
  },

  /** How many versions hold each rule. */
  async ruleReach(pool: pg.Pool, ruleIds: string[]): Promise<Map<string, number>> {
    if (!ruleIds.length) return new Map();
    const { rows } = await pool.query<{ rule_id: string; n: number }>(
      'SELECT rule_id, count(*)::int AS n FROM rule_inheritance WHERE rule_id = ANY($1::varchar[]) GROUP BY rule_id',
      [ruleIds],
    );
    return new Map(rows.map((r) => [r.rule_id, r.n]));
  },
};

/** A differential_checks row as the data layer reads it (json columns parsed). */
export interface DifferentialRow {
  toolId: string;
  parentIds: string[];
  mutationType: string | null;
  judgedAs: string;
  verdict: string;
  seed: number;
  inputs: number;
  sources: CorpusCounts & {
    unjudged?: number;
    notRun?: number;
    differing?: number;
    broken?: DifferentialReport['brokenSources'];
  };
  differences: DifferentialReport['differences'];
  message: string;
  durationMs: number;
}

/** The per-source counts of a stored check (the row also keeps unjudged, differing and broken sources there). */
function countsOf({
  unjudged: _u,
  notRun: _n,
  differing: _d,
  broken: _b,
  ...counts
}: DifferentialRow['sources']): CorpusCounts {
  return counts;
}

/** A stored differential check as a DifferentialReport. */
export function toDifferentialReport(r: DifferentialRow): DifferentialReport {
  return {
    versionId: r.toolId,
    parents: r.parentIds,
    mutationType: r.mutationType as MutationType | null,
    judgedAs: r.judgedAs as MutationType,
    verdict: r.verdict as DifferentialReport['verdict'],
    seed: r.seed,
    inputs: r.inputs,
    unjudged: r.sources.unjudged ?? 0,
    notRun: r.sources.notRun ?? 0,
    sources: countsOf(r.sources),
    differing: r.sources.differing ?? r.differences.length,
    differences: r.differences,
    ...(r.sources.broken?.length ? { brokenSources: r.sources.broken } : {}),
    message: r.message,
    durationMs: r.durationMs,
  };
}

/** Everything a ToolLineage holds, as one JSON object (see quickReads.lineage). */
const LINEAGE_SQL = `
  SELECT json_build_object(
    'id', t.tool_id, 'toolId', t.tool_id, 'name', t.tool_name, 'version', t.version, 'fullName', t.full_name,
    'description', t.description, 'category', t.category, 'code', t.code, 'language', t.language, 'codeHash', t.code_hash,
    'parents', COALESCE((SELECT json_agg(e.parent_id ORDER BY e.id) FROM lineage_relationships e WHERE e.child_id = t.tool_id AND ${sqlText.isLineageEdge('e')}), '[]'::json),
    'parentEdges', COALESCE((SELECT json_agg(json_build_object('id', e.parent_id, 'type', e.relationship_type) ORDER BY e.id) FROM lineage_relationships e WHERE e.child_id = t.tool_id), '[]'::json),
    'children', COALESCE((SELECT json_agg(e.child_id ORDER BY e.id) FROM lineage_relationships e WHERE e.parent_id = t.tool_id AND ${sqlText.isLineageEdge('e')}), '[]'::json),
    'ancestorPath', COALESCE((
      WITH RECURSIVE p(id, depth) AS (
        SELECT t.tool_id::varchar, 0
        UNION ALL
        SELECT (SELECT r.parent_id FROM lineage_relationships r WHERE r.child_id = p.id AND ${sqlText.isLineageEdge('r')} ORDER BY r.id LIMIT 1), p.depth + 1
        FROM p WHERE p.id IS NOT NULL AND p.depth < 100000
      )
      SELECT json_agg(id ORDER BY depth DESC) FROM p WHERE id IS NOT NULL AND depth > 0), '[]'::json),
    'ancestors', COALESCE((
      WITH RECURSIVE a(id) AS (
        SELECT r.parent_id FROM lineage_relationships r WHERE r.child_id = t.tool_id AND ${sqlText.isLineageEdge('r')}
        UNION
        SELECT r.parent_id FROM lineage_relationships r JOIN a ON r.child_id = a.id WHERE ${sqlText.isLineageEdge('r')}
      )
      SELECT json_agg(json_build_object('id', v.tool_id, 'generation', v.generation, 'health', v.health_status,
               'parents', COALESCE((SELECT json_agg(json_build_object('id', e.parent_id, 'type', e.relationship_type) ORDER BY e.id)
                                    FROM lineage_relationships e WHERE e.child_id = v.tool_id AND ${sqlText.isLineageEdge('e')}), '[]'::json))
             ORDER BY v.generation, v.tool_id)
      FROM a JOIN tool_lineage v ON v.tool_id = a.id), '[]'::json),
    'health', t.health_status, 'failureCount', t.failure_count,
    'failures', COALESCE((SELECT json_agg(json_build_object('id', f.id, 'failureType', f.failure_type, 'description', f.description,
        'stackTrace', f.stack_trace, 'testCaseFailed', f.test_case_failed, 'detectionMethod', f.detection_method,
        'severity', f.severity, 'timestamp', ${ISO('f.timestamp')}) ORDER BY f.id) FROM failures f WHERE f.tool_id = t.tool_id), '[]'::json),
    'mutations', COALESCE((SELECT json_agg(json_build_object('mutationType', m.mutation_type, 'description', m.description,
        'promptUsed', m.prompt_used, 'codeDiffHash', m.code_diff_hash, 'fitnessBefore', m.fitness_before,
        'fitnessAfter', m.fitness_after, 'timestamp', ${ISO('m.timestamp')}) ORDER BY m.id) FROM mutations m WHERE m.tool_id = t.tool_id), '[]'::json),
    'generation', t.generation,
    'avoidanceRules', COALESCE((SELECT json_agg(json_build_object('ruleId', a.rule_id, 'description', a.description,
        'patternToAvoid', a.pattern_to_avoid, 'patternKind', a.pattern_kind, 'reason', a.reason, 'sourceFailure', a.source_failure,
        'propagationScope', a.propagation_scope, 'createdAt', ${ISO('a.created_at')}) ORDER BY a.created_at, a.rule_id) FROM avoidance_rules a WHERE a.source_failure = t.tool_id), '[]'::json),
    'inheritedRules', COALESCE((SELECT json_agg(i.rule_id ORDER BY i.rule_id) FROM rule_inheritance i WHERE i.tool_id = t.tool_id), '[]'::json),
    'fitnessHistory', COALESCE((SELECT json_agg(h.fitness_score ORDER BY h.id) FROM fitness_history h WHERE h.tool_id = t.tool_id), '[]'::json),
    'executionCount', t.execution_count, 'successRate', t.success_rate,
    'createdAt', ${ISO('t.created_at')}, 'lastExecuted', ${ISO('t.last_executed')}, 'prunedAt', ${ISO('t.pruned_at')},
    'regeneratedFrom', t.regenerated_from,
    'regeneratedAs', COALESCE((SELECT json_agg(e.child_id ORDER BY e.id) FROM lineage_relationships e WHERE e.parent_id = t.tool_id AND e.relationship_type = 'regenerated'), '[]'::json),
    'reverts', (SELECT e.parent_id FROM lineage_relationships e WHERE e.child_id = t.tool_id AND e.relationship_type = 'reverts' ORDER BY e.id LIMIT 1),
    'revertedBy', COALESCE((SELECT json_agg(e.child_id ORDER BY e.id) FROM lineage_relationships e WHERE e.parent_id = t.tool_id AND e.relationship_type = 'reverts'), '[]'::json),
    'healedBy', CASE WHEN t.heal_id IS NULL THEN NULL ELSE json_build_object(
        'healId', t.heal_id,
        'strategy', (SELECT h.result->>'strategy' FROM heal_runs h WHERE h.id = t.heal_id),
        'features', (SELECT h.result->'features' FROM heal_runs h WHERE h.id = t.heal_id AND jsonb_typeof(h.result->'features') = 'object'),
        'setAside', COALESCE((SELECT json_agg(json_build_object('name', x->>'name', 'introducedBy', x->>'introducedBy'))
                              FROM heal_runs h, jsonb_array_elements(CASE WHEN jsonb_typeof(h.result->'setAside') = 'array' THEN h.result->'setAside' ELSE '[]'::jsonb END) x
                              WHERE h.id = t.heal_id), '[]'::json)) END,
    'pruneEvidence', t.prune_evidence,
    'immunity', (SELECT json_build_object('mutants', i.mutants, 'killedBefore', i.killed_before, 'killedAfter', i.killed_after,
        'pinned', i.pinned, 'at', ${ISO('i.created_at')}) FROM immunity_runs i WHERE i.tool_id = t.tool_id ORDER BY i.id DESC LIMIT 1),
    'canary', (SELECT json_build_object('status', c.status, 'stableId', c.stable_id,
        'mirrored', (SELECT count(*)::int FROM canary_comparisons cc WHERE cc.candidate_id = c.candidate_id),
        'agreement', (c.verdict->>'agreement')::float8, 'verdict', c.verdict->>'decision',
        'reasons', COALESCE(c.verdict->'reasons', '[]'::jsonb), 'minCalls', (c.verdict->>'minCalls')::int, 'decision', c.decision)
      FROM canaries c WHERE c.candidate_id = t.tool_id),
    'route', json_build_object('routed', COALESCE(r.version_id = t.tool_id, false), 'toolRoutedTo', r.version_id),
    'differentialRow', (SELECT json_build_object('toolId', d.tool_id, 'parentIds', d.parent_ids, 'mutationType', d.mutation_type, 'judgedAs', d.judged_as,
        'verdict', d.verdict, 'seed', d.seed, 'inputs', d.inputs, 'sources', d.sources, 'differences', d.differences, 'message', d.message,
        'durationMs', d.duration_ms) FROM differential_checks d WHERE d.tool_id = t.tool_id ORDER BY d.id DESC LIMIT 1)
  ) AS l
  FROM tool_lineage t LEFT JOIN routes r ON r.tool_name = t.tool_name
  WHERE t.tool_id = $1`;
