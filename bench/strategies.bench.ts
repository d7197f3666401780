/**
 * npm run bench:strategies — the heal strategies' order, fixed against learned, on the same fixed set
 * of injected bugs. BENCH_PER_FAMILY (default 10) tools in each of four failure contexts:
 *
 *   js_slug    JavaScript, the bug two versions up (an optimization), a feature added after it: the
 *              culprit is not the failed version, so revert can undo it and keep the feature.
 *   py_slug    the same story in Python.
 *   js_email   JavaScript, the failed version is itself the culprit (a refactor that drops the regex).
 *   py_email   the same in Python (an optimization).
 *
 * The LLM is a scripted OpenAI-compatible server on loopback, reached through the real `openai` SDK:
 * its analyses are sound; its regenerations and revisions are right for JavaScript and wrong for
 * Python (it hands back the buggy code), so an LLM attempt on a Python tool is always rejected. Each reply waits
 * BENCH_LLM_MS (default 300 ms), a fast model's answer.
 *
 * Every heal goes through selfHealWorkflow on the embedded stack (Temporal dev server, PostgreSQL,
 * an in-process worker), as bench:heal does: a report through the runtime, the heal, then callers'
 * calls on the healed route — `survival_calls` of them, checked against the right answers (the later
 * feature included) and wrong answers reported, which is what the learned record counts a promoted
 * candidate's survival by.
 *
 * Two passes in one process and one database, tools interleaved across the contexts:
 *   1. `strategy_order: fixed` (revert, llm, rollback as configured). Its heals record their choice
 *      and outcome like any heal, so they are the bandit's first record.
 *   2. `strategy_order: learned`, the Thompson-sampling order, on fresh copies of the same bugs: it
 *      starts from the record the fixed pass left (warmed on the first pass) and adds each of its own
 *      heals to it as it goes.
 * Printed per order: heal success, attempts and LLM calls per healed tool (analysis and
 * regeneration), heal latency (report → healed route, median and p95), features kept and the share
 * of promoted versions that survived their callers; then learned / fixed.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { defaultConfig, type DiseConfig } from '../src/config/schema.js';
import { startHeal } from '../src/client/start-heal.js';
import { PY_SLUG_V13, pythonSlugLineage } from '../src/demo/python-lineages.js';
import { LONG_TITLE, SLUG_V13, SLUG_WRONG, slugStory } from '../src/demo/slug-lineage.js';
import { createPrismaClient } from '../src/infra/database.js';
import { installTemporalRuntime } from '../src/infra/temporal-runtime.js';
import type { RegisterVersionInput } from '../src/lineage/store.js';
import { LineageStore } from '../src/lineage/store.js';
import { ToolRuntime } from '../src/runtime/tool-runtime.js';
import { warmPython } from '../src/sandbox/python.js';
import type { StrategyOrderMode } from '../src/shared/heal-types.js';
import type { JsonValue } from '../src/shared/lineage-types.js';
import { startWorker } from '../src/worker.js';
import { benchDatabase, benchTemporal, percentile, printFigures, progress } from './support.js';

const PER_FAMILY = Number(process.env.BENCH_PER_FAMILY ?? 10);
const LLM_MS = Number(process.env.BENCH_LLM_MS ?? 300);

const JS_EMAIL_V1 =
  "function run(input) { return typeof input === 'string' && /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(input); }";
const JS_EMAIL_V2 = "function run(input) { return typeof input === 'string' && input.indexOf('@') !== -1; }";
const PY_EMAIL_V1 = `import re

def run(input):
    return isinstance(input, str) and re.fullmatch(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}", input) is not None
`;
const PY_EMAIL_V2 = `def run(input):
    return isinstance(input, str) and "@" in input
`;
/** The right fix of the slug story's 1.3.0: the digits back, the 40-character cap kept. */
const JS_SLUG_FIXED = SLUG_V13.replace('[^a-z]+', '[^a-z0-9]+');

interface Family {
  name: string;
  lineage(tool: string): RegisterVersionInput[];
  failed: string;
  wrong: { input: string; observed: JsonValue; expected: JsonValue };
  /** What callers check on the healed route: input → the right answer (later features included). */
  checks: [string, JsonValue][];
}

