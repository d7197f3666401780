import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { detectRuntimeFailures } from '../../src/detection/runtime-health.js';
import { PrismaClient } from '../../src/generated/prisma/client.js';
import { LineageStore } from '../../src/lineage/store.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';

// The storage at storm scale: 100,000 versions (10,000 tools of 10 versions each) with their edges,
// routes, failures, tests, heals, rules and a few hundred thousand calls across day partitions. The
// health monitor's and the dashboard's reads are run through the product's own store, every
// statement the driver receives is recorded (text and values, as Prisma sent them), and each is
// planned again with EXPLAIN on the same values: no plan may read a large table whole.

const TOOLS = 10_000;
const VERSIONS_PER_TOOL = 10;
const VERSIONS = TOOLS * VERSIONS_PER_TOOL;
const EXECUTIONS = 300_000;
const DAY = 86_400_000;

/** A table (or partition) holding at least this many rows is large: a sequential scan of it is a finding. */
const LARGE_ROWS = 5_000;
let rowsOf = new Map<string, number>();

interface Recorded {
  text: string;
  values: unknown[];
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

let db: TestDatabase;
let pool: pg.Pool;
let prisma: PrismaClient;
let store: LineageStore;
let explainPool: pg.Pool;
let recording: Recorded[] | null = null;

/** Every node of a plan, depth first. */
function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/** Runs `fn` and returns the statements it sent to PostgreSQL (transaction control left out). */
async function captured(fn: () => Promise<unknown>): Promise<Recorded[]> {
  recording = [];
  try {
    await fn();
    return recording.filter((r) => !/^\s*(BEGIN|COMMIT|ROLLBACK|SET TRANSACTION|SAVEPOINT|RELEASE)/i.test(r.text));
  } finally {
    recording = null;
  }
}

async function explain(r: Recorded): Promise<PlanNode> {
  const { rows } = await explainPool.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
    `EXPLAIN (FORMAT JSON) ${r.text}`,
    r.values,
  );
  return rows[0]!['QUERY PLAN'][0].Plan;
}

function describePlan(plan: PlanNode): string {
  return nodes(plan)
    .filter((n) => n['Relation Name'] || n['Index Name'])
    .map((n) => `${n['Node Type']} ${n['Relation Name'] ?? ''}${n['Index Name'] ? ` using ${n['Index Name']}` : ''}`)
    .join(', ');
}

/**
 * The seq scans on large tables in the plans of everything `fn` sends, except on `wholeTable`: the
 * tables a read is about in full (a count of every row, one row per tool), where no index can spare
 * reading them. The plans are printed with their execution time (EXPLAIN ANALYZE, a figure only).
 */
async function seqScansOf(label: string, fn: () => Promise<unknown>, wholeTable: string[] = []): Promise<string[]> {
  const statements = await captured(fn);
  expect(statements.length, `${label} sent no statement`).toBeGreaterThan(0);
  const found: string[] = [];
  for (const [i, s] of statements.entries()) {
    const plan = await explain(s);
    const ms = await executionTime(s);
    console.log(`[plan] ${label} #${i + 1} (median ${ms.toFixed(1)} ms): ${describePlan(plan) || plan['Node Type']}`);
    for (const n of nodes(plan)) {
      const relation = n['Relation Name'];
      if (n['Node Type'] !== 'Seq Scan' || !relation || wholeTable.includes(relation)) continue;
      if ((rowsOf.get(relation) ?? 0) >= LARGE_ROWS)
        found.push(`${label} #${i + 1}: Seq Scan on ${relation}\n${s.text}`);
    }
  }
  return found;
}

