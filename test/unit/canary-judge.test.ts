import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { fisherGreater, judgeCanary, mannWhitneyGreater } from '../../src/judge/canary.js';
import type { ComparisonSummary } from '../../src/lineage/canaries.js';
import type { DifferentialReport } from '../../src/shared/lineage-types.js';

const settings = {
  ...defaultConfig().deployment.canary,
  min_calls: 200,
  max_disagreement_rate: 0.01,
  significance: 0.01,
  latency_tolerance: 0.25,
  latency_floor_ms: 0.5,
};
const now = new Date('2026-11-27T00:00:00Z');

/** n mirrored calls, `wrong` of them disagreeing (input i, stable true, candidate false), latencies around 1 ms. */
function summary(
  n: number,
  wrong: number[] = [],
  options: { candidateErrors?: number; slower?: number } = {},
): ComparisonSummary {
  const jitter = (i: number) => ((i * 7919) % 100) / 1000;
  return {
    mirrored: n,
    agreed: n - wrong.length,
    stableErrors: 0,
    candidateErrors: options.candidateErrors ?? 0,
    stableMs: Array.from({ length: n }, (_, i) => 1 + jitter(i)),
    candidateMs: Array.from({ length: n }, (_, i) => (1 + jitter(i + 13)) * (options.slower ?? 1)),
    disagreements: wrong.map((i) => ({ input: `input-${i}`, stable: true, candidate: false, candidateError: null })),
  };
}

describe('the statistics (checked against exact sums and the textbook normal approximation)', () => {
  it("Fisher's exact test, one-sided: candidate errors more likely than stable errors", () => {
    // Σ_{x≥8} C(9,x)·C(391,200−x) / C(400,200)
    expect(fisherGreater(8, 200, 1, 200)).toBeCloseTo(0.018483318941905, 10);
    expect(fisherGreater(4, 200, 4, 200)).toBeCloseTo(0.63810503165111, 10);
    expect(fisherGreater(0, 200, 3, 200)).toBe(1);
    expect(fisherGreater(0, 200, 0, 200)).toBe(1);
  });

  it('Mann–Whitney U, one-sided, with tie and continuity corrections (as R wilcox.test(exact = FALSE))', () => {
    expect(
      mannWhitneyGreater([1.2, 3.4, 2.2, 5.1, 4.4, 3.3, 6.0, 2.9], [1.0, 1.1, 2.0, 2.1, 0.9, 1.5, 3.0, 1.9]),
    ).toBeCloseTo(0.005040846941929855, 10);
    expect(mannWhitneyGreater([1, 2, 2, 3, 3, 3, 4], [1, 1, 2, 2, 2, 3])).toBeCloseTo(0.08845593659724327, 10);
    expect(mannWhitneyGreater([], [1])).toBe(1);
    expect(mannWhitneyGreater([2, 2], [2, 2])).toBe(1);
  });
});

describe('judgeCanary: a judge that knows when it does not know', () => {
  it('says "not enough data", not "pass", below min_calls however well the candidate did', () => {
    const v = judgeCanary(summary(199), null, settings, now);
    expect(v.decision).toBe('not_enough_data');
    expect(v.reasons.join()).toMatch(/not enough data: 199 of 200 mirrored calls/);
    expect(v.errorPValue).toBeNull();
    expect(judgeCanary(summary(0), null, settings, now).decision).toBe('not_enough_data');
  });

  it('passes a candidate that agreed on min_calls calls with errors and latency not worse', () => {
    const v = judgeCanary(summary(200), null, settings, now);
    expect(v.decision).toBe('pass');
    expect(v.agreement).toBe(1);
    expect(v.errorPValue).toBe(1);
    expect(v.latencyPValue).toBeGreaterThan(0.01);
  });

  it('refuses a candidate wrong on 2% of inputs, as soon as no more data could save it', () => {
    const wrong = [3, 50, 97]; // 3 of 150 so far: more than 1% of min_calls already
    const v = judgeCanary(summary(150, wrong), null, settings, now);
    expect(v.decision).toBe('fail');
    expect(v.disagreed).toBe(3);
    expect(v.reasons.join()).toMatch(/3 of 150 mirrored calls disagreed/);
    // 2 of 150 is still within what 200 calls may have: the judge waits.
    expect(judgeCanary(summary(150, [3, 50]), null, settings, now).decision).toBe('not_enough_data');
  });

  it('refuses a significantly worse error rate (Fisher) and a significantly slower candidate (Mann–Whitney)', () => {
    const errors = { ...summary(1000, []), candidateErrors: 9, stableErrors: 0 };
    const byErrors = judgeCanary(errors, null, { ...settings, max_disagreement_rate: 0.05 }, now);
    expect(byErrors.decision).toBe('fail');
    expect(byErrors.errorPValue!).toBeLessThan(0.01);
    const slow = judgeCanary(summary(300, [], { slower: 2 }), null, settings, now);
    expect(slow.decision).toBe('fail');
    expect(slow.reasons.join()).toMatch(/latency worse/);
    // Significantly but only slightly slower (within latency_tolerance) is not refused, nor is a
    // doubling of a microsecond median (under latency_floor_ms).
    expect(judgeCanary(summary(300, [], { slower: 1.1 }), null, settings, now).decision).toBe('pass');
    expect(judgeCanary(summary(300, [], { slower: 2 }), null, { ...settings, latency_floor_ms: 2 }, now).decision).toBe(
      'pass',
    );
  });

  it("accepts differences the differential check listed for the candidate (a feature's new answers)", () => {
    const differential = {
      verdict: 'listed',
      differences: [3, 50, 97].map((i) => ({
        input: `input-${i}`,
        output: { output: false, error: null },
        parents: [],
        originalInput: null,
        source: 'suite',
        criticalTest: null,
      })),
    } as unknown as DifferentialReport;
    const v = judgeCanary(summary(200, [3, 50, 97]), differential, settings, now);
    expect(v.decision).toBe('pass');
    expect(v.accepted).toBe(3);
    expect(v.disagreed).toBe(0);
    // A refused (or same) differential accepts nothing.
    expect(judgeCanary(summary(200, [3, 50, 97]), { ...differential, verdict: 'same' }, settings, now).decision).toBe(
      'fail',
    );
  });
});
