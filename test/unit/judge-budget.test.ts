import { describe, expect, it } from 'vitest';
import { differentialBudget } from '../../src/judge/judge.js';

describe("the differential check's time budget within a version's judging", () => {
  it('is what the earlier stages left of it, but never less than half', () => {
    expect(differentialBudget(4000, 10)).toBe(3990);
    expect(differentialBudget(4000, 1500)).toBe(2500);
    expect(differentialBudget(4000, 3900)).toBe(2000);
    expect(differentialBudget(undefined, 3900)).toBeUndefined();
  });
});
