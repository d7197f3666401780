import type { Client, WorkflowHandle } from '@temporalio/client';
import { taskQueueFromEnv } from '../infra/temporal-connection.js';
import { HEALTH_MONITOR_WORKFLOW_ID, HEALTH_MONITOR_WORKFLOW_TYPE } from '../shared/constants.js';
import type { healthMonitorWorkflow } from '../workflows/health-monitor.js';

/** Starts the namespace's health monitor unless it runs already; returns its handle. */
export async function ensureHealthMonitor(
  client: Client,
  { taskQueue = taskQueueFromEnv() }: { taskQueue?: string } = {},
): Promise<WorkflowHandle<typeof healthMonitorWorkflow>> {
  return client.workflow.start<typeof healthMonitorWorkflow>(HEALTH_MONITOR_WORKFLOW_TYPE, {
    workflowId: HEALTH_MONITOR_WORKFLOW_ID,
    taskQueue,
    args: [{}],
    workflowIdConflictPolicy: 'USE_EXISTING',
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
}
