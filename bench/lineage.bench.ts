/**
 * npm run bench:lineage — the lineage DAG at scale, on PostgreSQL.
 *
 * Builds 100,000 versions with merges, then measures: registering one more version, the ancestors
 * of a deep leaf, the descendants of a node with 50,000+ descendants, and our one-statement
 * descendants-plus-taint walk against a per-node walk (a get and an update per descendant)
 * on the same 5,000 descendants, side by side in this process.
 */
import type pg from 'pg';
import { createPrismaClient } from '../src/infra/database.js';
import { LineageStore } from '../src/lineage/store.js';
import { benchDatabase, fmtMs, medianOf, printFigures, progress, rng, time } from './support.js';

const TOTAL = Number(process.env.BENCH_VERSIONS ?? 100_000);
const MEDIUM = 5_001; // a root with exactly 5,000 descendants, for the taint comparison
const SMALL_TOOLS = Math.max(1, Math.floor((TOTAL * 0.45 - MEDIUM) / 100)); // tools of 100 versions
const GIANT = TOTAL - MEDIUM - SMALL_TOOLS * 100; // one tool whose root has > 50,000 descendants
const CODE = 'function run(input) { return input; }';

interface Node {
  id: string;
  name: string;
  major: number;
  generation: number;
  parents: string[];
}

/** A lineage of `count` versions: each picks a parent among the last `window`, 5% are merges. */
function lineage(name: string, count: number, random: () => number, window = 200): Node[] {
  const nodes: Node[] = [];
  for (let i = 0; i < count; i++) {
    const parents: string[] = [];
    if (i > 0) {
      const lo = Math.max(0, i - window);
      const first = lo + Math.floor(random() * (i - lo));
      parents.push(nodes[first]!.id);
      if (i > 2 && random() < 0.05) {
        const second = Math.floor(random() * i);
        if (nodes[second]!.id !== parents[0]) parents.push(nodes[second]!.id);
      }
    }
    const generation = parents.length
      ? Math.max(...parents.map((p) => nodes[Number(p.split('@')[1]!.split('.')[0])]!.generation)) + 1
      : 0;
    nodes.push({ id: `${name}@${i}.0.0`, name, major: i, generation, parents });
  }
  return nodes;
}

async function insertNodes(pool: pg.Pool, nodes: Node[]): Promise<void> {
  const CHUNK = 10_000;
  for (let i = 0; i < nodes.length; i += CHUNK) {
    const part = nodes.slice(i, i + CHUNK);
    await pool.query(
      `INSERT INTO tool_lineage (tool_id, tool_name, version, full_name, major, minor, patch, generation, code, code_hash)
       SELECT id, name, major || '.0.0', name || '_v' || major || '.0.0', major, 0, 0, gen, $4, md5($4)
       FROM unnest($1::varchar[], $2::varchar[], $3::int[], $5::int[]) AS t(id, name, major, gen)`,
      [part.map((n) => n.id), part.map((n) => n.name), part.map((n) => n.major), CODE, part.map((n) => n.generation)],
    );
    const edges = part.flatMap((n) => n.parents.map((p) => [n.id, p, n.parents.length > 1 ? 'merge' : 'direct']));
    await pool.query(
      `INSERT INTO lineage_relationships (child_id, parent_id, relationship_type)
       SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[])`,
      [edges.map((e) => e[0]), edges.map((e) => e[1]), edges.map((e) => e[2])],
    );
  }
}

