import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { mcpAct } from '../../src/cli/commands/demo-mcp.js';
import { defaultConfig } from '../../src/config/schema.js';
import { emailLineage } from '../../src/demo/email-lineage.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { DEFAULT_NAMESPACE, HEALTH_MONITOR_WORKFLOW_ID } from '../../src/shared/constants.js';
import { useHealStack } from '../support/heal-stack.js';

// The demo's agent act on its own: an MCP client drives a `dise mcp` subprocess over stdio, reports
// the wrong answers with dise_report, and the heal those reports start answers the same tool name.

const stack = useHealStack('mcp-demo');
const sandbox = new Sandbox(defaultConfig().sandbox);

afterAll(async () => {
  sandbox.close();
  await stack.temporal?.client.workflow
    .getHandle(HEALTH_MONITOR_WORKFLOW_ID)
    .terminate('test done')
    .catch(() => undefined);
});

describe('the demo act: an agent over MCP', () => {
  it('reports the wrong answers through dise_report, sees the heal, and gets right answers from the same name', async () => {
    const config = defaultConfig();
    await stack.store.registerMany(emailLineage('agent_email'), {
      validate: registrationValidator({ store: stack.store, sandbox, config }),
    });
    await stack.store.setRoute('agent_email@2.3.0', 'test');
    const lines: string[] = [];
    const result = await mcpAct({
      name: 'agent_email',
      broken: 'agent_email@2.3.0',
      databaseUrl: stack.db.url,
      temporal: { address: inject('temporalAddress'), namespace: DEFAULT_NAMESPACE, tls: false },
      client: stack.temporal.client,
      connection: stack.temporal.connection,
      say: (l) => lines.push(l),
      color: false,
      // `dise mcp` signals the monitor on this file's task queue, where its worker runs.
      env: { ...process.env, DISE_TASK_QUEUE: stack.taskQueue },
    });
    expect(result, lines.join('\n')).toMatchObject({ status: 'healed', healed: 'agent_email@2.3.1', listChanged: 0 });
    expect(result.wrongBefore).toBeGreaterThanOrEqual(3);
    expect(result.rightAfter).toBe(12);
    expect(lines.join('\n')).toMatch(
      /dise_report → recorded failure #\d+ against agent_email@2\.3\.0 \(failure count 3\); the health monitor was signalled/,
    );
  }, 180_000);
});
