import { performance } from 'node:perf_hooks';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import type { DiseConfig } from '../../config/schema.js';
import { emailLineage, DEMO_TRAFFIC } from '../../demo/email-lineage.js';
import { judgedEmailStory } from '../../demo/judged-story.js';
import { pythonEmailLineage } from '../../demo/python-lineages.js';
import { registrationValidator } from '../../judge/registration.js';
import { createPrismaClient } from '../../infra/database.js';
import { readLiveDevState } from '../../infra/dev-state.js';
import { startDevStack, type DevStack } from '../dev-stack.js';
import { stateDir } from '../../infra/paths.js';
import { connectionOptions, type TemporalSettings } from '../../infra/temporal-connection.js';
import { installTracing } from '../../infra/tracing.js';
import { installTemporalRuntime } from '../../infra/temporal-runtime.js';
import { LineageStore, type RegisterVersionInput } from '../../lineage/store.js';
import { llmSettingsFrom } from '../../llm/client.js';
import { TemporalMonitorSignaler } from '../../runtime/monitor-signaler.js';
import { ToolRuntime } from '../../runtime/tool-runtime.js';
import { warmPython } from '../../sandbox/python.js';
import { Sandbox } from '../../sandbox/sandbox.js';
import { DEFAULT_NAMESPACE, healWorkflowId } from '../../shared/constants.js';
import type { HealProgress } from '../../shared/heal-types.js';
import type { selfHealWorkflow } from '../../workflows/self-heal.js';
import type { Output } from '../context.js';
import { EXIT } from '../errors.js';
import { renderDifferential } from '../format/differential-view.js';
import { renderHeal } from '../format/heal-view.js';
import { colorEnabled, paint } from '../format/style.js';
import { mcpAct, type McpActResult } from './demo-mcp.js';
import { followHeal } from './heal.js';
import { health } from './health.js';
import { lineage } from './lineage.js';
import { rules } from './rules.js';

/**
 * `dise demo`: the email-validator story, end to end, on the embedded stack (or a running
 * `dise dev`): register the lineage (with a merge) — the differential check refuses the "optimize for
 * speed" mutation before any caller sees it — route callers to a feature_add whose differences were
 * listed but allowed, send traffic through the runtime guard, and watch the runtime report its wrong
 * answers, the monitor start the heal, and the heal prune, learn, mint tests, regenerate, validate and
 * reroute. Those lineages are judged without the feature review (no LLM reviewer, no peers), so the
 * bug reaches callers; the last act registers the lineage again beside a peer of its category, with
 * the feature review on, and 2.3.0 is held back at registration: no caller meets its bug. Each run
 * uses fresh tool names, so it can run again and again.
 */
