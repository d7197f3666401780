/** Names shared by worker, client, CLI and tests: defined once, never repeated as bare strings. */

export const TASK_QUEUE = 'dise-heal';
export const DEFAULT_NAMESPACE = 'default';

/** The health monitor runs once per namespace under this id, as this workflow type. */
export const HEALTH_MONITOR_WORKFLOW_TYPE = 'healthMonitorWorkflow';
export const HEALTH_MONITOR_WORKFLOW_ID = 'dise-health-monitor';

/** A heal of a version runs under `heal:<versionId>`, so a second trigger joins it. */
export function healWorkflowId(versionId: string): string {
  return `heal:${versionId}`;
}

/** A version's canary runs under `canary:<versionId>` (one per version). */
export function canaryWorkflowId(versionId: string): string {
  return `canary:${versionId}`;
}

/** The OpenTelemetry instrumentation scope of dise's own spans (calls, reports, LLM requests). */
export const TRACER_NAME = 'dise-heal';
