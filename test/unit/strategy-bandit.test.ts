import { describe, expect, it } from 'vitest';
import {
  chooseStrategyOrder,
  contextKey,
  sampleBeta,
  seededRandom,
  tallyRecord,
  type PastHeal,
  type StrategyContext,
} from '../../src/healing/strategy-bandit.js';
import type { RegenerationStrategy } from '../../src/shared/heal-types.js';

const context: StrategyContext = {
  failureType: 'wrong_output',
  mutationType: 'feature_add',
  language: 'python',
  culpritIsFailed: false,
};
const configured: RegenerationStrategy[] = ['revert', 'llm', 'rollback'];

/** A scripted record: in this context a revert never passes and the LLM's candidate always survives. */
function revertFailsLlmWins(heals: number): PastHeal[] {
  return Array.from({ length: heals }, () => ({
    attempts: [
      { strategy: 'revert', ok: false },
      { strategy: 'llm', ok: true },
    ],
    promoted: 'llm',
    survived: true,
  }));
}

describe('strategy bandit', () => {
  it('tallies rejected candidates as failures and surviving promotions as successes', () => {
    const record = tallyRecord([
      ...revertFailsLlmWins(3),
      { attempts: [{ strategy: 'rollback', ok: true }], promoted: 'rollback', survived: false },
      { attempts: [{ strategy: 'llm', ok: true }], promoted: 'llm', survived: null },
    ]);
    expect(record).toEqual({
      revert: { successes: 0, failures: 3 },
      llm: { successes: 3, failures: 0 },
      rollback: { successes: 0, failures: 1 },
    });
  });

  it('learns llm first where revert always fails and llm succeeds', () => {
    const record = tallyRecord(revertFailsLlmWins(20));
    const firsts = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const choice = chooseStrategyOrder({
        mode: 'learned',
        configured,
        context,
        record,
        seed: `heal-${i}`,
        explorationFloor: 0.1,
      });
      expect([...choice.order].sort()).toEqual([...configured].sort());
      expect(choice.contextKey).toBe(contextKey(context));
      firsts.set(choice.order[0]!, (firsts.get(choice.order[0]!) ?? 0) + 1);
    }
    // llm first in the large majority; the floor (10 %) keeps the others tried first now and then.
    expect(firsts.get('llm')!).toBeGreaterThan(160);
    expect(firsts.get('revert') ?? 0).toBeGreaterThan(0);
    expect(firsts.get('rollback') ?? 0).toBeGreaterThan(0);
  });

  it('keeps exploring every strategy through the floor even when one dominates', () => {
    const record = {
      llm: { successes: 1000, failures: 0 },
      revert: { successes: 0, failures: 1000 },
      rollback: { successes: 0, failures: 1000 },
    };
    let explored = 0;
    for (let i = 0; i < 1000; i++) {
      const choice = chooseStrategyOrder({
        mode: 'learned',
        configured,
        context,
        record,
        seed: `s${i}`,
        explorationFloor: 0.2,
      });
      if (choice.explored) {
        explored++;
        expect(choice.order[0]).toBe(choice.explored);
        expect(choice.reason).toMatch(/exploring/);
      } else expect(choice.order[0]).toBe('llm');
    }
    expect(explored).toBeGreaterThan(150);
    expect(explored).toBeLessThan(250);
  });

  it('gives the same order for the same seed (a retried activity)', () => {
    const record = tallyRecord(revertFailsLlmWins(2));
    const a = chooseStrategyOrder({
      mode: 'learned',
      configured,
      context,
      record,
      seed: 'heal-x',
      explorationFloor: 0.1,
    });
    const b = chooseStrategyOrder({
      mode: 'learned',
      configured,
      context,
      record,
      seed: 'heal-x',
      explorationFloor: 0.1,
    });
    expect(b).toEqual(a);
  });

  it('returns the configured order in fixed mode, whatever the record', () => {
    const choice = chooseStrategyOrder({
      mode: 'fixed',
      configured,
      context,
      record: tallyRecord(revertFailsLlmWins(50)),
      seed: 'heal-y',
      explorationFloor: 0.5,
    });
    expect(choice.order).toEqual(configured);
    expect(choice.explored).toBeNull();
    expect(choice.reason).toMatch(/fixed/);
    expect(choice.arms.find((a) => a.strategy === 'llm')).toMatchObject({ successes: 50, failures: 0 });
  });

  it('draws Beta samples with the right mean', () => {
    const random = seededRandom('beta');
    for (const [a, b] of [
      [1, 1],
      [2, 8],
      [30, 3],
      [0.5, 0.5],
    ] as const) {
      let sum = 0;
      let min = 1;
      let max = 0;
      const n = 20_000;
      for (let i = 0; i < n; i++) {
        const x = sampleBeta(a, b, random);
        min = Math.min(min, x);
        max = Math.max(max, x);
        sum += x;
      }
      expect(min).toBeGreaterThanOrEqual(0);
      expect(max).toBeLessThanOrEqual(1);
      expect(sum / n).toBeCloseTo(a / (a + b), 2);
    }
  });
});
