import { performance } from 'node:perf_hooks';
import { startHeal } from '../../src/client/start-heal.js';
import { defaultConfig } from '../../src/config/schema.js';
import type { GateRule } from '../../src/detection/static-analysis.js';
import { codeHash } from '../../src/detection/tool-code.js';
import { installTemporalRuntime } from '../../src/infra/temporal-runtime.js';
import { judgeCanary } from '../../src/judge/canary.js';
import { seedFrom } from '../../src/judge/corpus.js';
import type { ComparisonSummary } from '../../src/lineage/canaries.js';
import type { RegisterVersionInput } from '../../src/lineage/registration.js';
import type { LineageStore } from '../../src/lineage/store.js';
import type { Sandbox } from '../../src/sandbox/sandbox.js';
import type { CanaryVerdict } from '../../src/shared/canary-types.js';
import type { ToolSource } from '../../src/shared/language.js';
import type { JsonValue } from '../../src/shared/lineage-types.js';
import { startBenchStack, type BenchStack } from '../stack.js';
import { progress, rng } from '../support.js';
import { healInput } from '../../test/support/failures.js';

/**
 * The stages after registration, for bench:immunity: the shadow canary on callers' traffic, and
 * callers' reports followed by a heal through selfHealWorkflow on the embedded stack (PostgreSQL and
 * a Temporal dev server, as bench:heal runs it; offline strategies, no LLM).
 */

export type Answer = { ok: true; output: JsonValue } | { ok: false; error: string };

export function answer(sandbox: Sandbox, key: string, source: ToolSource, input: JsonValue): Answer {
  try {
    return {
      ok: true,
      output: JSON.parse(sandbox.runJson(key, source.code, JSON.stringify(input), source.language)) as JsonValue,
    };
  } catch (err) {
    return { ok: false, error: (err as { errorType?: string }).errorType ?? 'thrown' };
  }
}

/**
 * The shadow canary of `candidate` beside the routed `stable` version, on callers' traffic: the
 * inputs given, called in turn, each call mirrored with `deployment.canary.mirror_fraction` (a seeded
 * draw per call) until `min_calls` calls are mirrored, then the product's canary judge with the
 * configured thresholds. Answers agree as the runtime's mirror compares them (the same error type,
 * or equal JSON).
 */
export function shadowCanary(
  sandbox: Sandbox,
  id: string,
  stable: ToolSource,
  candidate: ToolSource,
  traffic: JsonValue[],
): CanaryVerdict & { calls: number } {
  const settings = defaultConfig().deployment.canary;
  const draw = rng(seedFrom(`canary:${id}`));
  const summary: ComparisonSummary = {
    mirrored: 0,
    agreed: 0,
    stableErrors: 0,
    candidateErrors: 0,
    stableMs: [],
    candidateMs: [],
    disagreements: [],
  };
  let calls = 0;
  while (summary.mirrored < settings.min_calls) {
    const input = traffic[calls % traffic.length]!;
    calls++;
    if (draw() >= settings.mirror_fraction) continue; // answered by the stable version only
    let t0 = performance.now();
    const s = answer(sandbox, codeHash(stable.code), stable, input);
    summary.stableMs.push(performance.now() - t0);
    t0 = performance.now();
    const c = answer(sandbox, codeHash(candidate.code), candidate, input);
    summary.candidateMs.push(performance.now() - t0);
    summary.mirrored++;
    if (!s.ok) summary.stableErrors++;
    if (!c.ok) summary.candidateErrors++;
    const agree = s.ok !== c.ok ? false : !s.ok ? s.error === (c as { error: string }).error : sameJson(s, c);
    if (agree) summary.agreed++;
    else
      summary.disagreements.push({
        input,
        stable: s.ok ? s.output : { error: s.error },
        candidate: c.ok ? c.output : null,
        candidateError: c.ok ? null : c.error,
      });
  }
  return { ...judgeCanary(summary, null, settings, new Date()), calls };
}

function sameJson(a: Answer, b: Answer): boolean {
  return a.ok && b.ok && JSON.stringify(a.output) === JSON.stringify(b.output);
}

export interface HealRun {
  status: string;
  strategy: string | null;
  newVersionId: string | null;
  /** The promoted version's code (null when nothing was promoted). */
  code: string | null;
  seconds: number;
  /** The gate-able rules the heal left on the promoted version (what later versions of the tool inherit). */
  rules: GateRule[];
  message: string;
}

/** The embedded stack heals run on: PostgreSQL, a Temporal dev server, one worker, one runtime. */
export class HealStack {
  private constructor(private readonly stack: BenchStack) {}

  get store(): LineageStore {
    return this.stack.store;
  }

  static async start(): Promise<HealStack> {
    installTemporalRuntime('ERROR');
    progress('starting the embedded stack for heals (PostgreSQL, Temporal dev server, a worker)…');
    return new HealStack(await startBenchStack('immunity'));
  }

  /**
   * Registers `versions` as they are (no judge: the stored versions model what got past it), routes
   * `routed`, files callers' reports of wrong answers on it, and heals it through selfHealWorkflow.
   */
  async heal(
    versions: RegisterVersionInput[],
    routed: string,
    reports: { input: JsonValue; observed: JsonValue; expected: JsonValue }[],
    description: string,
  ): Promise<HealRun> {
    await this.store.registerMany(versions);
    await this.store.setRoute(routed, 'bench: the version callers got');
    const started = performance.now();
    let failureId = 0;
    for (const r of reports) {
      const reported = await this.stack.runtime.report(routed, { ...r, severity: 'critical' });
      failureId ||= reported.failureId;
    }
    const { handle } = await startHeal(
      this.stack.client,
      healInput(routed, { failureType: 'wrong_output', description, failureId }),
      { taskQueue: this.stack.taskQueue },
    );
    const result = await handle.result();
    const seconds = (performance.now() - started) / 1000;
    const newVersionId = result.status === 'healed' ? (result.newVersionId ?? null) : null;
    const code = newVersionId ? ((await this.store.graph.codes([newVersionId])).get(newVersionId)?.code ?? null) : null;
    const rules = newVersionId
      ? (await this.store.rules.inScope(newVersionId)).filter((r) => r.patternKind !== 'semantic' && r.patternToAvoid)
      : [];
    return {
      status: result.status,
      strategy: result.strategy ?? null,
      newVersionId,
      code,
      seconds,
      rules: rules.map((r) => ({
        ruleId: r.ruleId,
        description: r.description,
        patternToAvoid: r.patternToAvoid,
        patternKind: r.patternKind,
      })),
      message: result.message ?? '',
    };
  }

  async close(): Promise<void> {
    await this.stack.close();
  }
}
