import { afterAll, describe, expect, it } from 'vitest';
import { startHeal } from '../../src/client/start-heal.js';
import { defaultConfig } from '../../src/config/schema.js';
import { RuntimeMetrics, ToolRuntime } from '../../src/runtime/index.js';
import { DASHBOARD_METRICS, HEAL_METRICS, RUNTIME_METRICS } from '../../src/shared/metric-names.js';
import { startDashboard, type RunningDashboard } from '../../src/ui/server.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { healInput, reportWrongResults } from '../support/failures.js';
import { version } from '../support/fixtures.js';
import { useHealStack } from '../support/heal-stack.js';
import { RecordingMeter } from '../support/recording-meter.js';

const meter = new RecordingMeter();
const h = useHealStack('metrics', { metricMeter: meter });
const closing: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closing.reverse()) await close().catch(() => undefined);
});

/** An input, an output and a token that must never reach /metrics. */
const SECRET_INPUT = 'input-c4f1e9-never-in-metrics';
const SECRET_OUTPUT = 'output-7d2a08-never-in-metrics';
const TOKEN = 'token-93be51-never-in-metrics-xx';

/** The families of a Prometheus exposition text: name → TYPE, and every sample line. */
function parseExposition(text: string): { types: Map<string, string>; samples: string[] } {
  const types = new Map<string, string>();
  const samples: string[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    else if (line && !line.startsWith('#')) samples.push(line);
  }
  return { types, samples };
}

