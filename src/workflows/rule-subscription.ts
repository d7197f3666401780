import { proxyActivities } from '@temporalio/workflow';
import type { DiseActivities } from '../activities/index.js';
import type { RuleSubscriptionResult } from '../shared/rule-subscription.js';

const pull = proxyActivities<DiseActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { maximumAttempts: 3, initialInterval: '5 seconds' },
});

/**
 * One pull of a subscribed peer's rule pack, started by the subscription's Temporal schedule: each
 * run is a workflow in the Temporal UI with the pull's result, or the reason the pack was refused.
 */
export async function ruleSubscriptionWorkflow(input: { url: string }): Promise<RuleSubscriptionResult> {
  return pull.pullRulePack(input);
}
