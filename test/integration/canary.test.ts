import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import YAML from 'yaml';
import { runCli } from '../../src/cli/main.js';
import { startCanary } from '../../src/client/start-canary.js';
import { allViolations, lineageViolations } from '../../src/doctor/invariants.js';
import { defaultConfig, type DiseConfig } from '../../src/config/schema.js';
import { canaryWorkflowId } from '../../src/shared/constants.js';
import type { RunningWorker } from '../../src/worker.js';
import { useTestStore } from '../support/database.js';
import { version } from '../support/fixtures.js';
import { captureOutput } from '../support/output.js';
import { connectTestTemporal, startTestWorker, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';
import { pollUntil } from '../support/wait.js';
import { spawnRuntimeChild } from '../support/child-processes.js';

// Safe deployment end to end: runtimes in their own processes answer from the stable version while
// candidates run in shadow; a real worker runs the canary workflows against PostgreSQL; the operator's
// commands drive them.

const h = useTestStore();
let temporal: TestTemporal;
let worker: RunningWorker;
let taskQueue: string;

function shadowConfig(): DiseConfig {
  const config = defaultConfig();
  config.deployment.mode = 'shadow';
  config.deployment.canary = {
    ...config.deployment.canary,
    mirror_fraction: 1,
    min_calls: 200,
    check_interval_seconds: 1,
    max_duration_seconds: 600,
    max_disagreement_rate: 0.01,
  };
  return config;
}

beforeAll(async () => {
  temporal = await connectTestTemporal();
  taskQueue = uniqueTaskQueue('canary');
  worker = await startTestWorker(h.db, { taskQueue, config: shadowConfig() });
});
afterAll(async () => {
  await worker?.shutdown();
  await temporal?.close();
});

/** A runtime process calling `tool` with 0, 1, 2, … every `intervalMs`. */
const runtimeProcess = (tool: string, intervalMs = 2) => spawnRuntimeChild(h.db.url, tool, intervalMs);

const SQUARE = 'function run(x) { return x * x; }';
const SQUARE_REFACTORED = 'function run(x) { return Math.pow(x, 2); }';
/** Wrong on 2% of inputs: throws on x ≡ 7 (mod 100), answers wrongly on x ≡ 42 (mod 100). */
const SQUARE_WRONG_2PCT =
  "function run(x) { if (x % 100 === 7) throw new Error('boom ' + x); if (x % 100 === 42) return -1; return x * x; }";

async function beginCanary(name: string, code: string): Promise<string> {
  await h.store.registerVersion(version(name, '1.0.0', [], { code: SQUARE }));
  await h.store.setRoute(`${name}@1.0.0`, 'test');
  await h.store.registerVersion(version(name, '1.1.0', [`${name}@1.0.0`], { code }));
  const id = `${name}@1.1.0`;
  await h.store.canaries.begin({
    candidateId: id,
    toolName: name,
    stableId: `${name}@1.0.0`,
    targetHealth: 'healthy',
    origin: 'registration',
    healId: null,
    workflowId: canaryWorkflowId(id),
    mirrorFraction: 1,
  });
  return id;
}

describe('a candidate in shadow under load (several runtime processes)', () => {
  it('answers every caller from the stable version; refuses the 2%-wrong candidate with those inputs as evidence; promotes the good one after min_calls', async () => {
    const good = await beginCanary('sq_good', SQUARE_REFACTORED);
    const bad = await beginCanary('sq_bad', SQUARE_WRONG_2PCT);
    const procs = [
      runtimeProcess('sq_good'),
      runtimeProcess('sq_good'),
      runtimeProcess('sq_bad'),
      runtimeProcess('sq_bad'),
    ];
    try {
      // The candidates are in shadow from begin(); the checks start once every runtime has answered
      // enough calls in shadow to judge, however slowly a loaded machine starts the processes.
      await pollUntil(
        () => Math.min(...procs.map((p) => p.lines.length)),
        (fewest) => fewest > 60,
        { what: 'every runtime answering 60 calls in shadow' },
      );
      const goodRun = await startCanary(temporal.client, good, { taskQueue });
      const badRun = await startCanary(temporal.client, bad, { taskQueue });
      const [goodEnd, badEnd] = await Promise.all([goodRun.result(), badRun.result()]);
      expect(goodEnd.status, goodEnd.message).toBe('promoted');
      expect(badEnd.status, badEnd.message).toBe('refused');
    } finally {
      for (const p of procs) await p.stop();
    }

    const ended = new Map(
      (await h.db.query<{ candidate_id: string; ended_at: Date }>('SELECT candidate_id, ended_at FROM canaries')).map(
        (r) => [r.candidate_id, r.ended_at.getTime()],
      ),
    );
    // Every caller answer while the candidate was in shadow came from the stable version, and was right.
    for (const [i, p] of procs.entries()) {
      const name = i < 2 ? 'sq_good' : 'sq_bad';
      const during = p.lines.filter((l) => l.at < ended.get(`${name}@1.1.0`)!);
      expect(during.length).toBeGreaterThan(50);
      for (const l of during) {
        expect(l.error).toBeUndefined();
        expect(l.version).toBe(`${name}@1.0.0`);
        expect(l.output).toBe(l.input * l.input);
      }
    }
    // The refused candidate never answered anyone.
    expect(
      procs
        .slice(2)
        .flatMap((p) => p.lines)
        .filter((l) => l.version === bad),
    ).toEqual([]);

    // The good one: promoted after at least min_calls agreeing calls, now HEALTHY and routed.
    const goodCanary = (await h.store.canaries.get(good))!;
    expect(goodCanary.verdict?.decision).toBe('pass');
    expect(goodCanary.verdict!.mirrored).toBeGreaterThanOrEqual(200);
    expect(goodCanary.verdict!.disagreed).toBe(0);
    expect((await h.store.graph.version(good))!.health).toBe('healthy');
    expect(await h.store.routing.routeOf('sq_good')).toBe(good);

    // The bad one: PRUNED, route unchanged, its evidence the disagreeing inputs with both answers.
    const badVersion = (await h.store.graph.version(bad))!;
    expect(badVersion.health).toBe('pruned');
    expect(await h.store.routing.routeOf('sq_bad')).toBe('sq_bad@1.0.0');
    const lineage = await h.store.getLineage(bad);
    const evidence = (
      lineage.pruneEvidence as {
        canary: {
          disagreements: { input: number; stable: unknown; candidate: unknown; candidateError: string | null }[];
        };
      }
    ).canary;
    expect(evidence.disagreements.length).toBeGreaterThan(2);
    for (const d of evidence.disagreements) {
      expect([7, 42]).toContain(d.input % 100);
      expect(d.stable).toBe(d.input * d.input);
      if (d.input % 100 === 7) expect(d.candidateError).toBe('Error');
      else expect(d.candidate).toBe(-1);
    }
    expect(lineage.failures.map((f) => f.failureType)).toContain('canary_refused');
    expect(lineage.canary).toMatchObject({ status: 'refused', verdict: 'fail' });
  }, 240_000);
});

describe('operators: dise tool add in shadow mode, dise canary status|promote|abort, tool list and lineage', () => {
  let configFile: string;
  beforeAll(() => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-canary-'));
    configFile = path.join(dir, 'config.yaml');
    // No runtime calls these tools: their canaries wait on thin data (min_calls is the worker's 200) for an operator.
    writeFileSync(configFile, YAML.stringify({ deployment: { mode: 'shadow' } }));
    process.env.DISE_CONFIG = configFile;
    process.env.DISE_TASK_QUEUE = taskQueue;
    process.env.DATABASE_URL = h.db.url;
    process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
  });
  afterAll(() => {
    for (const k of ['DISE_CONFIG', 'DISE_TASK_QUEUE', 'DATABASE_URL', 'TEMPORAL_ADDRESS']) delete process.env[k];
  });

  async function addVersion(name: string, v: string, parents: string[]): Promise<string[]> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-manifest-'));
    const file = path.join(dir, `${name}-${v}.yaml`);
    writeFileSync(
      file,
      YAML.stringify({
        name,
        version: v,
        parents,
        code: SQUARE_REFACTORED,
        ...(parents.length ? { mutation: { type: 'refactor', description: 'Math.pow' } } : {}),
        tests: [{ name: 'squares 3', input: 3, expect: 9, critical: true }],
      }),
    );
    const out = captureOutput();
    const code = await Promise.race([
      runCli(['tool', 'add', file], out),
      new Promise((r) => setTimeout(() => r('timeout'), 20_000)),
    ]);
    expect(code, `${out.stdout.join('\n')}\n${out.stderr.join('\n')}`).toBe(0);
    return out.stdout;
  }

  it('a first version is routed at once; the next enters CANARY beside it, and thin data says "not enough data"', async () => {
    expect((await addVersion('ops_sq', '1.0.0', []))[0]).toMatch(/^ops_sq@1\.0\.0 healthy \(routed\)/);
    const added = await addVersion('ops_sq', '1.1.0', ['ops_sq@1.0.0']);
    expect(added[0]).toMatch(
      /^ops_sq@1\.1\.0 canary \(in shadow beside ops_sq@1\.0\.0; dise canary status ops_sq@1\.1\.0\)/,
    );
    expect(await h.store.routing.routeOf('ops_sq')).toBe('ops_sq@1.0.0');

    // Until the judge's first look, the canary has no verdict.
    const canaryStatus = async () => {
      const out = captureOutput();
      expect(await runCli(['canary', 'status', 'ops_sq@1.1.0', '--json'], out)).toBe(0);
      return JSON.parse(out.stdout.join('\n'));
    };
    const view = await pollUntil(canaryStatus, (v) => Boolean(v.verdict), { interval: 200 });
    expect(view).toMatchObject({
      candidateId: 'ops_sq@1.1.0',
      stableId: 'ops_sq@1.0.0',
      status: 'running',
      verdict: { decision: 'not_enough_data', minCalls: 200 },
    });
    expect(view.verdict.reasons[0]).toMatch(/^not enough data: 0 of 200 mirrored calls/);

    const list = captureOutput();
    expect(await runCli(['tool', 'list'], list)).toBe(0);
    expect(list.stdout.join('\n')).toMatch(
      /ops_sq@1\.1\.0 ◐ CANARY in shadow: mirrored 0\/200, agreement 100\.0%, verdict not_enough_data/,
    );
    const listJson = captureOutput();
    expect(await runCli(['tool', 'list', '--json'], listJson)).toBe(0);
    expect(
      JSON.parse(listJson.stdout.join('\n')).find((t: { name: string }) => t.name === 'ops_sq').canary,
    ).toMatchObject({ candidateId: 'ops_sq@1.1.0', verdict: 'not_enough_data' });
    const lineage = captureOutput();
    expect(await runCli(['lineage', 'ops_sq@1.1.0'], lineage)).toBe(0);
    expect(lineage.stdout.join('\n')).toMatch(
      /Canary: in shadow beside ops_sq@1\.0\.0: mirrored 0\/200, agreement 100\.0%, verdict not_enough_data/,
    );
  }, 120_000);

  it('dise canary abort leaves callers where they were; dise canary promote routes them to the candidate', async () => {
    const abort = captureOutput();
    expect(
      await runCli(['canary', 'abort', 'ops_sq@1.1.0', '--wait', '--reason', 'not today'], abort),
      abort.stderr.join('\n'),
    ).toBe(0);
    expect(abort.stdout.join('\n')).toMatch(/ops_sq@1\.1\.0 aborted: not today/);
    expect((await h.store.graph.version('ops_sq@1.1.0'))!.health).toBe('failed');
    expect(await h.store.routing.routeOf('ops_sq')).toBe('ops_sq@1.0.0');

    await addVersion('ops_sq', '1.2.0', ['ops_sq@1.0.0']);
    const promote = captureOutput();
    expect(await runCli(['canary', 'promote', 'ops_sq@1.2.0', '--wait'], promote), promote.stderr.join('\n')).toBe(0);
    expect(promote.stdout.join('\n')).toMatch(/ops_sq@1\.2\.0 promoted: promoted by an operator/);
    expect((await h.store.graph.version('ops_sq@1.2.0'))!.health).toBe('healthy');
    expect(await h.store.routing.routeOf('ops_sq')).toBe('ops_sq@1.2.0');

    const missing = captureOutput();
    expect(await runCli(['canary', 'promote', 'ops_sq@1.2.0'], missing)).toBe(2);
    expect(missing.stderr.join('\n')).toMatch(/no running canary of ops_sq@1\.2\.0/);
    const all = captureOutput();
    expect(await runCli(['canary', 'status', '--json'], all)).toBe(0);
    expect(
      JSON.parse(all.stdout.join('\n'))
        .map((c: { candidateId: string; status: string }) => `${c.candidateId} ${c.status}`)
        .sort(),
    ).toEqual(expect.arrayContaining(['ops_sq@1.1.0 aborted', 'ops_sq@1.2.0 promoted']));
  }, 120_000);

  it('a candidate tainted by a prune upstream leaves CANARY and its canary ends without routing it', async () => {
    const candidate = await beginCanary('taint_sq', SQUARE_REFACTORED);
    expect(await h.store.taintDescendants('taint_sq@1.0.0')).toEqual([candidate]);
    expect((await h.store.graph.version(candidate))!.health).toBe('degraded');
    const end = await (await startCanary(temporal.client, candidate, { taskQueue })).result();
    expect(end.status).toBe('ended');
    expect(await h.store.canaries.get(candidate)).toMatchObject({
      status: 'aborted',
      decision: expect.stringMatching(/its candidate is DEGRADED, no longer CANARY/),
    });
    expect(await h.store.routing.routeOf('taint_sq')).toBe('taint_sq@1.0.0');
  }, 60_000);

  it('dise doctor: clean with canaries running and ended; a CANARY without a canary, or a running canary without its workflow, is reported', async () => {
    expect(await allViolations(h.store, temporal.client)).toEqual([]);
    await h.store.registerVersion(version('stray_canary', '1.0.0'));
    await h.db.query(`UPDATE tool_lineage SET health_status = 'canary' WHERE tool_id = 'stray_canary@1.0.0'`);
    await h.store.registerVersion(version('lost_canary', '1.0.0'));
    await h.store.registerVersion(version('lost_canary', '1.1.0', ['lost_canary@1.0.0']));
    await h.store.canaries.begin({
      candidateId: 'lost_canary@1.1.0',
      toolName: 'lost_canary',
      stableId: 'lost_canary@1.0.0',
      targetHealth: 'healthy',
      origin: 'registration',
      healId: null,
      workflowId: canaryWorkflowId('lost_canary@1.1.0'),
      mirrorFraction: 0.2,
    });
    expect((await lineageViolations(h.store)).map((v) => `${v.invariant}: ${v.message}`)).toEqual([
      'canary: stray_canary@1.0.0 is CANARY without a running canary',
    ]);
    expect((await allViolations(h.store, temporal.client)).map((v) => v.message)).toContain(
      'the canary of lost_canary@1.1.0 is recorded as running, but Temporal says canary:lost_canary@1.1.0 is NOT_FOUND',
    );
  }, 60_000);
});