/** The median execution time of five EXPLAIN ANALYZE runs (the machine is shared: one run is noise). */
async function executionTime(r: Recorded): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const { rows } = await explainPool.query<{ 'QUERY PLAN': [{ 'Execution Time': number }] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${r.text}`,
      r.values,
    );
    times.push(rows[0]!['QUERY PLAN'][0]['Execution Time']);
  }
  return times.sort((a, b) => a - b)[2]!;
}

async function seed(): Promise<void> {
  const q = (sql: string, params: unknown[] = []) => db.query(sql, params);
  const t0 = performance.now();
  // Versions t<i>@1.<j>.0: j = 9 is routed and healthy, older ones are regenerated, pruned or healthy.
  await q(
    `INSERT INTO tool_lineage (tool_id, tool_name, version, full_name, major, minor, patch, health_status,
       failure_count, generation, execution_count, code, code_hash, description, created_at, updated_at)
     SELECT 't' || t || '@1.' || v || '.0', 't' || t, '1.' || v || '.0', 't' || t || '@1.' || v || '.0', 1, v, 0,
       CASE WHEN v = $2 - 1 THEN 'healthy' WHEN v % 3 = 0 THEN 'pruned' WHEN v % 3 = 1 THEN 'regenerated' ELSE 'healthy' END,
       CASE WHEN t % 500 = 0 THEN 3 + v ELSE (t + v) % 2 END, v, 30, 'function run(x) { return x + ' || v || '; }', md5(t || '.' || v), 'tool ' || t,
       now() - (($2 - v) * interval '1 day'), now() - (($2 - v) * interval '1 day')
     FROM generate_series(1, $1::int) t, generate_series(0, $2::int - 1) v`,
    [TOOLS, VERSIONS_PER_TOOL],
  );
  await q(
    `INSERT INTO lineage_relationships (child_id, parent_id, relationship_type)
     SELECT 't' || t || '@1.' || v || '.0', 't' || t || '@1.' || (v - 1) || '.0',
       CASE WHEN v % 3 = 1 THEN 'regenerated' ELSE 'direct' END
     FROM generate_series(1, $1::int) t, generate_series(1, $2::int - 1) v`,
    [TOOLS, VERSIONS_PER_TOOL],
  );
  await q(
    `INSERT INTO routes (tool_name, version_id, reason) SELECT 't' || t, 't' || t || '@1.' || ($2 - 1) || '.0', 'registered'
     FROM generate_series(1, $1::int) t`,
    [TOOLS, VERSIONS_PER_TOOL],
  );
  await q(
    `INSERT INTO mutations (tool_id, mutation_type, description, code_diff_hash)
     SELECT tool_id, 'bug_fix', 'step', md5(tool_id) FROM tool_lineage`,
  );
  // Two failures a version.
  await q(
    `INSERT INTO failures (tool_id, failure_type, description, detection_method, severity, timestamp)
     SELECT tool_id, 'runtime_errors', 'TypeError', 'runtime', CASE WHEN k = 1 THEN 'high' ELSE 'medium' END,
       created_at + k * interval '1 hour'
     FROM tool_lineage, generate_series(1, 2) k`,
  );
  // An authored test a version, and a minted one for every tenth (from its first failure).
  await q(
    `INSERT INTO test_cases (tool_id, name, input, expected, origin)
     SELECT tool_id, 'authored', '{"x":1}', '2', 'authored' FROM tool_lineage`,
  );
  await q(
    `INSERT INTO test_cases (tool_id, name, input, expected, origin, source_failure_id)
     SELECT f.tool_id, 'minted ' || f.id, '{"x":2}', '3', 'minted', f.id
     FROM failures f WHERE f.id % 20 = 1`,
  );
  await q(
    `INSERT INTO fitness_history (tool_id, fitness_score, timestamp)
     SELECT tool_id, 0.9, created_at + k * interval '1 minute' FROM tool_lineage, generate_series(1, 2) k`,
  );
  // A heal for each regenerated version, from its parent.
  await q(
    `INSERT INTO heal_runs (id, workflow_id, tool_id, status, trigger, result, started_at, finished_at)
     SELECT 'heal-' || l.tool_id, 'heal:' || r.parent_id, r.parent_id,
       CASE WHEN l.minor % 2 = 0 THEN 'healed' ELSE 'failed' END, 'monitor',
       jsonb_build_object('strategy', 'regenerate', 'newVersionId', l.tool_id, 'attempts', '[]'::jsonb,
         'strategyChoice', jsonb_build_object('contextKey', 'runtime_errors:' || (l.minor % 4))),
       l.created_at - interval '1 minute', l.created_at
     FROM tool_lineage l JOIN lineage_relationships r ON r.child_id = l.tool_id AND r.relationship_type = 'regenerated'`,
  );
  // A few heals still running, on older versions.
  await q(
    `INSERT INTO heal_runs (id, workflow_id, tool_id, status, trigger, started_at)
     SELECT 'running-' || t, 'heal:t' || t || '@1.9.0', 't' || t || '@1.9.0', 'running', 'monitor', now() - t * interval '1 day'
     FROM generate_series(40, 44) t`,
  );
  await q(
    `INSERT INTO avoidance_rules (rule_id, description, pattern_to_avoid, reason, source_failure, propagation_scope)
     SELECT 'rule-' || t, 'no eval', 'eval(', 'unsafe', 't' || t || '@1.0.0', 'descendants' FROM generate_series(1, 1000) t`,
  );
  await q(
    `INSERT INTO rule_inheritance (tool_id, rule_id, via)
     SELECT 't' || t || '@1.' || v || '.0', 'rule-' || t, CASE WHEN v = 0 THEN 'source' ELSE 'ancestor' END
     FROM generate_series(1, 1000) t, generate_series(0, $1::int - 1) v`,
    [VERSIONS_PER_TOOL],
  );
  await q(
    `INSERT INTO canaries (candidate_id, tool_name, stable_id, target_health, origin, workflow_id, mirror_fraction, status)
     SELECT 't' || t || '@1.9.0', 't' || t, 't' || t || '@1.8.0', 'healthy', 'registration', 'canary:t' || t, 0.1,
       CASE WHEN t % 10 = 0 THEN 'running' ELSE 'promoted' END
     FROM generate_series(1, 2000) t`,
  );
  // Calls over the last three days, each day in its partition; the routed versions take most.
  for (let d = 0; d < 3; d++) {
    await q(`SELECT dise_ensure_execution_partition($1::date)`, [
      new Date(Date.now() - d * DAY).toISOString().slice(0, 10),
    ]);
  }
  await q(
    `INSERT INTO executions (tool_id, ok, error_type, duration_ms, input_hash, created_at)
     SELECT 't' || (g % $2 + 1) || '@1.' || CASE WHEN g % 5 = 0 THEN g % $3 ELSE $3 - 1 END || '.0',
       g % 13 <> 0, CASE WHEN g % 13 = 0 THEN 'TypeError' END, g % 50, md5(g::text),
       now() - (g::float / $1) * interval '2 days 12 hours'
     FROM generate_series(1, $1::int) g`,
    [EXECUTIONS, TOOLS, VERSIONS_PER_TOOL],
  );
  await q(`VACUUM ANALYZE`);
  const sizes = await q(
    `SELECT c.relname AS name, c.reltuples::bigint AS rows FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind = 'r'`,
  );
  rowsOf = new Map(sizes.map((r) => [r.name as string, Number(r.rows)]));
  const [counts] = await q(
    `SELECT (SELECT count(*) FROM tool_lineage)::int AS versions, (SELECT count(*) FROM executions)::int AS executions,
       (SELECT count(*) FROM failures)::int AS failures, (SELECT count(*) FROM test_cases)::int AS tests,
       (SELECT count(*) FROM heal_runs)::int AS heals, (SELECT count(*) FROM lineage_relationships)::int AS edges`,
  );
  console.log(`[plan] seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(counts)}`);
}

beforeAll(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 4 });
  // Record at the connection: Prisma's pool queries and its transactions both pass through client.query.
  pool.on('connect', (client) => {
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      const [first, second] = args;
      if (recording) {
        if (typeof first === 'string') recording.push({ text: first, values: Array.isArray(second) ? second : [] });
        else if (first && typeof first === 'object' && 'text' in first) {
          const c = first as { text: string; values?: unknown[] };
          recording.push({ text: c.text, values: c.values ?? [] });
        }
      }
      return original(...args);
    };
  });
  prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  store = new LineageStore(prisma);
  explainPool = new pg.Pool({ connectionString: db.url, max: 1 });
  await seed();
}, 600_000);

afterAll(async () => {
  await prisma?.$disconnect();
  await pool?.end();
  await explainPool?.end();
  await db?.drop();
});

describe(`query plans at ${VERSIONS.toLocaleString('en')} versions`, () => {
  const config = defaultConfig();
  const thresholds = config.self_healing.thresholds;
  const window = thresholds.execution_window;
  const tool = 't42';
  const version = 't42@1.9.0';

  it('the health monitor reads no large table whole', { timeout: 300_000 }, async () => {
    const found = [
      ...(await seqScansOf('monitor: routed versions', () => store.routing.routeCount(), ['routes'])),
      ...(await seqScansOf(
        'monitor: error rate and fitness over the window',
        () =>
          // Every routed version is a candidate, and the fitness trend is read for each of them.
          detectRuntimeFailures(store.executions, thresholds, { onlyRouted: true }),
        ['routes', 'fitness_history'],
      )),
      ...(await seqScansOf(
        'monitor: routed at failure_count',
        () => store.routing.routedAtFailureCount(thresholds.failure_count_trigger),
        // The few versions at the trigger come from idx_lineage_failure_count; the routes (one a tool) are hashed.
        ['routes'],
      )),
      ...(await seqScansOf(
        'monitor: minted tests of routed versions',
        // The ancestry of every routed version is walked.
        () => store.tests.mintedForRouted(),
        ['routes', 'tool_lineage', 'lineage_relationships'],
      )),
      ...(await seqScansOf('monitor: reported versions still routable', () =>
        store.routing.routableAmong([version, 't17@1.3.0']),
      )),
    ];
    expect(found).toEqual([]);
  });

  it('the heals page lists the running heals first, then the latest of the rest', { timeout: 60_000 }, async () => {
    const heals = await store.activity.healRuns(200);
    expect(heals).toHaveLength(200);
    expect(heals.slice(0, 5).map((h) => h.id)).toEqual([
      'running-40',
      'running-41',
      'running-42',
      'running-43',
      'running-44',
    ]);
    const rest = heals.slice(5);
    expect(rest.every((h) => h.status !== 'running')).toBe(true);
    expect(rest.map((h) => h.startedAt)).toEqual(
      rest
        .map((h) => h.startedAt)
        .sort()
        .reverse(),
    );
    const [newest] = await db.query<{ started_at: Date }>(
      `SELECT max(started_at) AS started_at FROM heal_runs WHERE status <> 'running'`,
    );
    expect(rest[0]!.startedAt).toBe(newest!.started_at.toISOString());
    const ofTool = await store.activity.healRuns(50, tool);
    expect(ofTool.map((h) => h.id)[0]).toBe('running-42');
    expect(ofTool.every((h) => h.toolName === tool)).toBe(true);
  });

  it('the dashboard reads no large table whole', { timeout: 300_000 }, async () => {
    const tools = await store.listTools();
    expect(tools.length).toBe(TOOLS);
    const routed = tools.flatMap((t) => (t.routedVersion ? [t.routedVersion] : []));
    const lineage = await store.getLineage(version);
    const rules = await store.rules.list();
    const found = [
      ...(await seqScansOf('tools page: tools', () => store.listTools(), ['tool_lineage', 'routes'])),
      ...(await seqScansOf('tools page: error rates', () => store.activity.errorRates(routed, window))),
      ...(await seqScansOf('tools page: descriptions', () => store.activity.descriptions(routed))),
      ...(await seqScansOf('lineage page: route', () => store.routing.routeOf(tool))),
      ...(await seqScansOf('lineage page: newest routable', () => store.routing.newestRoutable(tool))),
      ...(await seqScansOf('lineage page: picture', () => store.views.picture(version))),
      ...(await seqScansOf('version page: lineage', () => store.getLineage(version))),
      ...(await seqScansOf('version page: parent code', () => store.graph.codes(['t42@1.8.0']))),
      ...(await seqScansOf('version page: inherited rules', () =>
        store.rules.byIds(['rule-42', ...lineage.inheritedRules]),
      )),
      ...(await seqScansOf('version page: tests', () => store.activity.testsIntroducedBy(version))),
      ...(await seqScansOf('version page: calls', () => store.activity.executionSeries(version))),
      ...(await seqScansOf('version page: fitness', () => store.activity.fitnessSeries(version))),
      ...(await seqScansOf('version page: heals', () => store.activity.healRuns(50, tool))),
      ...(await seqScansOf('health page: counts', () => store.views.healthCounts(), ['tool_lineage'])),
      ...(await seqScansOf('health page: recent failures', () => store.views.recentFailures(10))),
      ...(await seqScansOf('health page: heal stats', () => store.healRuns.stats(), ['heal_runs'])),
      ...(await seqScansOf('health page: strategy records', () =>
        store.healRuns.strategyRecords(config.self_healing.regeneration.survival_calls),
      )),
      ...(await seqScansOf('heals page', () => store.activity.healRuns(200))),
      ...(await seqScansOf('heals page: one tool', () => store.activity.healRuns(200, tool))),
      ...(await seqScansOf('rules page', () => store.rules.list())),
      ...(await seqScansOf('rules page: holders', () => store.activity.ruleHolders(rules.map((r) => r.ruleId)))),
    ];
    expect(found).toEqual([]);
  });
});
