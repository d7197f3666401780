import type { SearchAttributePair, WorkflowIdReusePolicy } from '@temporalio/common';
import { healWorkflowId } from './constants.js';
import type { SelfHealInput } from './heal-types.js';
import { parseVersionId } from './ids.js';
import { DISE_HEAL_STATUS, DISE_HEAL_STEP, DISE_TOOL, DISE_VERSION } from './search-attributes.js';

/**
 * How every heal is started, whoever starts it (the CLI and other clients through
 * src/client/start-heal.ts, the health monitor through its startHeals activity — and so the tool runtime, which
 * reports to the monitor): one workflow id per version, one reuse/conflict policy, and the same
 * initial search attributes, so a heal is found in the Temporal UI by DiseTool and DiseVersion
 * whatever started it. Pure and deterministic: imported by workflows.
 */
export const HEAL_WORKFLOW_TYPE = 'selfHealWorkflow';

/**
 * A second start of a running heal joins it. Clients say so with this conflict policy; the monitor's
 * startHeals keeps the default (the start fails with WorkflowExecutionAlreadyStartedError, which it
 * counts as joined, so it knows which heals it started).
 */
export const HEAL_ID_CONFLICT_POLICY = 'USE_EXISTING' as const;

/**
 * The Temporal header OpenTelemetry's interceptors carry a span context in. A heal started for a
 * traced report carries the report's traceparent there, so the heal's spans join the report's trace
 * (src/workflows/tracing.ts for a start from a workflow, src/activities/start-heals.ts from a client).
 */
export const TRACE_HEADER = '_tracer-data';

/** A finished heal is reused (joined) unless it failed or was cancelled; `retry` allows a new run after any end. */
export function healIdReusePolicy(retry = false): WorkflowIdReusePolicy {
  return retry ? 'ALLOW_DUPLICATE' : 'ALLOW_DUPLICATE_FAILED_ONLY';
}

/** The start options every heal shares (add a task queue for a client start). */
export interface HealStartOptions {
  workflowId: string;
  args: [SelfHealInput];
  workflowIdReusePolicy: WorkflowIdReusePolicy;
  typedSearchAttributes: SearchAttributePair[];
}

/**
 * The start options of the heal of `input.versionId` (either id spelling; the canonical one is used).
 * Throws InvalidIdError when the id is not a version id.
 */
export function healStartOptions(input: SelfHealInput, { retry = false }: { retry?: boolean } = {}): HealStartOptions {
  const ref = parseVersionId(input.versionId);
  return {
    workflowId: healWorkflowId(ref.id),
    args: [{ ...input, versionId: ref.id }],
    workflowIdReusePolicy: healIdReusePolicy(retry),
    typedSearchAttributes: [
      { key: DISE_TOOL, value: ref.name },
      { key: DISE_VERSION, value: ref.id },
      { key: DISE_HEAL_STEP, value: 'starting' },
      { key: DISE_HEAL_STATUS, value: 'running' },
    ],
  };
}
