import type { SearchAttributePair } from '@temporalio/common';
import type { CanaryInput } from './canary-types.js';
import { canaryWorkflowId } from './constants.js';
import { parseVersionId } from './ids.js';
import { DISE_CANARY_VERDICT, DISE_TOOL, DISE_VERSION } from './search-attributes.js';

/**
 * How every canary is started, whoever starts it (`dise tool add` through src/client/start-canary.ts,
 * a heal through startChild): one workflow id per version, joined when it runs already. Pure:
 * imported by workflows.
 */
export const CANARY_WORKFLOW_TYPE = 'canaryWorkflow';

export function canaryStartOptions(candidateId: string): {
  workflowId: string;
  args: [CanaryInput];
  typedSearchAttributes: SearchAttributePair[];
} {
  const ref = parseVersionId(candidateId);
  return {
    workflowId: canaryWorkflowId(ref.id),
    args: [{ candidateId: ref.id }],
    typedSearchAttributes: [
      { key: DISE_TOOL, value: ref.name },
      { key: DISE_VERSION, value: ref.id },
      { key: DISE_CANARY_VERDICT, value: 'not_enough_data' },
    ],
  };
}