function sampleValue(samples: string[], name: string, labels: Record<string, string>): number | undefined {
  const line = samples.find(
    (s) => s.startsWith(`${name}{`) && Object.entries(labels).every(([k, v]) => s.includes(`${k}="${v}"`)),
  );
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

async function runtimeWithMetrics(metrics: RuntimeMetrics): Promise<ToolRuntime> {
  const config = defaultConfig();
  config.runtime.flush_interval_ms = 50;
  const rt = await ToolRuntime.create({ databaseUrl: h.db.url, config, metrics });
  closing.push(() => rt.close());
  return rt;
}

describe('the tool runtime metrics (opt-in prom-client)', () => {
  it('names and types every metric by Prometheus conventions, counts calls, errors by kind and cache hits', async () => {
    await h.store.registerVersion(
      version('metrics_echo', '1.0.0', [], {
        code: `function run(x) { if (x === 'boom') throw new TypeError('no'); return x === '${SECRET_INPUT}' ? '${SECRET_OUTPUT}' : x; }`,
      }),
    );
    await h.store.setRoute('metrics_echo@1.0.0', 'test');
    const metrics = new RuntimeMetrics();
    const rt = await runtimeWithMetrics(metrics);
    expect(await rt.call('metrics_echo', SECRET_INPUT)).toBe(SECRET_OUTPUT);
    expect(await rt.call('metrics_echo', 'hi')).toBe('hi');
    await expect(rt.call('metrics_echo', 'boom')).rejects.toThrow(/no/);
    await expect(rt.call(`no_such_tool_${SECRET_INPUT}`, 1)).rejects.toThrow(/unknown tool/);

    const text = await metrics.text();
    const { types, samples } = parseExposition(text);
    for (const m of Object.values(RUNTIME_METRICS)) expect(types.get(m.exposed), m.exposed).toBe(m.type);
    for (const name of types.keys()) {
      expect(name).toMatch(/^dise_runtime_[a-z_]+$/);
      if (types.get(name) === 'counter') expect(name).toMatch(/_total$/);
    }
    expect(types.get('dise_runtime_call_duration_seconds')).toBe('histogram');
    expect(sampleValue(samples, 'dise_runtime_calls_total', { tool: 'metrics_echo', result: 'ok' })).toBe(2);
    expect(sampleValue(samples, 'dise_runtime_calls_total', { tool: 'metrics_echo', result: 'error' })).toBe(1);
    expect(sampleValue(samples, 'dise_runtime_call_errors_total', { tool: 'metrics_echo', kind: 'thrown' })).toBe(1);
    // An unknown name is the caller's input: counted under tool="", never as a label of its own.
    expect(sampleValue(samples, 'dise_runtime_call_errors_total', { tool: '', kind: 'unknown_tool' })).toBe(1);
    expect(sampleValue(samples, 'dise_runtime_call_duration_seconds_count', { tool: 'metrics_echo' })).toBe(3);
    expect(sampleValue(samples, 'dise_runtime_route_lookups_total', { result: 'miss' })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(samples, 'dise_runtime_route_lookups_total', { result: 'hit' })).toBeGreaterThanOrEqual(2);
    expect(text).not.toContain(SECRET_INPUT);
    expect(text).not.toContain(SECRET_OUTPUT);
  });

  it('counts reported wrong answers by tool and severity', async () => {
    const metrics = new RuntimeMetrics();
    const rt = await runtimeWithMetrics(metrics);
    await rt.report('metrics_echo@1.0.0', { input: SECRET_INPUT, observed: SECRET_OUTPUT, severity: 'medium' });
    const text = await metrics.text();
    const { samples } = parseExposition(text);
    expect(
      sampleValue(samples, 'dise_runtime_wrong_answers_reported_total', { tool: 'metrics_echo', severity: 'medium' }),
    ).toBe(1);
    expect(text).not.toContain(SECRET_INPUT);
  });
});

describe("the dashboard's /metrics", () => {
  let dashboard: RunningDashboard;

  it('serves its requests by route pattern and the lineage state, with no inputs, outputs or token', async () => {
    dashboard = await startDashboard({
      store: h.store,
      databaseUrl: h.db.url,
      temporal: null,
      temporalUiUrl: null,
      taskQueue: h.taskQueue,
      config: defaultConfig(),
      token: TOKEN,
      host: '127.0.0.1',
      port: 0,
    });
    closing.push(() => dashboard.close());
    expect((await fetch(`${dashboard.url}/versions/metrics_echo@1.0.0`)).status).toBe(200);
    const response = await fetch(`${dashboard.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const { types, samples } = parseExposition(text);
    for (const m of Object.values(DASHBOARD_METRICS)) expect(types.get(m.exposed), m.exposed).toBe(m.type);
    for (const [name, type] of types) {
      expect(name).toMatch(/^dise_[a-z0-9_]+$/);
      if (type === 'counter') expect(name).toMatch(/_total$/);
    }
    expect(
      sampleValue(samples, 'dise_dashboard_requests_total', { route: '/versions/:id', method: 'GET', status: '200' }),
    ).toBe(1);
    expect(sampleValue(samples, 'dise_versions', { health: 'healthy' })).toBeGreaterThanOrEqual(1);
    // A path is never a label (tool names and version ids are in paths), nor anything a tool saw or said.
    expect(text).not.toContain('metrics_echo');
    expect(text).not.toContain(SECRET_INPUT);
    expect(text).not.toContain(SECRET_OUTPUT);
    expect(text).not.toContain(TOKEN);
  });
});

describe("the worker's heal metrics", () => {
  it('a heal increments heals started and ended (by outcome and strategy), prunes, rules and the duration', async () => {
    await registerEmailStory(h.store, 'metrics_mail');
    await reportWrongResults(h.db.url, 'metrics_mail@2.0.0', WRONG_RESULTS);
    const ended = () => meter.sum(HEAL_METRICS.healsEnded.name, { outcome: 'healed', strategy: 'rollback' });
    const before = ended();

    const { handle } = await startHeal(
      h.temporal.client,
      healInput('metrics_mail@2.0.0', { description: 'accepts invalid emails', detectionMethod: 'report' }),
      { taskQueue: h.taskQueue },
    );
    expect((await handle.result()).status).toBe('healed');

    expect(ended()).toBe(before + 1);
    expect(meter.sum(HEAL_METRICS.healsStarted.name, { trigger: 'report' })).toBe(1);
    expect(meter.sum(HEAL_METRICS.wrongAnswersReported.name)).toBe(1);
    expect(meter.sum(HEAL_METRICS.prunes.name)).toBe(1);
    expect(meter.sum(HEAL_METRICS.rulesCreated.name, { scope: 'descendants' })).toBe(1);
    const durations = meter.points.filter((p) => p.name === HEAL_METRICS.healDuration.name);
    expect(durations).toHaveLength(1);
    expect(durations[0]!.tags).toMatchObject({ outcome: 'healed' });
    expect(durations[0]!.value).toBeGreaterThan(0);
    // Bounded labels only: no tool, version or input names a series.
    for (const p of meter.points) {
      expect(Object.keys(p.tags).sort()).not.toContain('tool');
      expect(JSON.stringify(p.tags)).not.toContain('metrics_mail');
    }
  });
});
