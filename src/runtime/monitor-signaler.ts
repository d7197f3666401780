import type { Client } from '@temporalio/client';
import { taskQueueFromEnv } from '../infra/temporal-connection.js';
import { HEALTH_MONITOR_WORKFLOW_ID, HEALTH_MONITOR_WORKFLOW_TYPE } from '../shared/constants.js';
import { failureReportedSignal, type FailureReport } from '../shared/messages.js';

/** Where a runtime sends failure reports. */
export interface MonitorSignaler {
  failureReported(report: FailureReport): Promise<void>;
}

/**
 * Reports to the health monitor by signalWithStart, so a report reaches it even when no monitor runs
 * yet (Temporal starts it and delivers the signal in one call).
 */
export class TemporalMonitorSignaler implements MonitorSignaler {
  constructor(
    private readonly client: Client,
    private readonly target: { workflowId?: string; taskQueue?: string } = {},
  ) {}

  async failureReported(report: FailureReport): Promise<void> {
    await this.client.workflow.signalWithStart(HEALTH_MONITOR_WORKFLOW_TYPE, {
      workflowId: this.target.workflowId ?? HEALTH_MONITOR_WORKFLOW_ID,
      taskQueue: this.target.taskQueue ?? taskQueueFromEnv(),
      args: [{}],
      signal: failureReportedSignal,
      signalArgs: [report],
    });
  }
}

/** Keeps reports in memory, for runtimes without Temporal (and for tests). */
export class MemorySignaler implements MonitorSignaler {
  readonly reports: FailureReport[] = [];
  async failureReported(report: FailureReport): Promise<void> {
    this.reports.push(report);
  }
}
