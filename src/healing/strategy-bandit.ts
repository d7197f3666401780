import {
  REGENERATION_STRATEGIES,
  type ArmChoice,
  type ArmRecord,
  type RegenerationStrategy,
  type StrategyChoice,
  type StrategyContext,
  type StrategyOrderMode,
} from '../shared/heal-types.js';

export {
  STRATEGY_ORDER_MODES,
  type ArmChoice,
  type ArmRecord,
  type StrategyChoice,
  type StrategyContext,
  type StrategyOrderMode,
} from '../shared/heal-types.js';

export function contextKey(c: StrategyContext): string {
  return [c.failureType, c.mutationType, c.language, c.culpritIsFailed ? 'culprit' : 'descendant'].join('|');
}

export interface ChooseOrderInput {
  mode: StrategyOrderMode;
  /** The configured strategies, in the configured order (the ones the heal may use). */
  configured: RegenerationStrategy[];
  context: StrategyContext;
  record: Partial<Record<RegenerationStrategy, ArmRecord>>;
  /** Seeds the draws: the same heal (a retried activity) gets the same order. */
  seed: string;
  /** Probability of putting a strategy other than the best draw first, so no strategy is starved. */
  explorationFloor: number;
}

/**
 * Orders the strategies. In learned mode each strategy draws from its Beta posterior (uniform prior)
 * and they are tried in decreasing order of the draw; with probability `explorationFloor` a strategy
 * picked uniformly among the others goes first instead, so a strategy that lost early keeps being
 * tried now and then and can win back its place when the tools change.
 */
export function chooseStrategyOrder(input: ChooseOrderInput): StrategyChoice {
  const key = contextKey(input.context);
  const recordOf = (s: RegenerationStrategy): ArmRecord => input.record[s] ?? { successes: 0, failures: 0 };
  const mean = (r: ArmRecord) => (1 + r.successes) / (2 + r.successes + r.failures);
  if (input.mode === 'fixed' || input.configured.length < 2) {
    return {
      mode: input.mode,
      order: [...input.configured],
      context: input.context,
      contextKey: key,
      arms: input.configured.map((strategy) => ({
        strategy,
        ...recordOf(strategy),
        mean: mean(recordOf(strategy)),
        draw: null,
      })),
      explored: null,
      reason: input.mode === 'fixed' ? 'fixed order (healing.strategy_order: fixed)' : 'only one strategy to try',
    };
  }
  const random = seededRandom(input.seed);
  const arms: ArmChoice[] = input.configured.map((strategy) => {
    const r = recordOf(strategy);
    return { strategy, ...r, mean: mean(r), draw: sampleBeta(1 + r.successes, 1 + r.failures, random) };
  });
  const ranked = [...arms].sort((a, b) => b.draw! - a.draw! || rank(a.strategy) - rank(b.strategy));
  let explored: RegenerationStrategy | null = null;
  if (random() < input.explorationFloor) {
    const others = ranked.slice(1);
    const pick = others[Math.floor(random() * others.length)]!;
    ranked.splice(ranked.indexOf(pick), 1);
    ranked.unshift(pick);
    explored = pick.strategy;
  }
  const order = ranked.map((a) => a.strategy);
  const observed = arms.reduce((n, a) => n + a.successes + a.failures, 0);
  const describeArm = (a: ArmChoice) => `${a.strategy} ${a.successes}/${a.successes + a.failures}`;
  const reason = explored
    ? `exploring: ${explored} first (floor ${input.explorationFloor}); record in ${key}: ${arms.map(describeArm).join(', ')}`
    : observed === 0
      ? `no record yet in ${key}: order drawn from uniform priors`
      : `Thompson draws on the record in ${key}: ${arms.map(describeArm).join(', ')} (successes/candidates)`;
  return { mode: 'learned', order, context: input.context, contextKey: key, arms, explored, reason };
}

function rank(s: RegenerationStrategy): number {
  return REGENERATION_STRATEGIES.indexOf(s);
}

/**
 * A seeded PRNG (mulberry32 over an FNV-1a hash of the seed). Seeded rather than Math.random so a
 * retried activity returns the same order as its first run, and a scripted record gives the same
 * choice in tests; a few lines here spare a dependency for the one distribution the bandit needs.
 */
export function seededRandom(seed: string): () => number {
  let h = 0x811c9dc5;
  for (let i = 0; i < seed.length; i++) {
    h ^= seed.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  let a = h >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Beta(a, b) as X / (X + Y) with X ~ Gamma(a), Y ~ Gamma(b). */
export function sampleBeta(a: number, b: number, random: () => number): number {
  const x = sampleGamma(a, random);
  const y = sampleGamma(b, random);
  return x + y === 0 ? 0.5 : x / (x + y);
}

/** Gamma(shape, 1) by Marsaglia and Tsang's method (shape < 1 boosted by U^(1/shape)). */
function sampleGamma(shape: number, random: () => number): number {
  if (shape < 1) return sampleGamma(shape + 1, random) * Math.pow(random() || Number.MIN_VALUE, 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(random);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = random();
    if (u < 1 - 0.0331 * x ** 4) return d * v;
    if (Math.log(u || Number.MIN_VALUE) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

function normal(random: () => number): number {
  const u = random() || Number.MIN_VALUE;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

/** One past heal's outcome, as the record is read from heal runs. */
export interface PastHeal {
  attempts: { strategy: string; ok: boolean }[];
  /** The strategy whose candidate was promoted (null: none was). */
  promoted: string | null;
  /** Whether the promoted candidate survived: true, false (failed later or its canary did not promote it), null (too early to tell). */
  survived: boolean | null;
}

/**
 * Each strategy's record from past heals: a rejected candidate is a failure; a promoted one is a
 * success once it survived, a failure if it did not, and not counted while it is too early to tell.
 */
export function tallyRecord(heals: PastHeal[]): Partial<Record<RegenerationStrategy, ArmRecord>> {
  const record: Partial<Record<RegenerationStrategy, ArmRecord>> = {};
  const arm = (s: string) => {
    if (!(REGENERATION_STRATEGIES as readonly string[]).includes(s)) return null;
    return (record[s as RegenerationStrategy] ??= { successes: 0, failures: 0 });
  };
  for (const heal of heals) {
    for (const attempt of heal.attempts) {
      if (attempt.ok) continue;
      const a = arm(attempt.strategy);
      if (a) a.failures++;
    }
    if (heal.promoted === null || heal.survived === null) continue;
    const a = arm(heal.promoted);
    if (!a) continue;
    if (heal.survived) a.successes++;
    else a.failures++;
  }
  return record;
}
