/**
 * npm run bench:storm — a heal storm: N tools (BENCH_TOOLS, default 1,000), each the slug story
 * (healthy ancestor, a culprit, a later feature), all reported at once through the runtime's real path
 * (ToolRuntime call, report() → signalWithStart to the health monitor → checkHealth → one child heal per
 * version), healed by the offline strategy. Run twice in the same process: with one worker process,
 * then with two on the same task queue. Prints the storm's duration, heals per second, heal latency
 * (report → healed route), duplicate and lost heals, the share that kept the later feature, the
 * workers' peak RSS and longest event-loop block, database growth and rows written per heal, and where
 * the CPU went (workers, PostgreSQL, the Temporal dev server) with the activities' own time.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import type pg from 'pg';
import { createPrismaClient } from '../src/infra/database.js';
import { installTemporalRuntime } from '../src/infra/temporal-runtime.js';
import { LineageStore } from '../src/lineage/store.js';
import { LONG_TITLE, SLUG_WRONG, slugStory } from '../src/demo/slug-lineage.js';
import { TemporalMonitorSignaler } from '../src/runtime/monitor-signaler.js';
import { ToolRuntime } from '../src/runtime/tool-runtime.js';
import { healWorkflowId } from '../src/shared/constants.js';
import { bundleWorkflowsOnce } from '../test/support/workflow-bundle.js';
import { benchDatabase, benchTemporal, percentile, printFigures, progress } from './support.js';

const TOOLS = Number(process.env.BENCH_TOOLS ?? 1000);
const WORKER_COUNTS = (process.env.BENCH_WORKERS ?? '1,2').split(',').map(Number);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 15 * 60_000);
/** Clock ticks per second in /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICKS = 100;

interface WorkerStats {
  peakRss: number;
  loopMaxMs: number;
  loopP99Ms: number;
  activities: Record<string, { count: number; ms: number }>;
}

/** CPU seconds (user + system) of a process, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / TICKS;
  } catch {
    return 0;
  }
}

/** This process's descendants with their command names (the embedded PostgreSQL, Temporal, workers). */
function descendants(): { pid: number; comm: string }[] {
  const parent = new Map<number, number>();
  const comm = new Map<number, string>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      comm.set(Number(entry), stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')));
      parent.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // Ended while listing.
    }
  }
  const mine = new Set([process.pid]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent)
      if (!mine.has(pid) && mine.has(ppid)) {
        mine.add(pid);
        grew = true;
      }
  }
  mine.delete(process.pid);
  return [...mine].map((pid) => ({ pid, comm: comm.get(pid) ?? '?' }));
}

/** CPU seconds so far of PostgreSQL's processes and of the Temporal dev server. */
function serverCpu(): { postgres: number; temporal: number } {
  let postgres = 0;
  let temporal = 0;
  for (const p of descendants()) {
    if (p.comm.startsWith('postgres')) postgres += cpuSeconds(p.pid);
    else if (p.comm.startsWith('temporal')) temporal += cpuSeconds(p.pid);
  }
  return { postgres, temporal };
}

async function tableRows(pool: pg.Pool): Promise<Record<string, number>> {
  const tables = await pool.query<{ relname: string }>(
    // Plain tables only: a partitioned table's count is its partitions' rows again.
    `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname`,
  );
  const counts: Record<string, number> = {};
  for (const { relname } of tables.rows) {
    const r = await pool.query<{ n: string }>(`SELECT count(*) AS n FROM "${relname}"`);
    counts[relname] = Number(r.rows[0]!.n);
  }
  return counts;
}

async function dbSize(pool: pg.Pool): Promise<number> {
  const r = await pool.query<{ size: string }>(`SELECT pg_database_size(current_database()) AS size`);
  return Number(r.rows[0]!.size);
}

function startWorkerChild(env: Record<string, string>): Promise<{ child: ChildProcess; stats: Promise<WorkerStats> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/storm-worker.ts'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let onReady: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const stats = new Promise<WorkerStats>((resolve, reject) => {
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('READY\n')) onReady();
      const m = /STATS (.*)\n/.exec(out);
      if (m) resolve(JSON.parse(m[1]!) as WorkerStats);
    });
    child.on('exit', (code) => reject(new Error(`worker exited (${code}) without its figures`)));
  });
  stats.catch(() => undefined);
  return Promise.race([
    ready.then(() => ({ child, stats })),
    new Promise<never>((_, reject) => child.on('exit', (code) => reject(new Error(`worker exited (${code})`)))),
  ]);
}

