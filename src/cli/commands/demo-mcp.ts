import path from 'node:path';
import { Client as McpClient } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ToolListChangedNotificationSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Client, Connection } from '@temporalio/client';
import { DEMO_TRAFFIC } from '../../demo/email-lineage.js';
import { PACKAGE_ROOT } from '../../infra/paths.js';
import type { TemporalSettings } from '../../infra/temporal-connection.js';
import { healWorkflowId } from '../../shared/constants.js';
import type { HealProgress } from '../../shared/heal-types.js';
import type { selfHealWorkflow } from '../../workflows/self-heal.js';
import { paint } from '../format/style.js';
import { followHeal } from './heal.js';

export interface McpActContext {
  /** The tool, routed to its broken version. */
  name: string;
  broken: string;
  databaseUrl: string;
  temporal: TemporalSettings;
  client: Client;
  connection: Connection;
  say: (text: string) => void;
  color: boolean;
  /** The environment `dise mcp` runs in (default: this process's, with the stack's database and Temporal). */
  env?: NodeJS.ProcessEnv;
}

export interface McpActResult {
  status: HealProgress['status'] | 'not started';
  healed: string | null;
  wrongBefore: number;
  rightAfter: number;
  /** tools/list_changed notifications the agent received (a heal sends none: the name stays). */
  listChanged: number;
}

function textOf(result: CallToolResult): string {
  const first = result.content[0];
  return first?.type === 'text' ? first.text : '';
}

/**
 * The demo's agent act: an MCP client starts `dise mcp` over stdio as its command, calls the tool by
 * name, reports each wrong answer with dise_report, waits for the heal the reports start, and calls
 * the same name again.
 */
export async function mcpAct(ctx: McpActContext): Promise<McpActResult> {
  const { name, broken, say, color } = ctx;
  const env = {
    ...(ctx.env ?? process.env),
    DATABASE_URL: ctx.databaseUrl,
    TEMPORAL_ADDRESS: ctx.temporal.address,
    TEMPORAL_NAMESPACE: ctx.temporal.namespace,
  } as Record<string, string>;
  const agent = new McpClient({ name: 'dise-demo-agent', version: '1.0.0' });
  let listChanged = 0;
  agent.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
  say(
    `an MCP client starts \`dise mcp\` over stdio (command: node ${path.relative(process.cwd(), path.join(PACKAGE_ROOT, 'bin', 'dise.mjs')) || 'bin/dise.mjs'} mcp)`,
  );
  await agent.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [path.join(PACKAGE_ROOT, 'bin', 'dise.mjs'), 'mcp'],
      env,
      stderr: 'ignore',
    }),
  );
  try {
    const { tools } = await agent.listTools();
    const tool = tools.find((t) => t.name === name);
    say(
      `tools/list: ${tools.length} tools; ${name} takes ${JSON.stringify(tool?.inputSchema)} (its input is not a JSON object, so it travels in "input")`,
    );

    let wrongBefore = 0;
    for (const t of DEMO_TRAFFIC) {
      const answer = (await agent.callTool({ name, arguments: { input: t.input } })) as CallToolResult;
      const output = JSON.parse(textOf(answer)) as unknown;
      const version = answer._meta?.['dise/version'];
      if (output === t.valid) continue;
      wrongBefore++;
      say(
        `tools/call ${name}(${JSON.stringify(t.input)}) = ${JSON.stringify(output)} from ${String(version)}${paint('  ✗ wrong: the agent reports it', 'red', color)}`,
      );
      const report = (await agent.callTool({
        name: 'dise_report',
        arguments: {
          tool: name,
          input: { input: t.input },
          observed: output,
          expected: t.valid,
          note: `Accepted '${t.input}'`,
        },
      })) as CallToolResult;
      say(`  dise_report → ${textOf(report)}`);
    }

    const handle = ctx.client.workflow.getHandle<typeof selfHealWorkflow>(healWorkflowId(broken));
    let started = false;
    for (let i = 0; i < 300 && !started; i++) {
      started = await handle.describe().then(
        () => true,
        () => false,
      );
      if (!started) await new Promise((r) => setTimeout(r, 100));
    }
    if (!started) {
      say(paint(`no heal of ${broken} started`, 'red', color));
      return { status: 'not started', healed: null, wrongBefore, rightAfter: 0, listChanged };
    }
    say(`the reports crossed the threshold: the monitor started ${handle.workflowId}`);
    const result = await followHeal(
      { client: ctx.client, connection: ctx.connection, settings: ctx.temporal, close: async () => undefined },
      handle,
      { info: (l) => say(l), result: () => undefined },
      false,
    );

    let rightAfter = 0;
    let answeredBy = '';
    // The runtime inside `dise mcp` follows the route at once (a database notification); allow it a moment.
    for (let attempt = 0; attempt < 50; attempt++) {
      rightAfter = 0;
      for (const t of DEMO_TRAFFIC) {
        const answer = (await agent.callTool({ name, arguments: { input: t.input } })) as CallToolResult;
        if (JSON.parse(textOf(answer)) === t.valid) rightAfter++;
        answeredBy = String(answer._meta?.['dise/version']);
      }
      if (answeredBy === result.newVersionId || result.status !== 'healed') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    say(
      `the same tool name, ${name}: ${rightAfter}/${DEMO_TRAFFIC.length} answers right, from ${answeredBy}; tools/list_changed received: ${listChanged} (a heal swaps the code, not the tool)`,
    );
    return { status: result.status, healed: result.newVersionId ?? null, wrongBefore, rightAfter, listChanged };
  } finally {
    await agent.close();
  }
}
