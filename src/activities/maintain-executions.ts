import type { MaintenanceReport } from '../lineage/execution-retention.js';
import type { ActivityDeps } from './deps.js';

/**
 * Keeps `executions` bounded (run by the health monitor, hourly): makes the coming days' partitions,
 * sums finished hours into execution_rollups, and drops the day partitions older than
 * runtime.execution_retention_days.
 */
export function maintainExecutionsActivity(deps: ActivityDeps) {
  return async function maintainExecutions(): Promise<MaintenanceReport> {
    return deps.store.retention.maintain({ retentionDays: deps.config.runtime.execution_retention_days });
  };
}
