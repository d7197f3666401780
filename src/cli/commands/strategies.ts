import type { DiseConfig } from '../../config/schema.js';
import { strategyPreferences } from '../../lineage/heal-runs.js';
import { withDatabase, type Output } from '../context.js';
import { stamp } from '../format/style.js';

/** `dise strategies`: what each heal strategy achieved per failure context, and the order the record favours. */
export async function strategies(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  const settings = config.self_healing.regeneration;
  await withDatabase(
    out,
    async ({ store }) => {
      const preferences = strategyPreferences(await store.healRuns.strategyRecords(settings.survival_calls));
      if (options.json) {
        out.result(
          JSON.stringify(
            {
              mode: settings.strategy_order,
              configured: settings.strategies,
              explorationFloor: settings.exploration_floor,
              survivalCalls: settings.survival_calls,
              contexts: preferences,
            },
            null,
            2,
          ),
        );
        return;
      }
      out.result(
        `Strategy order: ${settings.strategy_order} (configured: ${settings.strategies.join(', ')}; exploration floor ${settings.exploration_floor}; a promotion counts once it served ${settings.survival_calls} calls)`,
      );
      if (!preferences.length) {
        out.result('No heal has recorded its strategy choice yet.');
        return;
      }
      out.result('Per failure context (failure type | mutation type | language | culprit):');
      for (const p of preferences) {
        out.result(`  ${p.context}  ${p.heals} heal(s), last ${stamp(p.lastHeal)}`);
        out.result(`     prefers: ${p.preferred.join(' > ') || '-'}`);
        for (const s of p.strategies)
          out.result(
            `     ${s.strategy.padEnd(8)} ${s.successes}/${s.successes + s.failures} survived (mean ${s.mean.toFixed(2)})`,
          );
      }
    },
    config,
  );
}