function emailLineage(
  tool: string,
  language: 'javascript' | 'python',
  mutation: 'refactor' | 'optimization',
): RegisterVersionInput[] {
  return [
    {
      name: tool,
      version: '1.0.0',
      language,
      code: language === 'python' ? PY_EMAIL_V1 : JS_EMAIL_V1,
      description: 'Validate an email address',
      tests: [{ name: 'plain', input: 'a@b.co', expect: true, critical: true }],
    },
    {
      name: tool,
      version: '2.0.0',
      parents: [`${tool}@1.0.0`],
      code: language === 'python' ? PY_EMAIL_V2 : JS_EMAIL_V2,
      description: 'Validate an email address',
      mutation: { type: mutation, description: 'Simpler check' },
    },
  ];
}

const EMAIL_CHECKS: [string, JsonValue][] = [
  ['user@example.com', true],
  ['a@b.co', true],
  ['user@@domain.com', false],
  ['no-at-sign', false],
];
const SLUG_CHECKS: [string, JsonValue][] = [
  ['Top 10 Tips', 'top-10-tips'],
  ['Hello World', 'hello-world'],
  [LONG_TITLE, 'a-very-long-title-that-goes-on-and-on-ab'],
];

const FAMILIES: Family[] = [
  {
    name: 'js_slug',
    lineage: (t) => slugStory(t),
    failed: '1.3.0',
    wrong: SLUG_WRONG[0]!,
    checks: SLUG_CHECKS,
  },
  {
    name: 'py_slug',
    lineage: (t) => pythonSlugLineage(t),
    failed: '1.3.0',
    wrong: SLUG_WRONG[0]!,
    checks: SLUG_CHECKS,
  },
  {
    name: 'js_email',
    lineage: (t) => emailLineage(t, 'javascript', 'refactor'),
    failed: '2.0.0',
    wrong: { input: 'user@@domain.com', observed: true, expected: false },
    checks: EMAIL_CHECKS,
  },
  {
    name: 'py_email',
    lineage: (t) => emailLineage(t, 'python', 'optimization'),
    failed: '2.0.0',
    wrong: { input: 'user@@domain.com', observed: true, expected: false },
    checks: EMAIL_CHECKS,
  },
];