interface StormResult {
  workers: number;
  seconds: number;
  healsPerSecond: number;
  p50: number;
  p95: number;
  p99: number;
  healed: number;
  duplicates: number;
  lost: number;
  keptFeature: number;
  peakRssMb: number[];
  loopMaxMs: number[];
  loopP99Ms: number[];
  dbGrowthMb: number;
  rowsPerHeal: number;
  rowsByTable: Record<string, number>;
  cpu: { workers: number; postgres: number; temporal: number; bench: number };
  activityMs: Record<string, number>;
  load: string;
}

async function storm(
  workers: number,
  ctx: { url: string; pool: pg.Pool; address: string; bundle: string; client: Client },
): Promise<StormResult> {
  const prefix = `storm${workers}w`;
  const prisma = createPrismaClient(ctx.url);
  const store = new LineageStore(prisma);
  const taskQueue = `bench-storm-${workers}-${Date.now()}`;
  const monitorId = `dise-health-monitor-${taskQueue}`;
  progress(`[${workers} worker(s)] registering ${TOOLS} slug stories…`);
  const names = Array.from({ length: TOOLS }, (_, i) => `${prefix}_${i}`);
  for (let i = 0; i < names.length; i += 25) {
    const batch = names.slice(i, i + 25);
    await store.registerMany(batch.flatMap((n) => slugStory(n)));
    await Promise.all(batch.map((n) => store.setRoute(`${n}@1.3.0`, 'newest')));
  }

  const children = await Promise.all(
    Array.from({ length: workers }, () =>
      startWorkerChild({
        DATABASE_URL: ctx.url,
        TEMPORAL_ADDRESS: ctx.address,
        TASK_QUEUE: taskQueue,
        WORKFLOW_BUNDLE: ctx.bundle,
        ...(process.env.BENCH_MAX_ACTIVITIES ? { MAX_ACTIVITIES: process.env.BENCH_MAX_ACTIVITIES } : {}),
        ...(process.env.BENCH_MAX_WORKFLOW_TASKS ? { MAX_WORKFLOW_TASKS: process.env.BENCH_MAX_WORKFLOW_TASKS } : {}),
      }),
    ),
  );
  const runtime = await ToolRuntime.create({
    databaseUrl: ctx.url,
    signaler: new TemporalMonitorSignaler(ctx.client, { workflowId: monitorId, taskQueue }),
  });
  // Each bad version answers wrong once through the runtime (its route is warm), then is reported.
  for (let i = 0; i < names.length; i += 100)
    await Promise.all(names.slice(i, i + 100).map((n) => runtime.call(n, SLUG_WRONG[0]!.input)));

  const rowsBefore = await tableRows(ctx.pool);
  const sizeBefore = await dbSize(ctx.pool);
  const cpuBefore = serverCpu();
  const workerCpuBefore = children.map((c) => cpuSeconds(c.child.pid!));
  const benchCpuBefore = process.cpuUsage();
  const load = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

  progress(`[${workers} worker(s)] reporting ${TOOLS} bad versions at once…`);
  const reportedAt = new Map<string, number>();
  const started = Date.now();
  await Promise.all(
    names.map(async (n) => {
      const answer = await runtime.call(n, SLUG_WRONG[0]!.input);
      reportedAt.set(`${n}@1.3.0`, Date.now());
      await runtime.report(`${n}@1.3.0`, { input: SLUG_WRONG[0]!.input, observed: answer, severity: 'critical' });
    }),
  );
  progress(`[${workers} worker(s)] reported in ${Date.now() - started} ms; waiting for every heal to end…`);
  let ended = 0;
  let lastShown = 0;
  for (;;) {
    const r = await ctx.pool.query<{ n: string }>(
      `SELECT count(DISTINCT tool_id) AS n FROM heal_runs WHERE tool_id LIKE $1 AND status <> 'running'`,
      [`${prefix}\\_%`],
    );
    ended = Number(r.rows[0]!.n);
    if (ended >= TOOLS || Date.now() - started > TIMEOUT_MS) break;
    if (Date.now() - lastShown > 10_000) {
      progress(`  ${ended}/${TOOLS} heals ended after ${((Date.now() - started) / 1000).toFixed(0)} s`);
      lastShown = Date.now();
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  // The run is written at promotion; the workflow closes a step later. The storm ends when Temporal
  // has no heal of this storm running.
  const running = `TaskQueue = '${taskQueue}' AND WorkflowType = 'selfHealWorkflow' AND ExecutionStatus = 'Running'`;
  while ((await ctx.client.workflow.count(running)).count > 0 && Date.now() - started < TIMEOUT_MS)
    await new Promise((r) => setTimeout(r, 200));
  const endedAt = Date.now();
  const cpuAfter = serverCpu();
  const workerCpuAfter = children.map((c) => cpuSeconds(c.child.pid!));
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const seconds = (endedAt - started) / 1000;

  // Latency from each report to its healed route (the promotion sets the route and ends the run).
  const runs = await ctx.pool.query<{ tool_id: string; status: string; finished_ms: string | null; result: unknown }>(
    `SELECT tool_id, status, (extract(epoch FROM finished_at) * 1000)::bigint AS finished_ms, result
       FROM heal_runs WHERE tool_id LIKE $1`,
    [`${prefix}\\_%`],
  );
  const perTool = new Map<string, number>();
  for (const r of runs.rows) perTool.set(r.tool_id, (perTool.get(r.tool_id) ?? 0) + 1);
  const latencies: number[] = [];
  let healed = 0;
  for (const r of runs.rows)
    if (r.status === 'healed' && r.finished_ms) {
      healed++;
      latencies.push(Number(r.finished_ms) - reportedAt.get(r.tool_id)!);
    }
  // Temporal's side: every heal workflow of this storm, by id; one execution each, none still running.
  const executions = new Map<string, { count: number; running: number }>();
  for await (const wf of ctx.client.workflow.list({
    query: `TaskQueue = '${taskQueue}' AND WorkflowType = 'selfHealWorkflow'`,
  })) {
    const e = executions.get(wf.workflowId) ?? { count: 0, running: 0 };
    e.count++;
    if (wf.status.name === 'RUNNING') e.running++;
    executions.set(wf.workflowId, e);
  }
  let duplicates = 0;
  let lost = 0;
  for (const n of names) {
    const versionId = `${n}@1.3.0`;
    const e = executions.get(healWorkflowId(versionId));
    const runsOf = perTool.get(versionId) ?? 0;
    duplicates += Math.max(0, runsOf - 1) + Math.max(0, (e?.count ?? 0) - 1);
    if (!e || e.running > 0 || runsOf === 0) lost++;
  }

  const sizeAfter = await dbSize(ctx.pool);
  const rowsAfter = await tableRows(ctx.pool);

  // The feature survives: the healed route keeps digits and still caps long titles at 40 characters.
  let keptFeature = 0;
  for (let i = 0; i < names.length; i += 100)
    await Promise.all(
      names.slice(i, i + 100).map(async (n) => {
        const route = await ctx.pool.query<{ version_id: string }>(
          `SELECT version_id FROM routes WHERE tool_name = $1`,
          [n],
        );
        const versionId = route.rows[0]?.version_id;
        if (!versionId || versionId === `${n}@1.3.0`) return;
        const [digits, capped] = await Promise.all([
          runtime.call(versionId, SLUG_WRONG[0]!.input),
          runtime.call(versionId, LONG_TITLE),
        ]);
        if (digits === SLUG_WRONG[0]!.expected && capped === 'a-very-long-title-that-goes-on-and-on-ab') keptFeature++;
      }),
    );

  const rowsByTable: Record<string, number> = {};
  let rows = 0;
  for (const [t, n] of Object.entries(rowsAfter)) {
    const d = n - (rowsBefore[t] ?? 0);
    if (d !== 0) rowsByTable[t] = d;
    rows += d;
  }
  await runtime.close();
  for (const c of children) c.child.kill('SIGTERM');
  const stats = await Promise.all(children.map((c) => c.stats));
  const activityMs: Record<string, number> = {};
  for (const s of stats)
    for (const [name, a] of Object.entries(s.activities)) activityMs[name] = (activityMs[name] ?? 0) + a.ms;
  await prisma.$disconnect();
  return {
    workers,
    seconds,
    healsPerSecond: healed / seconds,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    healed,
    duplicates,
    lost,
    keptFeature,
    peakRssMb: stats.map((s) => s.peakRss / 2 ** 20),
    loopMaxMs: stats.map((s) => s.loopMaxMs),
    loopP99Ms: stats.map((s) => s.loopP99Ms),
    dbGrowthMb: (sizeAfter - sizeBefore) / 2 ** 20,
    rowsPerHeal: rows / TOOLS,
    rowsByTable,
    cpu: {
      workers: workerCpuAfter.reduce((a, b, i) => a + b - workerCpuBefore[i]!, 0),
      postgres: cpuAfter.postgres - cpuBefore.postgres,
      temporal: cpuAfter.temporal - cpuBefore.temporal,
      bench: (benchCpu.user + benchCpu.system) / 1e6,
    },
    activityMs,
    load,
  };
}

async function main(): Promise<void> {
  installTemporalRuntime('ERROR');
  const db = await benchDatabase('dise_bench_storm');
  const temporalServer = await benchTemporal('bench-temporal-storm');
  const connection = await Connection.connect({ address: temporalServer.address });
  const client = new Client({ connection });
  progress('bundling the workflows once for the workers…');
  const bundle = await bundleWorkflowsOnce();
  const results: StormResult[] = [];
  try {
    for (const workers of WORKER_COUNTS)
      results.push(
        await storm(workers, { url: db.url, pool: db.pool, address: temporalServer.address, bundle, client }),
      );
  } finally {
    await connection.close();
    await temporalServer.stop();
    await db.close();
  }

  const mb = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(' + ') + ' MB';
  const ms = (x: number) => `${(x / 1000).toFixed(1)} s`;
  const rows: [string, string, string][] = [];
  for (const r of results) {
    const w = `${r.workers} worker${r.workers > 1 ? 's' : ''}:`;
    const activities = Object.entries(r.activityMs)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([name, t]) => `${name} ${(t / 1000).toFixed(0)} s`)
      .join(', ');
    rows.push(
      [`${w} every heal ended`, ms(r.seconds * 1000), `target < 120 s (load ${r.load})`],
      [`${w} heals per second`, r.healsPerSecond.toFixed(1), `${r.healed}/${TOOLS} healed`],
      [`${w} latency p50 / p95 / p99`, `${ms(r.p50)} / ${ms(r.p95)} / ${ms(r.p99)}`, 'report → healed route'],
      [`${w} duplicate / lost heals`, `${r.duplicates} / ${r.lost}`, 'heal_runs and Temporal; must be 0 / 0'],
      [
        `${w} healed with the feature kept`,
        `${((100 * r.keptFeature) / TOOLS).toFixed(1)}%`,
        'digits back, cap at 40 kept',
      ],
      [`${w} worker peak RSS`, mb(r.peakRssMb), 'per worker process'],
      [
        `${w} longest event-loop block`,
        r.loopMaxMs.map((x) => x.toFixed(0)).join(' / ') + ' ms',
        `p99 ${r.loopP99Ms.map((x) => x.toFixed(0)).join(' / ')} ms (per worker)`,
      ],
      [`${w} database growth`, `${r.dbGrowthMb.toFixed(1)} MB`, `${r.rowsPerHeal.toFixed(1)} rows written per heal`],
      [
        `${w} CPU workers / postgres / temporal`,
        `${r.cpu.workers.toFixed(0)} / ${r.cpu.postgres.toFixed(0)} / ${r.cpu.temporal.toFixed(0)} s`,
        `bench process ${r.cpu.bench.toFixed(0)} s; activities: ${activities}`,
      ],
    );
  }
  if (results.length === 2)
    rows.push([
      'ratio 2 workers / 1 worker (storm time)',
      `${(results[1]!.seconds / results[0]!.seconds).toFixed(2)}x`,
      '< 1: the second process helps',
    ]);
  printFigures(`bench:storm (${TOOLS} heals at once, offline strategy, ${os.cpus().length} cores)`, rows, {
    bench: 'storm',
    tools: TOOLS,
    results,
  });
}

main().then(
  // Once the figures are printed the run is over: some handle (not yet found) stays open after every
  // server, connection and child has been stopped, and would keep the process alive.
  () => process.exit(process.exitCode ?? 0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
