import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startHeal } from '../../src/client/start-heal.js';
import { TemporalMonitorSignaler } from '../../src/runtime/monitor-signaler.js';
import type { FailureReport } from '../../src/shared/messages.js';
import { DISE_TOOL, DISE_VERSION } from '../../src/shared/search-attributes.js';
import { registerThrowingTool } from '../support/fixtures.js';
import { useHealStack } from '../support/heal-stack.js';
import { failureReport } from '../support/failures.js';
import { healInput } from '../support/failures.js';
import { findWorkflowIds } from '../support/temporal.js';
import { pollUntil } from '../support/wait.js';

// Heals are found in the Temporal UI by DiseTool and DiseVersion whatever started them: the operator
// (client start) or the health monitor (its startHeals activity), which is also how the tool runtime's reports
// start heals. Real dev server, real visibility store (eventually consistent: polled).

const stack = useHealStack('visibility');

function unique(prefix: string): string {
  return `${prefix}_${randomBytes(3).toString('hex')}`;
}

const report = (versionId: string): FailureReport =>
  failureReport(versionId, { description: '10% of calls throw', reportedAt: new Date().toISOString() });

describe('finding heals by DiseTool', () => {
  it('finds a heal the monitor started on a runtime report', async () => {
    const tool = unique('monitored');
    const versionId = `${tool}@2.0.0`;
    await registerThrowingTool(stack.store, stack.db.url, tool);
    const { client } = stack.temporal;
    // The runtime's path: signalWithStart to the monitor (its own id here), which starts the heal.
    const monitorId = unique('monitor');
    await new TemporalMonitorSignaler(client, { workflowId: monitorId, taskQueue: stack.taskQueue }).failureReported(
      report(versionId),
    );
    try {
      const heal = client.workflow.getHandle(`heal:${versionId}`);
      // The monitor's startHeals activity starts the heal: until it has, there is no heal to wait for.
      const result = await pollUntil(
        () => heal.result().catch(() => undefined),
        (r) => r !== undefined,
        { what: `the heal of ${versionId}` },
      );
      expect(result?.status).toBe('healed');
      const attributes = (await heal.describe()).typedSearchAttributes;
      expect(attributes.get(DISE_TOOL)).toBe(tool);
      expect(attributes.get(DISE_VERSION)).toBe(versionId);

      expect(await findWorkflowIds(client, `DiseTool = "${tool}"`)).toEqual([`heal:${versionId}`]);
      expect(await findWorkflowIds(client, `DiseVersion = "${versionId}"`)).toEqual([`heal:${versionId}`]);
      expect((await client.workflow.count(`DiseTool = "${tool}"`)).count).toBe(1);
    } finally {
      await client.workflow
        .getHandle(monitorId)
        .terminate('test over')
        .catch(() => undefined);
    }
  });

  it('finds a heal an operator started the same way', async () => {
    const tool = unique('operated');
    const versionId = `${tool}@2.0.0`;
    await registerThrowingTool(stack.store, stack.db.url, tool);
    const { client } = stack.temporal;
    const { handle } = await startHeal(
      client,
      healInput(
        versionId,
        { failureType: 'manual', description: 'test', severity: 'high', detectionMethod: 'manual' },
        'manual',
      ),
      { taskQueue: stack.taskQueue },
    );
    await handle.result();
    expect(await findWorkflowIds(client, `DiseTool = "${tool}" AND DiseVersion = "${versionId}"`)).toEqual([
      `heal:${versionId}`,
    ]);
  });
});