/** The scripted LLM: sound analyses; regenerations right for JavaScript, the buggy code back for Python. */
class ScriptedLlm {
  calls = { analysis: 0, regeneration: 0 };
  private server!: http.Server;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (d: Buffer) => (raw += d.toString()));
      req.on('end', () => {
        const body = JSON.parse(raw) as {
          model: string;
          messages: { role: string; content: string }[];
          response_format?: { json_schema?: { name: string } };
        };
        const schema = body.response_format?.json_schema?.name;
        const user = body.messages.find((m) => m.role === 'user')?.content ?? '';
        let content: unknown;
        if (schema === 'RegeneratedTool' || schema === 'RevisedTool') {
          this.calls.regeneration++;
          content = this.regenerate(user);
        } else {
          this.calls.analysis++;
          content = {
            recoverable: true,
            reason: 'The change broke answers callers rely on',
            problematic_pattern: 'the narrowed check',
            pattern_kind: 'semantic',
            rule_description: 'Keep the behaviour the tests and callers rely on',
            scope: 'descendants',
          };
        }
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              id: 'chatcmpl-bench',
              object: 'chat.completion',
              created: Math.floor(Date.now() / 1000),
              model: body.model,
              choices: [
                {
                  index: 0,
                  message: { role: 'assistant', content: JSON.stringify(content) },
                  finish_reason: 'stop',
                  logprobs: null,
                },
              ],
              usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
            }),
          );
        }, LLM_MS);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  private regenerate(user: string): { code: string; notes: string } {
    const python = user.includes('def run');
    const slug = user.includes('slug');
    if (python) return { code: slug ? PY_SLUG_V13 : PY_EMAIL_V2, notes: 'kept as it was' };
    return { code: slug ? JS_SLUG_FIXED : JS_EMAIL_V1, notes: 'restored the check' };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

interface HealFigure {
  family: string;
  healed: boolean;
  strategy: string | null;
  attempts: number;
  llmCalls: number;
  ms: number;
  featuresKept: boolean;
  survived: boolean;
  order: string[];
  /** Each rejected candidate: its strategy and the kind of its first rejection. */
  rejected: string[];
}

interface PassResult {
  mode: StrategyOrderMode;
  heals: HealFigure[];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

async function main(): Promise<void> {
  installTemporalRuntime('ERROR');
  const db = await benchDatabase('dise_bench_strategies');
  const temporalServer = await benchTemporal('bench-temporal-strategies');
  const prisma = createPrismaClient(db.url);
  const store = new LineageStore(prisma);
  const connection = await Connection.connect({ address: temporalServer.address });
  const client = new Client({ connection });
  const llm = new ScriptedLlm();
  await llm.start();
  await warmPython();
  const runtime = await ToolRuntime.create({ databaseUrl: db.url });
  const passes: PassResult[] = [];
  try {
    for (const mode of ['fixed', 'learned'] as const) {
      const config: DiseConfig = defaultConfig();
      config.self_healing.regeneration.strategy_order = mode;
      const survivalCalls = config.self_healing.regeneration.survival_calls;
      const taskQueue = `bench-strategies-${mode}-${Date.now()}`;
      const worker = await startWorker({
        temporal: { address: temporalServer.address, namespace: 'default', tls: false },
        prisma,
        config,
        llm: { apiKey: 'bench', baseURL: llm.url, model: 'scripted', timeoutMs: 30_000, temperature: 0 },
        taskQueue,
      });
      const heals: HealFigure[] = [];
      // Untimed: the pass's first heal of each language warms the worker, the sandbox and Pyodide.
      // Its failure type puts it in a context of its own, so it adds nothing to the record measured.
      for (const family of [FAMILIES[0]!, FAMILIES[1]!]) {
        const tool = `${mode}_warm_${family.name}`;
        await store.registerMany(family.lineage(tool));
        const reported = await runtime.report(`${tool}@${family.failed}`, { ...family.wrong, severity: 'critical' });
        const { handle } = await startHeal(
          client,
          {
            versionId: `${tool}@${family.failed}`,
            trigger: 'report',
            failure: {
              failureType: 'bench_warm_up',
              description: 'warm-up',
              severity: 'critical',
              detectionMethod: 'report',
              failureId: reported.failureId,
            },
          },
          { taskQueue },
        );
        await handle.result();
      }
      progress(`${mode}: healing ${PER_FAMILY * FAMILIES.length} tools, ${PER_FAMILY} per failure context…`);
      try {
        for (let i = 0; i < PER_FAMILY; i++) {
          for (const family of FAMILIES) {
            const tool = `${mode}_${family.name}_${i}`;
            const failedId = `${tool}@${family.failed}`;
            await store.registerMany(family.lineage(tool));
            await store.setRoute(failedId, 'bench');
            const callsBefore = llm.calls.analysis + llm.calls.regeneration;
            const started = performance.now();
            const reported = await runtime.report(failedId, { ...family.wrong, severity: 'critical' });
            const { handle } = await startHeal(
              client,
              {
                versionId: failedId,
                trigger: 'report',
                failure: {
                  failureType: 'wrong_output',
                  description: `answers ${JSON.stringify(family.wrong.input)} wrongly`,
                  severity: 'critical',
                  detectionMethod: 'report',
                  failureId: reported.failureId,
                },
              },
              { taskQueue },
            );
            const result = await handle.result();
            const ms = performance.now() - started;
            const llmCalls = llm.calls.analysis + llm.calls.regeneration - callsBefore;
            const healed = result.status === 'healed';
            // Callers on the healed route: wrong answers are reported, as the runtime's users would.
            let survived = false;
            if (healed) {
              let wrong = 0;
              for (let c = 0; c < survivalCalls; c++) {
                const [input, expected] = family.checks[c % family.checks.length]!;
                const output = await runtime.call(tool, input);
                if (JSON.stringify(output) !== JSON.stringify(expected) && c < family.checks.length) {
                  wrong++;
                  await runtime.report(result.newVersionId!, { input, observed: output, expected } as never);
                }
              }
              await runtime.flush();
              survived = wrong === 0;
            }
            heals.push({
              family: family.name,
              healed,
              strategy: result.strategy ?? null,
              attempts: result.attempts?.length ?? 0,
              llmCalls,
              ms,
              featuresKept: !result.features || result.features.kept === result.features.total,
              survived,
              order: result.strategyChoice?.order ?? [],
              rejected: (result.attempts ?? [])
                .filter((a) => !a.ok)
                .map((a) => {
                  // Names and input hashes vary per tool; the reason does not.
                  const why = (a.rejections[0]?.message ?? '')
                    .replace(/[\w-]+@\d+\.\d+\.\d+/g, '<version>')
                    .replace(/input [0-9a-f]{10}/g, 'input <hash>')
                    .slice(0, 90);
                  return `${a.strategy} (${a.rejections[0]?.kind ?? '?'}: ${why})`;
                }),
            });
          }
        }
      } finally {
        await worker.shutdown();
      }
      passes.push({ mode, heals });
    }

    const summary = (p: PassResult) => {
      const healed = p.heals.filter((x) => x.healed);
      const n = Math.max(1, healed.length);
      return {
        mode: p.mode,
        heals: p.heals.length,
        healed: healed.length,
        success: healed.length / p.heals.length,
        attemptsPerHealed: p.heals.reduce((s, x) => s + x.attempts, 0) / n,
        llmCallsPerHealed: p.heals.reduce((s, x) => s + x.llmCalls, 0) / n,
        medianMs: median(healed.map((x) => x.ms)),
        p95Ms: healed.length
          ? percentile(
              healed.map((x) => x.ms),
              95,
            )
          : NaN,
        featuresKept: healed.filter((x) => x.featuresKept).length,
        survived: healed.filter((x) => x.survived).length,
        byFamily: Object.fromEntries(
          FAMILIES.map((f) => {
            const mine = p.heals.filter((x) => x.family === f.name);
            const strategies: Record<string, number> = {};
            for (const x of mine) if (x.strategy) strategies[x.strategy] = (strategies[x.strategy] ?? 0) + 1;
            const rejected: Record<string, number> = {};
            for (const x of mine) for (const r of x.rejected) rejected[r] = (rejected[r] ?? 0) + 1;
            return [
              f.name,
              {
                rejected,
                healed: mine.filter((x) => x.healed).length,
                attempts: mine.reduce((s, x) => s + x.attempts, 0),
                llmCalls: mine.reduce((s, x) => s + x.llmCalls, 0),
                strategies,
              },
            ];
          }),
        ),
      };
    };
    const [fixed, learned] = passes.map(summary) as [ReturnType<typeof summary>, ReturnType<typeof summary>];
    const rows: [string, string, string][] = [];
    for (const s of [fixed, learned]) {
      rows.push(
        [`${s.mode}: heal success`, `${s.healed}/${s.heals}`, `${(100 * s.success).toFixed(0)}%`],
        [`${s.mode}: attempts per healed tool`, s.attemptsPerHealed.toFixed(2), 'candidates judged'],
        [`${s.mode}: LLM calls per healed tool`, s.llmCallsPerHealed.toFixed(2), 'analysis + regeneration'],
        [`${s.mode}: heal latency median`, `${s.medianMs.toFixed(0)} ms`, 'report → healed route'],
        [`${s.mode}: heal latency p95`, `${s.p95Ms.toFixed(0)} ms`, ''],
        [`${s.mode}: kept every feature`, `${s.featuresKept}/${s.healed}`, 'of the healed'],
        [
          `${s.mode}: survived their callers`,
          `${s.survived}/${s.healed}`,
          `${defaultConfig().self_healing.regeneration.survival_calls} checked calls each`,
        ],
      );
      for (const [name, f] of Object.entries(s.byFamily))
        rows.push([
          `${s.mode}:   ${name}`,
          `${f.healed} healed`,
          `${f.attempts} attempts, ${f.llmCalls} LLM calls, by ${Object.entries(f.strategies)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        ]);
      for (const [name, f] of Object.entries(s.byFamily))
        for (const [why, count] of Object.entries(f.rejected))
          rows.push([`${s.mode}:   ${name} rejected`, `${count}`, why]);
    }
    const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
    rows.push(
      ['learned / fixed: attempts per healed tool', ratio(learned.attemptsPerHealed, fixed.attemptsPerHealed), ''],
      ['learned / fixed: LLM calls per healed tool', ratio(learned.llmCallsPerHealed, fixed.llmCallsPerHealed), ''],
      ['learned / fixed: latency median', ratio(learned.medianMs, fixed.medianMs), ''],
      ['learned / fixed: latency p95', ratio(learned.p95Ms, fixed.p95Ms), ''],
      ['learned / fixed: heal success', ratio(learned.success, fixed.success), 'must not be below 1'],
    );
    printFigures(
      `bench:strategies (${PER_FAMILY} tools per context, ${FAMILIES.length} contexts, LLM answers in ${LLM_MS} ms; ${os.cpus().length} cores)`,
      rows,
      { bench: 'strategies', perFamily: PER_FAMILY, llmMs: LLM_MS, fixed, learned },
    );
    if (learned.success < fixed.success) {
      console.error('the learned order lowered heal success');
      process.exitCode = 1;
    }
  } finally {
    await runtime.close();
    await llm.stop();
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
