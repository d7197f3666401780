/**
 * npm run bench:ui — the dashboard's lineage page in the real browser (Debian's chromium).
 *
 * Builds two tools of 1,000 and 10,000 versions shaped like evolved lineages (mostly chains: each
 * version's parent is the previous one 90% of the time, else a fork from one of the last 50; 2% are
 * merges; every 25th version pruned and healed by a regenerated version), then opens each lineage
 * page and measures the time to first render: from navigation start to the SVG drawn (server
 * query + dagre layout + JSON transfer + client drawing), median of 3 runs after one warm-up, and the
 * size of the JSON the page fetches. The layout is computed once per shape of the lineage (new
 * versions or edges) and reused while only healths and routes change; the time of a fresh layout
 * (query + dagre + JSON, server side) is printed too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type pg from 'pg';
import { chromium } from 'playwright-core';
import { defaultConfig } from '../src/config/schema.js';
import { createPrismaClient } from '../src/infra/database.js';
import { LineageStore } from '../src/lineage/store.js';
import { generateToken, startDashboard } from '../src/ui/server.js';
import { benchDatabase, fmtMs, printFigures, progress, rng } from './support.js';

const SIZES = [1_000, 10_000];
/** Versions before heals such that, with one healed version per 25, the tool has exactly `n`. */
function baseCount(n: number): number {
  let m = n;
  while (m + Math.floor((m - 1) / 25) > n) m--;
  return m;
}
const CODE = 'function run(input) { return input; }';

interface Node {
  id: string;
  major: number;
  generation: number;
  parents: string[];
  health: string;
}

function lineage(name: string, count: number, random: () => number): { nodes: Node[]; healed: [string, string][] } {
  const nodes: Node[] = [];
  const healed: [string, string][] = [];
  for (let i = 0; i < count; i++) {
    const parents: string[] = [];
    if (i > 0) {
      const p = random() < 0.9 ? i - 1 : Math.max(0, i - 1 - Math.floor(random() * 50));
      parents.push(nodes[p]!.id);
      if (i > 10 && random() < 0.02) {
        const q = Math.max(0, i - 2 - Math.floor(random() * 50));
        if (nodes[q]!.id !== parents[0]) parents.push(nodes[q]!.id);
      }
    }
    const generation = parents.length
      ? Math.max(...parents.map((id) => nodes[Number(id.split('@')[1]!.split('.')[0])]!.generation)) + 1
      : 0;
    nodes.push({ id: `${name}@${i}.0.0`, major: i, generation, parents, health: 'healthy' });
    if (i > 0 && i % 25 === 0) {
      nodes[i]!.health = 'pruned';
      healed.push([nodes[i]!.id, `${name}@${i}.0.1`]);
    }
  }
  return { nodes, healed };
}

async function insert(pool: pg.Pool, name: string, nodes: Node[], healed: [string, string][]): Promise<void> {
  const rows = [
    ...nodes.map((n) => ({ id: n.id, major: n.major, patch: 0, gen: n.generation, health: n.health })),
    ...healed.map(([from, to]) => {
      const n = nodes[Number(from.split('@')[1]!.split('.')[0])]!;
      return { id: to, major: n.major, patch: 1, gen: n.generation, health: 'regenerated' };
    }),
  ];
  const CHUNK = 5_000;
  for (let i = 0; i < rows.length; i += CHUNK) {
    const part = rows.slice(i, i + CHUNK);
    await pool.query(
      `INSERT INTO tool_lineage (tool_id, tool_name, version, full_name, major, minor, patch, generation, code, code_hash, health_status)
       SELECT id, $1::text, major || '.0.' || patch, $1::text || '_v' || major || '.0.' || patch, major, 0, patch, gen, $2::text, md5($2::text), health
       FROM unnest($3::varchar[], $4::int[], $5::int[], $6::int[], $7::varchar[]) AS t(id, major, patch, gen, health)`,
      [
        name,
        CODE,
        part.map((r) => r.id),
        part.map((r) => r.major),
        part.map((r) => r.patch),
        part.map((r) => r.gen),
        part.map((r) => r.health),
      ],
    );
  }
  const edges = [
    ...nodes.flatMap((n) => n.parents.map((p) => [n.id, p, n.parents.length > 1 ? 'merge' : 'direct'])),
    ...healed.map(([from, to]) => [to, from, 'regenerated']),
    ...healed.map(([from, to]) => [to, nodes[Number(from.split('@')[1]!.split('.')[0])]!.parents[0]!, 'direct']),
  ];
  await pool.query(
    `INSERT INTO lineage_relationships (child_id, parent_id, relationship_type) SELECT * FROM unnest($1::varchar[], $2::varchar[], $3::varchar[])`,
    [edges.map((e) => e[0]), edges.map((e) => e[1]), edges.map((e) => e[2])],
  );
  await pool.query(`INSERT INTO routes (tool_name, version_id, reason) VALUES ($1, $2, 'bench')`, [
    name,
    nodes.at(-1)!.id,
  ]);
}