export async function demo(config: DiseConfig, out: Output): Promise<number> {
  const color = colorEnabled(process.stderr);
  const started = performance.now();
  const say = (text: string) =>
    out.info(`${paint(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)}s]`, 'gray', color)} ${text}`);
  const title = (text: string) => out.info(`\n${paint(`== ${text}`, 'bold', color)}`);

  installTemporalRuntime(undefined, undefined, { metricsAddress: config.observability.metrics.worker_address });
  installTracing({
    otlpEndpoint: config.observability.tracing.otlp_endpoint,
    serviceName: config.observability.tracing.service_name,
  });
  title('1. The embedded stack');
  let stack: DevStack | undefined;
  let databaseUrl: string;
  let temporal: TemporalSettings;
  let ui: string | null;
  const live = readLiveDevState();
  if (live) {
    say(`using the running \`dise dev\` (pid ${live.pid})`);
    databaseUrl = live.database;
    temporal = { address: live.temporal, namespace: live.namespace ?? DEFAULT_NAMESPACE, tls: false };
    ui = live.ui;
  } else {
    say('starting PostgreSQL, Temporal (with its UI), a worker and the health monitor…');
    stack = await startDevStack({ dir: stateDir(), config, log: (l) => say(l) });
    databaseUrl = stack.state.database;
    temporal = stack.temporal;
    ui = stack.state.ui;
  }
  say(`Temporal UI: ${ui ?? '(none)'}`);
  const llm = llmSettingsFrom(config);
  say(
    llm
      ? `LLM: ${llm.model}${llm.baseURL ? ` at ${llm.baseURL}` : ''} (analysis and regeneration)`
      : 'LLM: none — offline strategy (diff analysis, rollback regeneration); set OPENAI_API_KEY to use one',
  );

  const prisma = createPrismaClient(databaseUrl);
  const store = new LineageStore(prisma);
  const connection = await Connection.connect(connectionOptions(temporal));
  const client = new Client({ connection, namespace: temporal.namespace });
  const sandbox = new Sandbox(config.sandbox);
  // The healing stories are judged as before the feature review, so 2.3.0's bug reaches callers and
  // the heal can be shown; act 12 judges the same lineage with it.
  const unreviewed: DiseConfig = {
    ...config,
    deployment: {
      ...config.deployment,
      review: 'none',
      feature_review: { ...config.deployment.feature_review, reviewer: false, peers: false },
    },
  };
  try {
    // What both tellings of the story share: the stack and the output.
    const stage = {
      store,
      sandbox,
      config: unreviewed,
      client,
      connection,
      temporal,
      ui,
      databaseUrl,
      say,
      title,
      out,
      color,
    };
    const js = await story({ ...stage, lineage: emailLineage, base: 'email_validator', act: 2 });
    const { name, broken, result, handle } = js;

    title(`6. dise lineage ${broken}`);
    const show = { info: out.info, result: out.info };
    await lineage(broken, { json: false, format: 'text' }, { ...config, database: { url: databaseUrl } }, show);
    title(`7. dise lineage ${name} --format mermaid`);
    await lineage(broken, { json: false, format: 'mermaid' }, { ...config, database: { url: databaseUrl } }, show);
    title('8. dise rules');
    await rules({ json: false }, { ...config, database: { url: databaseUrl } }, show);
    title('9. dise health');
    await health(
      { json: false },
      {
        ...config,
        database: { url: databaseUrl },
        temporal: { ...config.temporal, address: temporal.address, namespace: temporal.namespace },
      },
      show,
    );

    title('10. The same story, with the tool written in Python');
    say('loading the Python interpreter (CPython on WebAssembly, once per process)…');
    await warmPython();
    const py = await story({ ...stage, lineage: pythonEmailLineage, base: 'email_validator_py', act: 10, brief: true });

    title('11. An agent reaches the tool through MCP, reports its wrong answers, and gets the healed one');
    let agentTool = 'email_validator_mcp';
    for (let n = 2; await store.graph.versionCount(agentTool); n++) agentTool = `email_validator_mcp_${n}`;
    await store.registerMany(emailLineage(agentTool), {
      validate: registrationValidator({ store, sandbox, config: unreviewed }),
    });
    await store.setRoute(`${agentTool}@2.3.0`, 'newest passing version (demo)');
    say(`registered the same lineage as ${agentTool}; callers are routed to ${agentTool}@2.3.0`);
    const agent: McpActResult = await mcpAct({
      name: agentTool,
      broken: `${agentTool}@2.3.0`,
      databaseUrl,
      temporal,
      client,
      connection,
      say,
      color,
    });

    title("12. The same lineage judged beyond its parent: 2.3.0's bug caught before any caller");
    say(
      llm
        ? `the feature review: the LLM reviewer (${llm.model}), then peers of the tool's category`
        : "the feature review: no LLM, so peers of the tool's category answer the inputs 2.3.0 answers differently",
    );
    const judged = await judgedEmailStory({ store, sandbox, config, databaseUrl, say });

    out.info('');
    say(
      `done: ${result.status === 'healed' ? paint(`healed — callers of ${name} are on ${result.newVersionId}`, 'green', color) : paint(`heal ended ${result.status}`, 'red', color)}`,
    );
    if (ui)
      say(
        `inspect the heal in the Temporal UI: ${ui}/namespaces/${temporal.namespace}/workflows/${encodeURIComponent(handle.workflowId)}`,
      );
    say(
      `and in Python: ${py.result.status === 'healed' ? paint(`healed — callers of ${py.name} are on ${py.result.newVersionId}`, 'green', color) : paint(`heal ended ${py.result.status}`, 'red', color)}`,
    );
    say(
      `and through MCP: ${agent.status === 'healed' ? paint(`healed — the agent's calls of ${agentTool} are answered by ${agent.healed}`, 'green', color) : paint(`heal ${agent.status}`, 'red', color)}`,
    );
    say(
      `and judged beyond its parent: ${judged.caughtBy ? paint(`${judged.broken}'s bug caught at registration by ${judged.caughtBy}; ${judged.wrong} wrong answers served`, judged.wrong ? 'red' : 'green', color) : paint(`${judged.broken} passed every judge; ${judged.wrong} wrong answers served`, 'red', color)}`,
    );
    out.result(
      JSON.stringify({
        tool: name,
        broken,
        healed: result.newVersionId,
        status: result.status,
        ui,
        python: { tool: py.name, broken: py.broken, healed: py.result.newVersionId, status: py.result.status },
        mcp: {
          tool: agentTool,
          broken: `${agentTool}@2.3.0`,
          healed: agent.healed,
          status: agent.status,
          wrongBefore: agent.wrongBefore,
          rightAfter: agent.rightAfter,
          listChanged: agent.listChanged,
        },
        judged: {
          tool: judged.tool,
          broken: judged.broken,
          caughtBy: judged.caughtBy,
          route: judged.route,
          wrong: judged.wrong,
        },
      }),
    );
    if (stack && ui && process.stdin.isTTY) {
      // The UI lives as long as the stack: keep it up for the person at the terminal.
      say('the stack stays up so the Temporal UI can be explored; press Ctrl-C to stop it');
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    return result.status === 'healed' &&
      py.result.status === 'healed' &&
      agent.status === 'healed' &&
      judged.caughtBy !== null &&
      judged.wrong === 0
      ? EXIT.ok
      : EXIT.failed;
  } finally {
    sandbox.close();
    await connection.close();
    await prisma.$disconnect();
    if (stack) {
      say('stopping the embedded stack (its data stays in .dise/)');
      await stack.stop();
    }
  }
}

