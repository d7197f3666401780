import type { Client, WorkflowHandle } from '@temporalio/client';
import { taskQueueFromEnv } from '../infra/temporal-connection.js';
import { HEALTH_MONITOR_WORKFLOW_ID, HEALTH_MONITOR_WORKFLOW_TYPE } from '../shared/constants.js';
import { monitorStatusQuery, type MonitorStatus } from '../shared/messages.js';
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

/** The monitor's status, or why it could not be had. */
export type MonitorReachability = ({ reachable: true } & MonitorStatus) | { reachable: false; reason: string };

/** How long `dise health` and the dashboard wait for the monitor to answer its status query. */
export const MONITOR_QUERY_TIMEOUT_MS = 5_000;

/**
 * Asks the namespace's health monitor for its status. A query is answered by a worker: with no
 * worker polling the monitor's task queue, Temporal holds it for a long time, so it gets a deadline
 * and an answer that says what to start.
 */
export async function askMonitorStatus(
  client: Client,
  { timeoutMs = MONITOR_QUERY_TIMEOUT_MS, workflowId = HEALTH_MONITOR_WORKFLOW_ID } = {},
): Promise<MonitorReachability> {
  const deadline = Date.now() + timeoutMs;
  try {
    const status = await client.connection.withDeadline(deadline, () =>
      client.workflow.getHandle(workflowId).query(monitorStatusQuery),
    );
    return { reachable: true, ...status };
  } catch (err) {
    // Past the deadline, whatever error ended the wait (the server may answer one of its own, such as
    // a cancelled context, instead of the client's DEADLINE_EXCEEDED): nobody answered in time.
    if (isDeadline(err) || Date.now() >= deadline) {
      return {
        reachable: false,
        reason: `the health monitor did not answer within ${timeoutMs / 1000} s: is a dise worker running (dise worker, or dise dev)?`,
      };
    }
    return { reachable: false, reason: (err as Error).message.split('\n')[0]! };
  }
}

/** gRPC's status code for a call that outlived its deadline. */
const DEADLINE_EXCEEDED = 4;

function isDeadline(err: unknown): boolean {
  for (let e = err as { code?: unknown; message?: unknown; cause?: unknown } | undefined; e; e = e.cause as typeof e) {
    if (e.code === DEADLINE_EXCEEDED || /deadline exceeded/i.test(String(e.message))) return true;
  }
  return false;
}