async function main(): Promise<void> {
  const db = await benchDatabase('dise_bench_ui');
  const prisma = createPrismaClient(db.url, { poolSize: 4 });
  const store = new LineageStore(prisma);
  const random = rng(7);
  for (const n of SIZES) {
    progress(`building a lineage of ${n.toLocaleString()} versions…`);
    const { nodes, healed } = lineage(`lineage_${n}`, baseCount(n), random);
    await insert(db.pool, `lineage_${n}`, nodes, healed);
  }
  const dashboard = await startDashboard({
    store,
    databaseUrl: db.url,
    temporal: null,
    temporalUiUrl: null,
    taskQueue: 'bench',
    config: defaultConfig(),
    token: generateToken(),
    host: '127.0.0.1',
    port: 0,
  });
  const profile = mkdtempSync(path.join(os.tmpdir(), 'dise-bench-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.DISE_CHROMIUM ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  });
  const rows: [string, string, string][] = [];
  const figures: Record<string, unknown> = {};
  try {
    for (const n of SIZES) {
      const tool = `lineage_${n}`;
      // Cold: the first request lays the lineage out; later ones reuse the layout until its shape changes.
      const coldStart = performance.now();
      const res = await fetch(`${dashboard.url}/api/tools/${tool}/lineage`);
      const body = await res.text();
      const coldMs = performance.now() - coldStart;
      const timing = res.headers.get('server-timing') ?? '';
      const versions = (JSON.parse(body) as { nodes: unknown[]; laidOut: number }).nodes.length;
      const laidOut = (JSON.parse(body) as { laidOut: number }).laidOut;
      const runs: number[] = [];
      for (let i = 0; i < 4; i++) {
        const page = await context.newPage();
        await page.goto(`${dashboard.url}/tools/${tool}`);
        await page.waitForSelector(`#lineage[data-rendered="${versions}"]`, { timeout: 300_000 });
        const ms = Number(
          await page.evaluate(
            () =>
              (globalThis as unknown as { document: { documentElement: { dataset: Record<string, string> } } }).document
                .documentElement.dataset.lineageRendered,
          ),
        );
        if (i > 0) runs.push(ms);
        await page.close();
      }
      runs.sort((a, b) => a - b);
      const median = runs[1]!;
      rows.push([
        `lineage of ${versions.toLocaleString()} versions: first render`,
        fmtMs(median),
        `JSON ${(Buffer.byteLength(body) / 1024).toFixed(0)} KiB (layout reused)`,
      ]);
      rows.push([
        `  its JSON with a fresh layout (server only)`,
        fmtMs(coldMs),
        `${laidOut} boxes laid out by dagre (${timing.replace(/;desc="[^"]*"/g, '')})`,
      ]);
      figures[`coldLayoutJsonMs_${n}`] = Math.round(coldMs);
      figures[`firstRenderMs_${n}`] = Math.round(median);
      figures[`payloadBytes_${n}`] = Buffer.byteLength(body);
      figures[`versions_${n}`] = versions;
    }
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    await dashboard.close();
    await prisma.$disconnect();
    await db.close();
  }
  printFigures('dashboard lineage page, time to first render in chromium (median of 3 after a warm-up)', rows, figures);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