interface StoryContext {
  lineage: (name: string) => RegisterVersionInput[];
  /** The tool's name; a later run of the demo adds _2, _3… */
  base: string;
  /** The number of the story's first act (its acts are numbered on from there). */
  act: number;
  /** Fewer lines: the second telling of the story. */
  brief?: boolean;
  store: LineageStore;
  sandbox: Sandbox;
  config: DiseConfig;
  client: Client;
  connection: Connection;
  temporal: TemporalSettings;
  ui: string | null;
  databaseUrl: string;
  say: (text: string) => void;
  title: (text: string) => void;
  out: Output;
  color: boolean;
}

/**
 * The email-validator story on one lineage: registration (each version judged beside its parents),
 * traffic through the runtime guard with callers reporting wrong answers, the heal the monitor
 * starts, and the answers after it.
 */
async function story(
  s: StoryContext,
): Promise<{ name: string; broken: string; result: HealProgress; handle: WorkflowHandle<typeof selfHealWorkflow> }> {
  const { store, sandbox, config, client, connection, temporal, ui, databaseUrl, say, title, out, color } = s;
  const heading = (n: number, text: string) => title(s.brief ? `${s.act}.${n} ${text}` : `${s.act + n - 1}. ${text}`);
  let name = s.base;
  for (let n = 2; await store.graph.versionCount(name); n++) name = `${s.base}_${n}`;
  const refused = `${name}@2.2.0`;
  const broken = `${name}@2.3.0`;

  heading(1, 'The lineage, each version checked beside its parent(s) at registration');
  const registered = await store.registerMany(s.lineage(name), {
    validate: registrationValidator({ store, sandbox, config }),
  });
  for (const r of registered) {
    say(
      `registered ${r.id} (${r.language === 'python' ? 'python, ' : ''}${r.relationship ?? 'root'}${r.parents.length ? ` of ${r.parents.join(' + ')}` : ''}) — ${r.health}`,
    );
    if (r.differential && r.differential.verdict !== 'same')
      for (const line of renderDifferential(r.differential, { indent: '         ', color }).slice(
        0,
        s.brief ? 2 : undefined,
      ))
        out.info(line);
  }
  say(`${refused} "Optimize for speed" promised the same behaviour and did not keep it: stored FAILED, never routed`);
  await store.setRoute(broken, 'newest passing version (demo)');
  say(
    `callers of ${name} are routed to ${broken}: "Accept internationalized addresses" — a feature_add, so its differences were listed, not refused${s.brief ? '' : ' (judged without the feature review: no LLM reviewer, no peers — act 12 judges it with them)'}`,
  );

  heading(2, 'Traffic through the runtime guard');
  const runtime = await ToolRuntime.create({
    databaseUrl,
    config,
    signaler: new TemporalMonitorSignaler(client),
    log: (l) => say(l),
  });
  try {
    let wrong = 0;
    for (const t of DEMO_TRAFFIC) {
      const { output, versionId } = await runtime.callDetailed(name, t.input);
      const ok = output === t.valid;
      say(
        `${versionId}(${JSON.stringify(t.input)}) = ${JSON.stringify(output)}${ok ? '' : paint(`  ✗ wrong: ${t.valid ? 'valid' : 'invalid'} address`, 'red', color)}`,
      );
      if (!ok) {
        wrong++;
        const reported = await runtime.report(versionId, {
          input: t.input,
          observed: output,
          expected: t.valid,
          description: `Accepted '${t.input}'`,
        });
        if (reported.signalled)
          say(
            paint(
              `failure_count reached ${reported.failureCount}: the runtime signalled the health monitor (failureReported)`,
              'yellow',
              color,
            ),
          );
      }
    }
    await runtime.flush();
    const servedByRefused = (await store.getLineage(refused)).executionCount;
    say(`${wrong} wrong answers reported by callers, all from ${broken}; ${servedByRefused} calls reached ${refused}`);

    heading(3, 'Self-healing');
    const handle = client.workflow.getHandle<typeof selfHealWorkflow>(healWorkflowId(broken));
    for (let i = 0; i < 300; i++) {
      if (
        await handle.describe().then(
          () => true,
          () => false,
        )
      )
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    say(
      `the monitor started ${handle.workflowId}${ui ? ` — ${ui}/namespaces/${temporal.namespace}/workflows/${encodeURIComponent(handle.workflowId)}` : ''}`,
    );
    const result: HealProgress = await followHeal(
      { client, connection, settings: temporal, close: async () => undefined },
      handle,
      { info: (l) => say(l), result: (t) => out.result(t) },
      false,
    );
    out.info('');
    if (!s.brief) out.info(renderHeal(result));

    heading(4, 'After the heal');
    let right = 0;
    for (const t of DEMO_TRAFFIC) {
      const { output, versionId } = await runtime.callDetailed(name, t.input);
      if (output === t.valid) right++;
      else
        say(paint(`${versionId}(${JSON.stringify(t.input)}) = ${JSON.stringify(output)} ✗ still wrong`, 'red', color));
    }
    say(`${right}/${DEMO_TRAFFIC.length} answers right, from ${result.newVersionId ?? '?'}`);
    const minted = await store.tests.mintedCount(name);
    say(`${minted} failing inputs minted into regression tests; no descendant can repeat them`);
    return { name, broken, result, handle };
  } finally {
    await runtime.close();
  }
}
