/**
 * npm run bench:heal — time from a reported failure to the healed route (offline strategy), median of
 * 20 heals through selfHealWorkflow on the embedded stack, and the history length of one heal; side
 * by side with the baseline of the same ten steps called directly in this process (no Temporal), so
 * the ratio is what durability costs. Then 20 revert heals of the slug story: their median, and the
 * share that kept every feature added after the culprit.
 */
import { performance } from 'node:perf_hooks';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import proto from '@temporalio/proto';
import type { Context } from '@temporalio/activity';
import { bundleWorkflowCode, DefaultLogger, type ActivityInterceptorsFactory } from '@temporalio/worker';
import { defaultConfig } from '../src/config/schema.js';
import { createActivities } from '../src/activities/index.js';
import { startHeal } from '../src/client/start-heal.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { createPrismaClient } from '../src/infra/database.js';
import { installTemporalRuntime } from '../src/infra/temporal-runtime.js';
import type { startTemporalDevServer } from '../src/infra/temporal-server.js';
import { stateDir } from '../src/infra/paths.js';
import { LineageStore } from '../src/lineage/store.js';
import { registerSlugStory, SLUG_WRONG } from '../src/demo/slug-lineage.js';
import { ToolRuntime } from '../src/runtime/tool-runtime.js';
import { startWorker } from '../src/worker.js';
import { benchDatabase, benchTemporal, percentile, progress } from './support.js';
import { healInput } from '../test/support/failures.js';

const HEALS = Number(process.env.BENCH_HEALS ?? 20);
/**
 * Another checkout's src/workflows/index.ts (e.g. main's): its heals run interleaved with this
 * checkout's, on a worker of their own with the same activities, so a change of the workflow is
 * measured before and after in the same process and conditions.
 */
const BASELINE_WORKFLOWS = process.env.BENCH_HEAL_BASELINE_WORKFLOWS;
/**
 * A git ref (e.g. main) whose whole stack is the baseline: its Temporal dev server settings (a server
 * of its own, started by its src/infra/temporal-server.ts), its workflows, activities and worker
 * options, and its way of starting a heal (src/client/start-heal.ts), copied from git into
 * .dise/bench-heal-baseline/ and loaded in this process beside this checkout's. For changes outside
 * the workflows (activities, the start, the worker, the embedded server).
 */
const BASELINE_REF = process.env.BENCH_HEAL_BASELINE_REF;
const BASELINE = BASELINE_REF ? `${BASELINE_REF}'s worker and start` : BASELINE_WORKFLOWS;

type WorkerModule = { startWorker: typeof startWorker };
type StartHealModule = { startHeal: typeof startHeal };
type TemporalServerModule = { startTemporalDevServer: typeof startTemporalDevServer };
type ConfigModule = { defaultConfig: typeof defaultConfig };

/** The ref's src/ (with this checkout's generated Prisma client: same schema) under .dise/, importable here. */
async function baselineModules(
  ref: string,
): Promise<{ worker: WorkerModule; start: StartHealModule; temporal: TemporalServerModule; config: ConfigModule }> {
  const dir = path.resolve('.dise', 'bench-heal-baseline');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['-c', `git archive "$0" src prisma package.json | tar -x -C "$1"`, ref, dir]);
  cpSync(path.resolve('src', 'generated'), path.join(dir, 'src', 'generated'), { recursive: true });
  return {
    worker: (await import(path.join(dir, 'src', 'worker.ts'))) as WorkerModule,
    start: (await import(path.join(dir, 'src', 'client', 'start-heal.ts'))) as StartHealModule,
    temporal: (await import(path.join(dir, 'src', 'infra', 'temporal-server.ts'))) as TemporalServerModule,
    // Its own defaults: its worker may read settings this checkout does not have, or the reverse.
    config: (await import(path.join(dir, 'src', 'config', 'schema.ts'))) as ConfigModule,
  };
}
const V1 =
  "function run(input) { return typeof input === 'string' && /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(input); }";
const V2 = "function run(input) { if (typeof input !== 'string') return false; return input.indexOf('@') !== -1; }";

type Activities = ReturnType<typeof createActivities>;

/** Per step of the heals: its times in ms, one per heal, by name (direct calls, or Temporal's history). */
type StepTimes = Map<string, number[]>;

