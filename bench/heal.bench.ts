/**
 * npm run bench:heal — time from a reported failure to the healed route (offline strategy), median of
 * 20 heals through selfHealWorkflow on the embedded stack, and the history length of one heal; side
 * by side with the baseline of the same ten steps called directly in this process (no Temporal), so
 * the ratio is what durability costs. Then 20 revert heals of the slug story: their median, and the
 * share that kept every feature added after the culprit.
 */
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { defaultConfig } from '../src/config/schema.js';
import { createActivities } from '../src/activities/index.js';
import { startHeal } from '../src/client/start-heal.js';
import { Sandbox } from '../src/sandbox/sandbox.js';
import { createPrismaClient } from '../src/infra/database.js';
import { installTemporalRuntime } from '../src/infra/temporal-runtime.js';
import { LineageStore } from '../src/lineage/store.js';
import { registerSlugStory, SLUG_WRONG } from '../src/demo/slug-lineage.js';
import { ToolRuntime } from '../src/runtime/tool-runtime.js';
import { startWorker } from '../src/worker.js';
import { benchDatabase, benchTemporal, progress } from './support.js';

const HEALS = Number(process.env.BENCH_HEALS ?? 20);
const V1 =
  "function run(input) { return typeof input === 'string' && /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(input); }";
const V2 = "function run(input) { if (typeof input !== 'string') return false; return input.indexOf('@') !== -1; }";

type Activities = ReturnType<typeof createActivities>;

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
  const worker = await startWorker({
    temporal: { address, namespace: 'default', tls: false },
    prisma,
    config: defaultConfig(),
    llm: null,
    taskQueue,
  });
  const connection = await Connection.connect({ address });
  const client = new Client({ connection });
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
    const latencies: number[] = [];
    let historyLength = 0;
    progress(`healing ${HEALS} tools through selfHealWorkflow and ${HEALS} by direct calls, interleaved…`);
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
        acts,
        `${baseline}@2.0.0`,
        reportedDirect.failureId,
        `direct-${i}-${Date.now()}`,
      );
      if (i > 0) direct.push(performance.now() - t0);
      if (healedDirect !== `${baseline}@2.0.1`) throw new Error(`direct heal produced ${healedDirect}`);

      const name = `bench_email_${i}`;
      await register(name);
      const started = performance.now();
      const reported = await runtime.report(`${name}@2.0.0`, {
        input: 'user@@domain.com',
        observed: true,
        expected: false,
        severity: 'critical',
      });
      const { handle } = await startHeal(
        client,
        {
          versionId: `${name}@2.0.0`,
          trigger: 'report',
          failure: {
            failureType: 'wrong_output',
            description: 'accepts user@@domain.com',
            severity: 'critical',
            detectionMethod: 'report',
            failureId: reported.failureId,
          },
        },
        { taskQueue },
      );
      const result = await handle.result();
      const ms = performance.now() - started;
      if (result.status !== 'healed') throw new Error(`heal of ${name} ended ${result.status}: ${result.message}`);
      const route = await prisma.route.findUnique({ where: { toolName: name } });
      if (route?.versionId !== result.newVersionId) throw new Error(`route of ${name} is ${route?.versionId}`);
      if (i === 0) {
        historyLength = (await handle.fetchHistory()).events?.length ?? 0;
        continue; // the first heal warms the worker's caches and the sandbox
      }
      latencies.push(ms);
    }
    // Revert heals: the slug story (bug at 1.2.0, a feature with its critical test at 1.3.0).
    progress(`healing ${HEALS} copies of the slug story (a revert keeps 1.3.0's feature)…`);
    const reverts: number[] = [];
    let keptAll = 0;
    let revertHeals = 0;
    for (let i = 0; i < HEALS + 1; i++) {
      const name = `bench_slug_${i}`;
      await registerSlugStory(store, name);
      const started = performance.now();
      const reported = await runtime.report(`${name}@1.3.0`, { ...SLUG_WRONG[0]!, severity: 'critical' });
      const { handle } = await startHeal(
        client,
        {
          versionId: `${name}@1.3.0`,
          trigger: 'report',
          failure: {
            failureType: 'wrong_output',
            description: 'drops digits',
            severity: 'critical',
            detectionMethod: 'report',
            failureId: reported.failureId,
          },
        },
        { taskQueue },
      );
      const result = await handle.result();
      const ms = performance.now() - started;
      if (result.status !== 'healed') throw new Error(`heal of ${name} ended ${result.status}: ${result.message}`);
      if (i === 0) continue;
      reverts.push(ms);
      if (result.strategy === 'revert') revertHeals++;
      if (result.features && result.features.kept === result.features.total) keptAll++;
    }

    const sorted = [...latencies].sort((a, b) => a - b);
    console.log('\nbench:heal (offline strategy)');
    console.log(
      `  reported failure → healed route (median of ${latencies.length})   ${median(latencies).toFixed(0)} ms   target < 1500 ms`,
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
      `  revert heals that kept every feature                  ${keptAll}/${reverts.length} (${((100 * keptAll) / reverts.length).toFixed(0)}%), ${revertHeals} healed by revert`,
    );
    console.log(
      JSON.stringify({
        bench: 'heal',
        medianMs: median(latencies),
        minMs: sorted[0],
        maxMs: sorted.at(-1),
        directMedianMs: median(direct),
        ratio: median(latencies) / median(direct),
        historyLength,
        heals: latencies.length,
        revertMedianMs: median(reverts),
        revertKeptAll: keptAll,
        revertHeals,
      }),
    );
  } finally {
    await runtime.close();
    sandbox.close();
    await worker.shutdown();
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
