/** What one pull of a subscribed peer's pack did (the subscription workflow's result). */
export interface RuleSubscriptionResult {
  url: string;
  imported: number;
  updated: number;
  withdrawn: number;
  unchanged: number;
  duplicates: number;
}

/** The Temporal schedule of a subscription: one per peer URL, so subscribing twice changes nothing. */
export function subscriptionScheduleId(url: string): string {
  return `dise-rules-subscription-${url
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 150)}`;
}
