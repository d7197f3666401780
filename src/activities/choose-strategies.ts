import { chooseStrategyOrder, contextKey, type StrategyChoice } from '../healing/strategy-bandit.js';
import type { RegenerationStrategy } from '../shared/heal-types.js';
import { nonRetryable, type ActivityDeps } from './deps.js';

export interface ChooseStrategiesInput {
  healId: string;
  failedId: string;
  culpritId: string;
  failureId: number;
  /** The strategies the heal may use, in the configured order. */
  strategies: RegenerationStrategy[];
  mode: 'learned' | 'fixed';
}

/**
 * Chooses the order a heal tries its strategies in (healing.strategy_order), from the record of
 * earlier heals in the same failure context. Here rather than in the workflow: it reads the database
 * and draws random numbers; the workflow records the answer in its history and on the heal run.
 */
export function chooseStrategiesActivity(deps: ActivityDeps) {
  return async function chooseStrategies(input: ChooseStrategiesInput): Promise<StrategyChoice> {
    const { store } = deps;
    const found = await store.healRuns.failureContextOf(input.failedId, input.culpritId, input.failureId);
    if (!found) throw nonRetryable('UnknownVersion', `unknown version ${input.failedId}`);
    const context = {
      failureType: found.failureType ?? 'unknown',
      mutationType: found.mutationType ?? 'none',
      language: found.language,
      culpritIsFailed: input.culpritId === input.failedId,
    };
    const settings = deps.config.self_healing.regeneration;
    const record =
      input.mode === 'learned' ? await store.healRuns.strategyRecord(contextKey(context), settings.survival_calls) : {};
    return chooseStrategyOrder({
      mode: input.mode,
      configured: input.strategies,
      context,
      record,
      seed: input.healId,
      explorationFloor: settings.exploration_floor,
    });
  };
}
