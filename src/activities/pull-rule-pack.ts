import { ApplicationFailure } from '@temporalio/activity';
import { importPack } from '../rules/import.js';
import { PackRefusedError } from '../rules/pack.js';
import type { RuleSubscriptionResult } from '../shared/rule-subscription.js';
import type { ActivityDeps } from './deps.js';

/**
 * A subscription's pull: the peer's signed pack over HTTP, imported as `dise rules import` would
 * (trusted key, signature, digests, each rule on its own examples; report-only). A refused pack is a
 * non-retryable failure with the reason: retrying cannot make a tampered pack or an unknown key good.
 */
export function pullRulePackActivity(deps: ActivityDeps) {
  return async function pullRulePack(input: { url: string }): Promise<RuleSubscriptionResult> {
    const response = await fetch(input.url, {
      headers: { Accept: 'application/json' },
      signal: AbortSignal.timeout(30_000),
    });
    if (!response.ok) throw new Error(`${input.url} answered ${response.status}`);
    const raw: unknown = await response.json();
    try {
      const s = await importPack(deps.store.shared, raw, input.url);
      return {
        url: input.url,
        imported: s.imported.length,
        updated: s.updated.length,
        withdrawn: s.withdrawn.length,
        unchanged: s.unchanged.length,
        duplicates: s.duplicates.length,
      };
    } catch (err) {
      if (err instanceof PackRefusedError)
        throw ApplicationFailure.nonRetryable(err.message, `PackRefused:${err.reason}`);
      throw err;
    }
  };
}
