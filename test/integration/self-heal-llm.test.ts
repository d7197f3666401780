import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { allViolations } from '../../src/doctor/invariants.js';
import { startHeal } from '../../src/client/start-heal.js';
import { LineageStore } from '../../src/lineage/store.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { warmPython } from '../../src/sandbox/python.js';
import type { RunningWorker } from '../../src/worker.js';
import { useTestStore } from '../support/database.js';
import {
  registerEmailStory,
  V1_CODE,
  V201_CODE,
  V2_CODE,
  WRONG_RESULTS,
  LLM_ANALYSIS,
} from '../support/email-story.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { SLUG_V12, SLUG_WRONG, slugStory } from '../support/slug-story.js';
import { connectTestTemporal, startTestWorker, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';
import { healInput, reportWrongResults } from '../support/failures.js';

// The LLM path end to end: the real `openai` SDK against a scripted OpenAI-compatible server on
// loopback, with slow, failing and malformed answers.

const h = useTestStore();
let temporal: TestTemporal;
let worker: RunningWorker;
let llm: FakeOpenAI;
const taskQueue = uniqueTaskQueue('heal-llm');
let counter = 0;

const ANALYSIS = LLM_ANALYSIS;
const regen = (code: string, notes = 'cached the regex, fast path first') => ({ content: { code, notes } });
/** Accepts 'user@@domain.com' without using indexOf: passes the gate, fails the minted tests. */
const STILL_WRONG =
  "function run(input) { return typeof input === 'string' && input.includes('@') && input.length > 3; }";

beforeAll(async () => {
  temporal = await connectTestTemporal();
  llm = new FakeOpenAI();
  await llm.start();
  const config = defaultConfig();
  worker = await startTestWorker(h.db, {
    taskQueue,
    config,
    llm: { apiKey: 'test-key', baseURL: llm.url, model: 'scripted-model', timeoutMs: 1500, temperature: 0 },
  });
});
afterAll(async () => {
  await worker.shutdown();
  await temporal.close();
  await llm.stop();
});
beforeEach(() => {
  llm.requests.length = 0;
});

/** A fresh copy of the story under its own tool name, its wrong results reported; returns v2's id. */
async function brokenTool(): Promise<{ name: string; v1: string; v2: string }> {
  const name = `email_llm_${++counter}`;
  await registerEmailStory(h.store, name);
  await reportWrongResults(h.db.url, `${name}@2.0.0`, WRONG_RESULTS);
  return { name, v1: `${name}@1.0.0`, v2: `${name}@2.0.0` };
}

async function heal(versionId: string) {
  const { handle } = await startHeal(temporal.client, healInput(versionId), { taskQueue });
  return { handle, result: await handle.result() };
}

describe('selfHealWorkflow with an LLM', () => {
  it('heals the story with the LLM: its analysis becomes the rule, its code the new version', async () => {
    const t = await brokenTool();
    llm.script('FailureAnalysis', [{ content: ANALYSIS }]).script('RegeneratedTool', [regen(V201_CODE)]);
    const { result } = await heal(t.v2);
    expect(result.status).toBe('healed');
    expect(result.analysis).toMatchObject({
      source: 'llm',
      culpritId: t.v2,
      patternKind: 'ast',
      ruleDescription: ANALYSIS.rule_description,
    });
    expect(result.attempts).toEqual([{ attempt: 1, strategy: 'llm', ok: true, rejections: [] }]);
    const healed = await h.store.getLineage(`${t.name}@2.0.1`);
    expect(healed).toMatchObject({ code: V201_CODE, health: 'regenerated', regeneratedFrom: t.v1 });
    expect(healed.mutations[0]!.description).toMatch(
      /Regenerated from .*@1\.0\.0 \(self-healing\): Optimize for speed/,
    );

    const [analysis] = llm.requestsFor('FailureAnalysis');
    const prompt = analysis!.body.messages[1]!.content;
    expect(prompt).toContain(`FAILED TOOL: ${t.v2}`);
    expect(prompt).toContain('MUTATION APPLIED: Optimize for speed');
    expect(prompt).toContain("+   if (input.indexOf('@') === -1) return false;");
    expect(prompt).toContain('input "user@@domain.com" returned true, expected false');
    const [regeneration] = llm.requestsFor('RegeneratedTool');
    const regenPrompt = regeneration!.body.messages[1]!.content;
    expect(regenPrompt).toContain('Original Goal: Optimize for speed');
    expect(regenPrompt).toContain(`AVOID: ${ANALYSIS.rule_description}`);
    expect(regenPrompt).toContain(`Base Implementation: ${t.v1}`);
  });

  it('retries an answer slower than the timeout, then uses the next one', async () => {
    const t = await brokenTool();
    llm
      .script('FailureAnalysis', [{ content: ANALYSIS, delayMs: 4000 }, { content: ANALYSIS }])
      .script('RegeneratedTool', [regen(V201_CODE)]);
    const { result } = await heal(t.v2);
    expect(result.status).toBe('healed');
    expect(result.analysis!.source).toBe('llm');
    expect(llm.requestsFor('FailureAnalysis')).toHaveLength(2);
  });

  it('retries 500s and dropped connections (Temporal’s retry, not the SDK’s)', async () => {
    const t = await brokenTool();
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    for (let i = 0; i < 50; i++) await runtime.call(t.v2, `user${i}@example.com`);
    await runtime.close();
    llm
      .script('FailureAnalysis', [{ status: 500 }, { drop: true }, { content: ANALYSIS }])
      .script('RegeneratedTool', [{ status: 503 }, regen(V201_CODE)]);
    const { handle, result } = await heal(t.v2);
    expect(result.status).toBe('healed');
    // Exactly one new version, nothing lost, and the whole doctor clean.
    expect(
      await h.db.query(`SELECT 1 FROM tool_lineage WHERE tool_name = $1 AND health_status = 'regenerated'`, [t.name]),
    ).toHaveLength(1);
    expect(await h.db.query(`SELECT 1 FROM executions WHERE tool_id = $1`, [t.v2])).toHaveLength(50);
    expect(await allViolations(new LineageStore(h.db.prisma), temporal.client)).toEqual([]);
    expect(result.attempts).toHaveLength(1);
    expect(llm.requestsFor('FailureAnalysis')).toHaveLength(3);
    expect(llm.requestsFor('RegeneratedTool')).toHaveLength(2);
    const history = await handle.fetchHistory();
    const retried = (history.events ?? []).filter(
      (e) => e.activityTaskStartedEventAttributes && (e.activityTaskStartedEventAttributes.attempt ?? 1) > 1,
    );
    expect(retried.length).toBeGreaterThanOrEqual(2);
  });

  it('falls back to the offline analysis on malformed JSON, and counts a malformed regeneration as a failed attempt', async () => {
    const t = await brokenTool();
    llm
      .script('FailureAnalysis', [{ content: 'Sure! The problem is the @ check.' }])
      .script('RegeneratedTool', [{ content: { code: 42 } }, regen(V201_CODE)]);
    const { result } = await heal(t.v2);
    expect(result.status).toBe('healed');
    expect(result.analysis!.source).toBe('offline');
    expect(result.analysis!.reason).toMatch(/offline analysis: the LLM answer is not JSON/);
    expect(result.attempts.map((a) => [a.attempt, a.ok, a.rejections[0]?.kind])).toEqual([
      [1, false, 'malformed'],
      [2, true, undefined],
    ]);
    expect(llm.requestsFor('RegeneratedTool')[1]!.body.messages[1]!.content).toMatch(
      /PREVIOUS ATTEMPTS WERE REJECTED:\n- attempt 1: unusable answer/,
    );
  });

  it('rejects code that breaks the new rule and feeds the rejection into the next attempt', async () => {
    const t = await brokenTool();
    llm
      .script('FailureAnalysis', [{ content: ANALYSIS }])
      .script('RegeneratedTool', [regen(V2_CODE, 'kept the fast check'), regen(V201_CODE)]);
    const { result } = await heal(t.v2);
    expect(result.status).toBe('healed');
    expect(result.attempts[0]!.ok).toBe(false);
    expect(result.attempts[0]!.rejections.map((r) => r.kind)).toContain('gate');
    const second = llm.requestsFor('RegeneratedTool')[1]!.body.messages[1]!.content;
    expect(second).toMatch(
      /attempt 1: gate: violates avoid_[0-9a-f]{8} "Never replace comprehensive validation with simple substring checks"/,
    );
  });

  it('falls back to rollback after three LLM candidates that fail a test, with every rejection recorded', async () => {
    const t = await brokenTool();
    llm.script('FailureAnalysis', [{ content: ANALYSIS }]).script('RegeneratedTool', [regen(STILL_WRONG)]);
    const { result } = await heal(t.v2);
    expect(result).toMatchObject({ status: 'healed', strategy: 'rollback', newVersionId: `${t.name}@2.0.1` });
    expect(result.attempts.map((a) => [a.strategy, a.ok])).toEqual([
      ['llm', false],
      ['llm', false],
      ['llm', false],
      ['rollback', true],
    ]);
    expect(
      result.attempts
        .slice(0, 3)
        .every((a) => a.rejections.some((r) => r.kind === 'test' && /minted: .* input/.test(r.message))),
    ).toBe(true);
    expect(llm.requestsFor('RegeneratedTool')).toHaveLength(3);
    const [route] = await h.db.query<{ version_id: string }>(`SELECT version_id FROM routes WHERE tool_name = $1`, [
      t.name,
    ]);
    expect(route!.version_id).toBe(`${t.name}@2.0.1`);
    const [healed] = await h.db.query<{ code: string; regenerated_from: string }>(
      `SELECT code, regenerated_from FROM tool_lineage WHERE tool_id = $1`,
      [`${t.name}@2.0.1`],
    );
    expect(healed).toEqual({ code: V1_CODE, regenerated_from: t.v1 });
    const [run] = await h.db.query<{ status: string; result: { attempts: unknown[] } }>(
      `SELECT status, result FROM heal_runs WHERE tool_id = $1`,
      [t.v2],
    );
    expect(run!.status).toBe('healed');
    expect(run!.result.attempts).toHaveLength(4);
  });

  it('revises the failed version when the revert conflicts: the prompt has its code, the change to undo and the features to keep', async () => {
    const name = `slug_llm_${++counter}`;
    const [v1, v11, v12, v13] = slugStory(name);
    // 1.3.0 touches the very regex 1.2.0 narrowed: the three-way revert conflicts.
    const v13Code = SLUG_V12.replace('/[^a-z]+/g', "/[^a-z']+/g");
    await h.store.registerMany([
      v1!,
      v11!,
      v12!,
      {
        ...v13!,
        code: v13Code,
        tests: [{ name: 'keeps apostrophes', input: "Don't Stop", expect: "don't-stop", critical: true }],
        mutation: { type: 'feature_add', description: 'Keep apostrophes' },
      },
    ]);
    await h.store.setRoute(`${name}@1.3.0`, 'newest');
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    for (const w of SLUG_WRONG) await runtime.report(`${name}@1.3.0`, w);
    await runtime.close();
    const fixed = v13Code.replace("/[^a-z']+/g", "/[^a-z0-9']+/g");
    llm
      .script('FailureAnalysis', [
        {
          content: {
            ...ANALYSIS,
            problematic_pattern: 'Literal[regex.pattern="[^a-z]+"]',
            rule_description: 'Keep digits in slugs',
          },
        },
      ])
      .script('RevisedTool', [regen(fixed, 'digits back in the character class, apostrophes kept')]);
    const { result } = await heal(`${name}@1.3.0`);
    expect(result).toMatchObject({
      status: 'healed',
      strategy: 'llm',
      newVersionId: `${name}@1.3.1`,
      features: { kept: 1, total: 1, lost: [] },
    });
    expect(result.attempts.map((a) => [a.strategy, a.ok])).toEqual([
      ['revert', false],
      ['llm', true],
    ]);
    const prompt = llm.requestsFor('RevisedTool')[0]!.body.messages[1]!.content;
    expect(prompt).toContain(`Failed Version: ${name}@1.3.0`);
    expect(prompt).toContain(v13Code);
    expect(prompt).toContain(`THE CHANGE TO UNDO (${name}@1.2.0`);
    expect(prompt).toContain("-     .replace(/[^a-z0-9]+/g, '-')");
    expect(prompt).toContain(`- ${name}@1.3.0: Keep apostrophes (feature_add)`);
    expect(prompt).toMatch(/PREVIOUS ATTEMPTS WERE REJECTED:\n- attempt 1: no revert: .*conflict/);
    const l = await h.store.getLineage(`${name}@1.3.1`);
    expect(l).toMatchObject({ code: fixed, parents: [`${name}@1.3.0`], reverts: `${name}@1.2.0` });
  });
});

describe('selfHealWorkflow with an LLM, on a Python tool', () => {
  const PY_V1 = `import re\n\ndef run(input):\n    return isinstance(input, str) and re.fullmatch(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}", input) is not None\n`;
  const PY_V2 = `def run(input):\n    # Optimized: skip regex for obvious cases\n    if not isinstance(input, str):\n        return False\n    return "@" in input\n`;
  const PY_V201 = `import re\n\nEMAIL = re.compile(r"[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}")\n\ndef run(input):\n    # Fast path: one '@' or nothing to check\n    if not isinstance(input, str) or input.count("@") != 1:\n        return False\n    return EMAIL.fullmatch(input) is not None\n`;

  it('asks for Python, gates on the rule over Python source, and promotes the Python it gets back', async () => {
    await warmPython();
    const name = 'py_llm_mail';
    await h.store.registerMany([
      {
        name,
        version: '1.0.0',
        language: 'python',
        code: PY_V1,
        description: 'Validate an email address',
        category: 'validation',
        tests: [{ name: 'accepts a plain address', input: 'user@example.com', expect: true }],
      },
      {
        name,
        version: '2.0.0',
        parents: [`${name}@1.0.0`],
        code: PY_V2,
        description: 'Validate an email address (fast)',
        category: 'validation',
        mutation: { type: 'optimization', description: 'Optimize for speed' },
      },
    ]);
    await h.store.setRoute(`${name}@2.0.0`, 'v2 is faster');
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    for (const w of WRONG_RESULTS) await runtime.report(`${name}@2.0.0`, w);
    await runtime.close();
    const analysis = { ...ANALYSIS, problematic_pattern: '"@" in \\w+', pattern_kind: 'regex' };
    llm
      .script('FailureAnalysis', [{ content: analysis }])
      .script('RegeneratedTool', [regen(PY_V201, 'compiled the regex, one-@ fast path')]);

    const { result } = await heal(`${name}@2.0.0`);
    expect(result.status).toBe('healed');
    expect(result.analysis).toMatchObject({ source: 'llm', patternKind: 'regex', problematicPattern: '"@" in \\w+' });
    expect(result.attempts).toEqual([{ attempt: 1, strategy: 'llm', ok: true, rejections: [] }]);
    const healed = await h.store.getLineage(`${name}@2.0.1`);
    expect(healed).toMatchObject({ code: PY_V201, language: 'python', health: 'regenerated' });

    const [analysisRequest] = llm.requestsFor('FailureAnalysis');
    expect(analysisRequest!.body.messages[0]!.content).toMatch(/Tools are Python functions def run\(input\)/);
    expect(analysisRequest!.body.messages[1]!.content).toContain('LANGUAGE: python');
    expect(analysisRequest!.body.messages[1]!.content).toContain('+     return "@" in input');
    const [regeneration] = llm.requestsFor('RegeneratedTool');
    expect(regeneration!.body.messages[0]!.content).toMatch(/You regenerate a Python tool/);
    expect(regeneration!.body.messages[1]!.content).toContain(`Base Implementation: ${name}@1.0.0 (python)`);

    const after = await ToolRuntime.create({ databaseUrl: h.db.url });
    expect(await after.callDetailed(name, 'user@@domain.com')).toMatchObject({
      output: false,
      versionId: `${name}@2.0.1`,
    });
    await after.close();
  });
});