async function main(): Promise<void> {
  const db = await benchDatabase('dise_bench_lineage');
  const prisma = createPrismaClient(db.url, { poolSize: 4 });
  const store = new LineageStore(prisma);
  try {
    const random = rng(42);
    progress(
      `building a DAG of ${TOTAL.toLocaleString()} versions (1 tool of ${GIANT.toLocaleString()}, 1 of ${MEDIUM.toLocaleString()}, ${SMALL_TOOLS} of 100)…`,
    );
    const built = await time(async () => {
      const giant = lineage('giant', GIANT, random);
      await insertNodes(db.pool, giant);
      await insertNodes(db.pool, lineage('medium', MEDIUM, random));
      for (let t = 0; t < SMALL_TOOLS; t++) await insertNodes(db.pool, lineage(`tool_${t}`, 100, random, 10));
      await db.pool.query('ANALYZE');
      return giant;
    });
    const giant = built.value;
    const [{ n: total }] = (await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM tool_lineage')).rows as [
      { n: number },
    ];
    const [{ n: merges }] = (
      await db.pool.query<{ n: number }>(
        `SELECT count(DISTINCT child_id)::int AS n FROM lineage_relationships WHERE relationship_type = 'merge'`,
      )
    ).rows as [{ n: number }];
    const deepLeaf = giant.reduce((a, b) => (b.generation > a.generation ? b : a));
    progress(
      `built ${total.toLocaleString()} versions (${merges.toLocaleString()} merges) in ${fmtMs(built.ms)}; deepest leaf ${deepLeaf.id} at generation ${deepLeaf.generation}`,
    );

    let next = GIANT;
    const register = await medianOf(20, async () => {
      const id = next++;
      await store.registerVersion({
        name: 'giant',
        version: `${id}.0.0`,
        parents: [deepLeaf.id, giant[Math.floor(GIANT / 2)]!.id],
        code: CODE,
        mutation: { type: 'refactor', description: 'bench' },
      });
    });

    const ancestorsCount = (await store.ancestors(deepLeaf.id)).length;
    const ancestors = await medianOf(10, () => store.ancestors(deepLeaf.id));

    const giantRoot = giant[0]!.id;
    const descendantsCount = (await store.descendants(giantRoot)).length;
    const descendants = await medianOf(5, () => store.descendants(giantRoot));

    // Side by side on the same 5,000 descendants: reset health before each run.
    const mediumRoot = 'medium@0.0.0';
    const reset = () => db.pool.query(`UPDATE tool_lineage SET health_status = 'healthy' WHERE tool_name = 'medium'`);
    const taintTargets = await store.descendants(mediumRoot);
    await reset();
    const perNode = await time(async () => {
      // A per-node prune_branch: for each descendant, get its lineage and update its health.
      const ids = (await store.descendants(mediumRoot)).map((d) => d.id);
      for (const id of ids) {
        const row = await prisma.toolLineage.findUnique({ where: { toolId: id } });
        if (row?.healthStatus === 'healthy') {
          await prisma.toolLineage.update({ where: { toolId: id }, data: { healthStatus: 'degraded' } });
        }
      }
      return ids.length;
    });
    const oursRuns: number[] = [];
    let tainted = 0;
    for (let i = 0; i < 5; i++) {
      await reset();
      const r = await time(() => store.taintDescendants(mediumRoot));
      tainted = r.value.length;
      oursRuns.push(r.ms);
    }
    oursRuns.sort((a, b) => a - b);
    const ours = oursRuns[2]!;
    if (tainted !== taintTargets.length || perNode.value !== taintTargets.length) {
      throw new Error(
        `walks disagree: ours tainted ${tainted}, per-node walked ${perNode.value}, expected ${taintTargets.length}`,
      );
    }

    const rows: [string, string, string][] = [
      ['versions in the DAG', total.toLocaleString(), `${merges.toLocaleString()} merges`],
      ['register one more version (2 parents)', fmtMs(register), 'median of 20'],
      [`ancestors of a deep leaf (${ancestorsCount.toLocaleString()} ancestors)`, fmtMs(ancestors), 'median of 10'],
      [
        `descendants of a node (${descendantsCount.toLocaleString()} descendants)`,
        fmtMs(descendants),
        `median of 5, target < 500 ms`,
      ],
      [
        `per-node taint walk (${perNode.value.toLocaleString()} descendants)`,
        fmtMs(perNode.ms),
        'a get + an update per descendant',
      ],
      [`our one-statement taint (${tainted.toLocaleString()} descendants)`, fmtMs(ours), 'median of 5'],
      ['ratio per-node / ours', `${(perNode.ms / ours).toFixed(1)}x`, 'target >= 50x'],
    ];
    printFigures('bench:lineage', rows, {
      bench: 'lineage',
      versions: total,
      merges,
      registerMs: register,
      ancestorsMs: ancestors,
      ancestors: ancestorsCount,
      descendantsMs: descendants,
      descendants: descendantsCount,
      perNodeTaintMs: perNode.ms,
      oursTaintMs: ours,
      ratio: perNode.ms / ours,
    });
  } finally {
    await prisma.$disconnect();
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
