/**
 * The worker's workflowsPath: every workflow dise-heal runs is re-exported here.
 * Workflow code is deterministic: it imports only src/shared and @temporalio/workflow.
 */
export { selfHealWorkflow } from './self-heal.js';
export { healthMonitorWorkflow, type HealthMonitorOptions, type MonitorState } from './health-monitor.js';
export { canaryWorkflow } from './canary.js';
export { ruleSubscriptionWorkflow } from './rule-subscription.js';
export { reviewWorkflow } from './review.js';
