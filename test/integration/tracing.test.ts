import { randomBytes } from 'node:crypto';
import { Client } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { installTracing } from '../../src/infra/tracing.js';
import { TemporalMonitorSignaler, ToolRuntime } from '../../src/runtime/index.js';
import { useHealStack } from '../support/heal-stack.js';
import { pollUntil } from '../support/wait.js';
import { startHeal } from '../../src/client/start-heal.js';
import { LLM_ANALYSIS, registerEmailStory, V201_CODE, WRONG_RESULTS } from '../support/email-story.js';
import { FakeOpenAI } from '../support/fake-openai.js';
import { healInput, reportWrongResults } from '../support/failures.js';
import { startTestWorker, uniqueTaskQueue } from '../support/temporal.js';

// Tracing is per process (vitest runs each file in its own): installed before the worker starts, it
// bundles the workflows with the tracing interceptors and exports every span to this exporter.
const exporter = new InMemorySpanExporter();
const tracing = installTracing({ exporter, serviceName: 'dise-test' })!;
const h = useHealStack('trace');
const closing: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closing.reverse()) await close().catch(() => undefined);
});

const id = (s: ReadableSpan) => s.spanContext().spanId;
const parentOf = (s: ReadableSpan) => s.parentSpanId;

describe('one trace from the failing call to the promotion', () => {
  it('connects the call, the report, the signal to the monitor, the heal workflow and each of its steps', async () => {
    const tool = `traced_${randomBytes(3).toString('hex')}`;
    const versionId = `${tool}@2.0.0`;
    await h.store.registerMany([
      {
        name: tool,
        version: '1.0.0',
        code: "function run(input) { return typeof input === 'string' && /^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$/i.test(input); }",
        tests: [
          { name: 'plain', input: 'a@b.co', expect: true },
          { name: 'no at', input: 'ab.co', expect: false },
        ],
      },
      {
        name: tool,
        version: '2.0.0',
        parents: [`${tool}@1.0.0`],
        code: "function run(input) { const s = input.trim(); return s.length > 3 && s.split('@').length === 2; }",
        mutation: { type: 'optimization', description: 'Optimize for speed' },
      },
    ]);
    await h.store.setRoute(versionId, 'test');
    // A client that sends the span context with its signals, as connectTemporalClient makes when traced.
    const client = new Client({
      connection: h.temporal.connection,
      interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    });
    const monitorId = `monitor-${tool}`;
    closing.push(() => client.workflow.getHandle(monitorId).terminate('test over'));
    const config = defaultConfig();
    config.runtime.flush_interval_ms = 20;
    const runtime = await ToolRuntime.create({
      databaseUrl: h.db.url,
      config,
      tracer: tracing.tracer,
      signaler: new TemporalMonitorSignaler(client, { workflowId: monitorId, taskQueue: h.taskQueue }),
    });
    closing.push(() => runtime.close());
    // Three failing calls cross failure_count_trigger (3): the runtime reports to the monitor.
    for (let i = 0; i < 3; i++) await expect(runtime.call(tool, 42)).rejects.toThrow(/trim/);
    await runtime.flush();
    expect(runtime.signalsSent).toBe(1);

    const heal = client.workflow.getHandle(`heal:${versionId}`);
    const result = await pollUntil(
      () => heal.result().catch(() => undefined),
      (r) => r !== undefined,
      { what: `the heal of ${versionId}` },
    );
    expect(result?.status).toBe('healed');

    // Workflow spans leave the worker through its sink once their activation completes.
    const spans = await pollUntil(
      () => exporter.getFinishedSpans(),
      (all) => all.some((s) => s.name === 'RunWorkflow:selfHealWorkflow'),
      { what: "the heal workflow's span", timeout: 30_000 },
    );
    const report = spans.find((s) => s.name === 'dise.failure_report');
    expect(report, spans.map((s) => s.name).join(', ')).toBeDefined();
    const traceId = report!.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const named = (name: string) => inTrace.filter((s) => s.name === name);

    // The call that crossed the threshold parents the report, which parents the signal…
    const calls = named('dise.tool.call');
    expect(calls).toHaveLength(1);
    expect(calls[0]!.attributes).toMatchObject({ 'dise.tool': tool, 'dise.version': versionId });
    expect(parentOf(report!)).toBe(id(calls[0]!));
    const signal = named('SignalWithStartWorkflow:healthMonitorWorkflow');
    expect(signal).toHaveLength(1);
    expect(parentOf(signal[0]!)).toBe(id(report!));
    // …which the monitor handles in the same trace…
    expect(named('HandleSignal:failureReported').map(parentOf)).toEqual([id(signal[0]!)]);
    // …and the heal it starts joins the report's trace.
    const run = named('RunWorkflow:selfHealWorkflow');
    expect(run).toHaveLength(1);
    expect(parentOf(run[0]!)).toBe(id(report!));
    const steps = ['recordFailure', 'analyzeFailure', 'pruneBranch', 'createAvoidanceRule', 'findHealthyAncestor'];
    for (const step of [...steps, 'regenerate', 'validateCandidate', 'promote']) {
      const activity = named(`RunActivity:${step}`);
      expect(activity.length, step).toBeGreaterThanOrEqual(1);
      const scheduled = inTrace.find((s) => s.spanContext().spanId === parentOf(activity[0]!));
      expect(scheduled?.name, step).toBe(`StartActivity:${step}`);
      expect(parentOf(scheduled!), step).toBe(id(run[0]!));
    }
    // No span carries the tool's input.
    for (const s of inTrace) expect(JSON.stringify(s.attributes)).not.toContain('"42"');
  });
});