function addTime(times: StepTimes, name: string, ms: number): void {
  times.set(name, [...(times.get(name) ?? []), ms]);
}

/** The activities, each call's time added to `times` under its name. */
function timed(acts: Activities, times: StepTimes): Activities {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(acts) as [string, (...args: unknown[]) => Promise<unknown>][]) {
    out[name] = async (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return await fn(...args);
      } finally {
        addTime(times, name, performance.now() - t0);
      }
    };
  }
  return out as Activities;
}

type HistoryEvent = {
  eventId?: { toString(): string };
  eventTime?: { seconds?: { toString(): string }; nanos?: number };
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
  activityTaskStartedEventAttributes?: { scheduledEventId?: { toString(): string } };
  activityTaskCompletedEventAttributes?: { scheduledEventId?: { toString(): string } };
  workflowTaskScheduledEventAttributes?: unknown;
  workflowTaskStartedEventAttributes?: unknown;
  workflowTaskCompletedEventAttributes?: unknown;
};

/**
 * Where one heal's time went, from its history: per activity, queued (scheduled → started) and run
 * (started → completed); each workflow task, queued and run (local activities run inside one);
 * and the rest (workflow tasks, local activities, the start and the end) as `between steps`. Added to `times` under `<name> queued|ran`.
 */
async function historyTimes(
  handle: { fetchHistory(): Promise<{ events?: unknown[] | null }> },
  times: StepTimes,
): Promise<number> {
  const at = (e: HistoryEvent) =>
    Number(e.eventTime?.seconds?.toString() ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  const events = ((await handle.fetchHistory()).events ?? []) as HistoryEvent[];
  const scheduled = new Map<string, { name: string; at: number; started?: number }>();
  let inSteps = 0;
  let task = 0;
  let taskScheduled = 0;
  let taskStarted = 0;
  for (const e of events) {
    if (e.workflowTaskScheduledEventAttributes) taskScheduled = at(e);
    if (e.workflowTaskStartedEventAttributes) {
      taskStarted = at(e);
      addTime(times, `workflow task ${++task} queued`, taskStarted - taskScheduled);
    }
    if (e.workflowTaskCompletedEventAttributes) addTime(times, `workflow task ${task} ran`, at(e) - taskStarted);
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched) scheduled.set(e.eventId!.toString(), { name: sched.activityType?.name ?? '?', at: at(e) });
    const st = e.activityTaskStartedEventAttributes;
    if (st) Object.assign(scheduled.get(st.scheduledEventId!.toString()) ?? {}, { started: at(e) });
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const s = scheduled.get(done.scheduledEventId!.toString())!;
      const started = s.started ?? s.at;
      addTime(times, `${s.name} queued`, started - s.at);
      addTime(times, `${s.name} ran`, at(e) - started);
      inSteps += at(e) - s.at;
    }
  }
  const total = at(events.at(-1)!) - at(events[0]!);
  addTime(times, 'between steps (workflow tasks)', total - inSteps);
  addTime(times, 'workflow start → close', total);
  return events.length;
}

/** Each step a heal ran in this process, by workflow id: name, local or not, start and end (performance.now()). */
type StepLog = Map<string, { name: string; local: boolean; start: number; end: number }[]>;

/** Logs every step the worker runs (local activities too, whose times the history does not show). */
function stepLogger(log: StepLog): ActivityInterceptorsFactory {
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const start = performance.now();
        try {
          return await next(input);
        } finally {
          const id = ctx.info.workflowExecution?.workflowId ?? '?';
          log.set(id, [
            ...(log.get(id) ?? []),
            { name: ctx.info.activityType, local: ctx.info.isLocal, start, end: performance.now() },
          ]);
        }
      },
    },
  });
}

/**
 * Where one heal's time went, seen from this process: the report, then each step's run (local steps
 * marked) and the time before it since the previous step ended (the first: since the start was sent;
 * the start RPC, the first workflow task), then the time from the last step to the result. Added to `times`.
 */
function stepTimes(
  steps: StepLog,
  workflowId: string,
  at: { reporting: number; starting: number; ended: number },
  times: StepTimes,
): void {
  addTime(times, 'the report (runtime.report)', at.starting - at.reporting);
  let last = at.starting;
  for (const s of steps.get(workflowId) ?? []) {
    const name = `${s.name}${s.local ? ' (local)' : ''}`;
    addTime(times, `${name}: before it`, s.start - last);
    addTime(times, `${name}: ran`, s.end - s.start);
    last = s.end;
  }
  addTime(times, 'last step → result', at.ended - last);
}

/**
 * BENCH_HEAL_SAVE_HISTORY=<folder>: one heal's history of each kind, as Temporal's protobuf encoding
 * (the replay test's test/support/histories/ are made so).
 */
async function saveHistory(
  handle: { fetchHistory(): Promise<Parameters<typeof proto.temporal.api.history.v1.History.encode>[0]> },
  name: string,
): Promise<void> {
  const dir = process.env.BENCH_HEAL_SAVE_HISTORY;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.bin`);
  writeFileSync(file, proto.temporal.api.history.v1.History.encode(await handle.fetchHistory()).finish());
  progress(`saved ${file}`);
}

/** One heal's history, event by event, with the time since the first (BENCH_HEAL_EVENTS=1). */
async function printEvents(handle: { fetchHistory(): Promise<{ events?: unknown[] | null }> }): Promise<void> {
  const events = ((await handle.fetchHistory()).events ?? []) as (HistoryEvent & Record<string, unknown>)[];
  const at = (e: HistoryEvent) =>
    Number(e.eventTime?.seconds?.toString() ?? 0) * 1000 + (e.eventTime?.nanos ?? 0) / 1e6;
  for (const e of events) {
    const kind = Object.keys(e).find((k) => k.endsWith('EventAttributes') && e[k]) ?? '?';
    const detail =
      e.activityTaskScheduledEventAttributes?.activityType?.name ??
      (e.markerRecordedEventAttributes as { markerName?: string } | undefined)?.markerName ??
      '';
    console.log(
      `    +${(at(e) - at(events[0]!)).toFixed(1).padStart(7)} ms  ${kind.replace('EventAttributes', '')} ${detail}`,
    );
  }
}

function printTimes(title: string, times: StepTimes): void {
  console.log(`  ${title}`);
  for (const [name, ms] of times) console.log(`    ${name.padEnd(50)} ${median(ms).toFixed(1).padStart(7)} ms`);
}

/** The heal's steps in order, called directly: the baseline without Temporal. */
async function healDirectly(acts: Activities, versionId: string, failureId: number, healId: string): Promise<string> {
  const recorded = await acts.recordFailure({
    healId,
    workflowId: `direct:${versionId}`,
    versionId,
    trigger: 'report',
    failure: {
      failureType: 'wrong_output',
      description: 'x',
      severity: 'critical',
      detectionMethod: 'report',
      failureId,
    },
  });
  const analysis = await acts.analyzeFailure({ healId, versionId, failureId: recorded.failureId, useLlm: false });
  await acts.pruneBranch({
    healId,
    failedId: versionId,
    failureId: recorded.failureId,
    analysis,
    taintDescendants: true,
  });
  const rule = await acts.createAvoidanceRule({
    healId,
    sourceVersionId: analysis.culpritId!,
    failureId: recorded.failureId,
    analysis,
  });
  await acts.propagateRule({ ruleId: rule.ruleId });
  const ancestor = await acts.findHealthyAncestor({
    healId,
    failedId: versionId,
    culpritId: analysis.culpritId!,
    failureId: recorded.failureId,
  });
  const common = {
    healId,
    attempt: 1,
    ancestorId: ancestor.ancestorId!,
    failedId: versionId,
    culpritId: analysis.culpritId!,
    ruleIds: [rule.ruleId],
  };
  const candidate = await acts.regenerate({
    ...common,
    strategy: 'rollback',
    culpritParentId: analysis.culpritParentId,
    mistake: analysis.reason,
    rejections: [],
  });
  const validation = await acts.validateCandidate({
    ...common,
    code: candidate.code!,
    strategy: 'rollback',
    builtOn: candidate.builtOn!,
    requireTests: true,
  });
  const promoted = await acts.promote({
    ...common,
    code: candidate.code!,
    strategy: 'rollback',
    builtOn: candidate.builtOn!,
    setAside: validation.setAside,
    notes: '',
    progress: {} as never,
  });
  return promoted.newVersionId;
}

async function bundleFile(workflowsPath: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: new DefaultLogger('ERROR') });
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'dise-bench-bundle-')), 'workflows.js');
  writeFileSync(file, code);
  return file;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  installTemporalRuntime('ERROR');
  const db = await benchDatabase('dise_bench_heal');
  const temporalServer = await benchTemporal('bench-temporal');
  const address = temporalServer.address;
  const prisma = createPrismaClient(db.url);
  const store = new LineageStore(prisma);
  const taskQueue = `bench-heal-${Date.now()}`;
  const steps: StepLog = new Map();
  const worker = await startWorker({
    temporal: { address, namespace: 'default', tls: false },
    prisma,
    config: defaultConfig(),
    llm: null,
    taskQueue,
    activityInterceptors: [stepLogger(steps)],
  });
  const baselineQueue = `${taskQueue}-baseline`;
  const baseline = BASELINE_REF ? await baselineModules(BASELINE_REF) : null;
  // A fresh server: a kept one would answer an earlier run's heal ids with their old results.
  const baselineDir = path.join(stateDir(), 'bench-temporal-baseline');
  rmSync(baselineDir, { recursive: true, force: true });
  const baselineServer = baseline
    ? await baseline.temporal.startTemporalDevServer({
        dir: baselineDir,
        ui: false,
      })
    : null;
  const baselineWorker = baseline
    ? await baseline.worker.startWorker({
        temporal: { address: baselineServer!.address, namespace: 'default', tls: false },
        prisma,
        config: baseline.config.defaultConfig(),
        llm: null,
        taskQueue: `${taskQueue}-baseline`,
        activityInterceptors: [stepLogger(steps)],
      })
    : BASELINE_WORKFLOWS
      ? await startWorker({
          temporal: { address, namespace: 'default', tls: false },
          prisma,
          config: defaultConfig(),
          llm: null,
          taskQueue: baselineQueue,
          workflowBundlePath: await bundleFile(BASELINE_WORKFLOWS),
          activityInterceptors: [stepLogger(steps)],
        })
      : null;
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
  const baselineConnection = baselineServer ? await Connection.connect({ address: baselineServer.address }) : null;
  const baselineClient = baselineConnection ? new Client({ connection: baselineConnection }) : client;
  // This checkout's heals start as the monitor's startHeals does: on the worker's own connection,
  // eagerly (the first workflow task comes back with the start's answer).
  const workerClient = new Client({ connection: worker.connection });
  const runtime = await ToolRuntime.create({ databaseUrl: db.url });
  const sandbox = new Sandbox(defaultConfig().sandbox);
  const acts = createActivities({ store, config: defaultConfig(), sandbox, llm: null });
  const register = async (name: string) => {
    await store.registerMany([
      { name, version: '1.0.0', code: V1, tests: [{ name: 'plain', input: 'a@b.co', expect: true }] },
      {
        name,
        version: '2.0.0',
        parents: [`${name}@1.0.0`],
        code: V2,
        mutation: { type: 'optimization', description: 'Optimize for speed' },
      },
    ]);
    await store.setRoute(`${name}@2.0.0`, 'bench');
  };
  try {
    const direct: number[] = [];
    const directTimes: StepTimes = new Map();
    const queues = baselineWorker ? [taskQueue, baselineQueue] : [taskQueue];
    const runs = new Map(
      queues.map((queue) => [
        queue,
        {
          rollback: [] as number[],
          revert: [] as number[],
          rollbackTimes: new Map() as StepTimes,
          revertTimes: new Map() as StepTimes,
          rollbackSteps: new Map() as StepTimes,
          revertSteps: new Map() as StepTimes,
          historyLength: 0,
          keptAll: 0,
          revertHeals: 0,
        },
      ]),
    );
    const heal = async (versionId: string, description: string, failureId: number, queue: string) =>
      (
        await (queue === taskQueue ? startHeal : (baseline?.start.startHeal ?? startHeal))(
          queue === taskQueue ? workerClient : baselineClient,
          healInput(versionId, { failureType: 'wrong_output', description, failureId }),
          { taskQueue: queue, ...(queue === taskQueue && { eager: true }) },
        )
      ).handle;
    progress(
      `healing ${HEALS} tools through selfHealWorkflow${baselineWorker ? ` (and through ${BASELINE})` : ''} and ${HEALS} by direct calls, interleaved…`,
    );
    for (let i = 0; i < HEALS + 1; i++) {
      const baseline = `bench_direct_${i}`;
      await register(baseline);
      const t0 = performance.now();
      const reportedDirect = await runtime.report(`${baseline}@2.0.0`, {
        input: 'user@@domain.com',
        observed: true,
        expected: false,
        severity: 'critical',
      });
      const healedDirect = await healDirectly(
        i > 0 ? timed(acts, directTimes) : acts,
        `${baseline}@2.0.0`,
        reportedDirect.failureId,
        `direct-${i}-${Date.now()}`,
      );
      if (i > 0) direct.push(performance.now() - t0);
      if (healedDirect !== `${baseline}@2.0.1`) throw new Error(`direct heal produced ${healedDirect}`);

      for (const queue of queues) {
        const name = `bench_email_${queue === taskQueue ? '' : 'baseline_'}${i}`;
        await register(name);
        const started = performance.now();
        const reported = await runtime.report(`${name}@2.0.0`, {
          input: 'user@@domain.com',
          observed: true,
          expected: false,
          severity: 'critical',
        });
        const starting = performance.now();
        const handle = await heal(`${name}@2.0.0`, 'accepts user@@domain.com', reported.failureId, queue);
        const result = await handle.result();
        const ms = performance.now() - started;
        if (result.status !== 'healed') throw new Error(`heal of ${name} ended ${result.status}: ${result.message}`);
        const route = await prisma.route.findUnique({ where: { toolName: name } });
        if (route?.versionId !== result.newVersionId) throw new Error(`route of ${name} is ${route?.versionId}`);
        const run = runs.get(queue)!;
        if (i === 0) {
          run.historyLength = (await handle.fetchHistory()).events?.length ?? 0;
          continue; // the first heal warms the worker's caches and the sandbox
        }
        run.rollback.push(ms);
        stepTimes(steps, handle.workflowId, { reporting: started, starting, ended: started + ms }, run.rollbackSteps);
        if (i === 1 && process.env.BENCH_HEAL_EVENTS) await printEvents(handle);
        if (i === 1 && queue === taskQueue) await saveHistory(handle, 'heal-rollback');
        await historyTimes(handle, run.rollbackTimes);
      }
    }
    // Revert heals: the slug story (bug at 1.2.0, a feature with its critical test at 1.3.0).
    progress(`healing ${HEALS} copies of the slug story (a revert keeps 1.3.0's feature)…`);
    for (let i = 0; i < HEALS + 1; i++) {
      for (const queue of queues) {
        const name = `bench_slug_${queue === taskQueue ? '' : 'baseline_'}${i}`;
        await registerSlugStory(store, name);
        const started = performance.now();
        const reported = await runtime.report(`${name}@1.3.0`, { ...SLUG_WRONG[0]!, severity: 'critical' });
        const starting = performance.now();
        const handle = await heal(`${name}@1.3.0`, 'drops digits', reported.failureId, queue);
        const result = await handle.result();
        const ms = performance.now() - started;
        if (result.status !== 'healed') throw new Error(`heal of ${name} ended ${result.status}: ${result.message}`);
        if (i === 0) continue;
        const run = runs.get(queue)!;
        run.revert.push(ms);
        if (i === 1 && queue === taskQueue) await saveHistory(handle, 'heal-revert');
        stepTimes(steps, handle.workflowId, { reporting: started, starting, ended: started + ms }, run.revertSteps);
        await historyTimes(handle, run.revertTimes);
        if (result.strategy === 'revert') run.revertHeals++;
        if (result.features && result.features.kept === result.features.total) run.keptAll++;
      }
    }
    const { rollback: latencies, revert: reverts, historyLength, keptAll, revertHeals } = runs.get(taskQueue)!;
    const healTimes = runs.get(taskQueue)!.rollbackTimes;
    const revertTimes = runs.get(taskQueue)!.revertTimes;

    const sorted = [...latencies].sort((a, b) => a - b);
    console.log('\nbench:heal (offline strategy)');
    console.log(
      `  reported failure → healed route (median of ${latencies.length})   ${median(latencies).toFixed(0)} ms   target < 250 ms`,
    );
    console.log(
      `  fastest / slowest                                     ${sorted[0]!.toFixed(0)} / ${sorted.at(-1)!.toFixed(0)} ms`,
    );
    console.log(`  same steps called directly, no Temporal (median)      ${median(direct).toFixed(0)} ms   baseline`);
    console.log(
      `  ratio workflow / direct                               ${(median(latencies) / median(direct)).toFixed(2)}x`,
    );
    console.log(`  history length of one heal                            ${historyLength} events   target < 80`);
    console.log(
      `  revert heal, slug story (median of ${reverts.length})                ${median(reverts).toFixed(0)} ms   ${(median(reverts) / median(latencies)).toFixed(2)}x the rollback heal`,
    );
    console.log(
      `  p95: rollback heal ${percentile(latencies, 95).toFixed(0)} ms, revert heal ${percentile(reverts, 95).toFixed(0)} ms, direct ${percentile(direct, 95).toFixed(0)} ms`,
    );
    console.log(
      `  revert heals that kept every feature                  ${keptAll}/${reverts.length} (${((100 * keptAll) / reverts.length).toFixed(0)}%), ${revertHeals} healed by revert`,
    );
    const base = runs.get(baselineQueue);
    if (base) {
      console.log(`\nbaseline ${BASELINE}, interleaved with these${BASELINE_REF ? '' : ', same activities'}`);
      console.log(
        `  rollback heal median ${median(base.rollback).toFixed(0)} ms (p95 ${percentile(base.rollback, 95).toFixed(0)}), this checkout ${median(latencies).toFixed(0)} ms (p95 ${percentile(latencies, 95).toFixed(0)}): ${(median(latencies) / median(base.rollback)).toFixed(2)}x`,
      );
      console.log(
        `  revert heal median ${median(base.revert).toFixed(0)} ms (p95 ${percentile(base.revert, 95).toFixed(0)}), this checkout ${median(reverts).toFixed(0)} ms (p95 ${percentile(reverts, 95).toFixed(0)}): ${(median(reverts) / median(base.revert)).toFixed(2)}x`,
      );
      console.log(`  history length ${base.historyLength} events, this checkout ${historyLength}`);
    }
    console.log('\nwhere the time goes (medians per step)');
    printTimes('steps called directly', directTimes);
    printTimes('rollback heal through Temporal (history timestamps)', healTimes);
    printTimes('revert heal through Temporal (history timestamps)', revertTimes);
    printTimes('rollback heal, each step as the worker ran it', runs.get(taskQueue)!.rollbackSteps);
    printTimes('revert heal, each step as the worker ran it', runs.get(taskQueue)!.revertSteps);
    if (base) {
      printTimes('baseline rollback heal (history timestamps)', base.rollbackTimes);
      printTimes('baseline revert heal (history timestamps)', base.revertTimes);
      printTimes('baseline rollback heal, each step as the worker ran it', base.rollbackSteps);
      printTimes('baseline revert heal, each step as the worker ran it', base.revertSteps);
    }
    console.log(
      JSON.stringify({
        bench: 'heal',
        medianMs: median(latencies),
        minMs: sorted[0],
        maxMs: sorted.at(-1),
        p95Ms: percentile(latencies, 95),
        directMedianMs: median(direct),
        ratio: median(latencies) / median(direct),
        historyLength,
        heals: latencies.length,
        revertMedianMs: median(reverts),
        revertP95Ms: percentile(reverts, 95),
        ...(base
          ? {
              baseline: BASELINE,
              baselineMedianMs: median(base.rollback),
              baselineP95Ms: percentile(base.rollback, 95),
              baselineRevertMedianMs: median(base.revert),
              baselineRevertP95Ms: percentile(base.revert, 95),
              baselineHistoryLength: base.historyLength,
            }
          : {}),
        revertKeptAll: keptAll,
        revertHeals,
      }),
    );
  } finally {
    await runtime.close();
    sandbox.close();
    await worker.shutdown();
    await baselineWorker?.shutdown();
    await baselineConnection?.close();
    await baselineServer?.stop();
    await connection.close();
    await prisma.$disconnect();
    await temporalServer.stop();
    await db.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