describe('the LLM request of a heal step', () => {
  it("is a child span of the activity that asked, in the heal's trace", async () => {
    const llm = new FakeOpenAI();
    await llm.start();
    closing.push(() => llm.stop());
    const taskQueue = uniqueTaskQueue('trace-llm');
    const worker = await startTestWorker(h.db, {
      taskQueue,
      llm: { apiKey: 'test-key', baseURL: llm.url, model: 'scripted-model', timeoutMs: 1500, temperature: 0 },
    });
    closing.push(() => worker.shutdown());
    const name = `traced_llm_${randomBytes(3).toString('hex')}`;
    await registerEmailStory(h.store, name);
    await reportWrongResults(h.db.url, `${name}@2.0.0`, WRONG_RESULTS);
    llm
      .script('FailureAnalysis', [{ content: LLM_ANALYSIS }])
      .script('RegeneratedTool', [{ content: { code: V201_CODE, notes: 'cached the regex' } }]);
    const client = new Client({
      connection: h.temporal.connection,
      interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
    });
    const { handle } = await startHeal(client, healInput(`${name}@2.0.0`), { taskQueue });
    expect((await handle.result()).status).toBe('healed');

    const spans = await pollUntil(
      () => exporter.getFinishedSpans(),
      (all) => all.filter((s) => s.name === 'RunWorkflow:selfHealWorkflow').length >= 2,
      { what: "the LLM heal's workflow span", timeout: 30_000 },
    );
    const traceId = spans.find((s) => s.name === 'StartWorkflow:selfHealWorkflow')!.spanContext().traceId;
    const inTrace = spans.filter((s) => s.spanContext().traceId === traceId);
    const requests = inTrace.filter((s) => s.name === 'llm.request');
    expect(requests.map((r) => r.attributes['dise.llm.schema']).sort()).toEqual(['FailureAnalysis', 'RegeneratedTool']);
    for (const request of requests) {
      const parent = inTrace.find((s) => s.spanContext().spanId === request.parentSpanId);
      expect(parent?.name).toMatch(/^RunActivity:(analyzeFailure|regenerate)$/);
      expect(request.attributes['gen_ai.request.model']).toBe('scripted-model');
      // The prompt and the answer stay out of the span.
      expect(JSON.stringify(request.attributes)).not.toContain('indexOf');
    }
  });
});
