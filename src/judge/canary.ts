import hypergeometricCdf from '@stdlib/stats-base-dists-hypergeometric-cdf';
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import ranks from '@stdlib/stats-ranks';
import type { CanaryConfig } from '../config/schema.js';
import { jsonEqual } from '../detection/json-equal.js';
import type { ComparisonSummary, Disagreement } from '../lineage/canaries.js';
import type { CanaryVerdict } from '../shared/canary-types.js';
import type { DifferentialReport } from '../shared/lineage-types.js';

/**
 * One-sided Fisher's exact test on a 2×2 table: is the candidate's error rate (aErr of aN) greater
 * than the stable version's (bErr of bN)? The p-value is P(X ≥ aErr) for X hypergeometric over the
 * pooled errors (the table's margins fixed). 1 when there is nothing to compare.
 */
export function fisherGreater(aErr: number, aN: number, bErr: number, bN: number): number {
  const total = aN + bN;
  const errors = aErr + bErr;
  if (!aN || !bN || !errors) return 1;
  if (aErr === 0) return 1;
  return Math.min(1, Math.max(0, 1 - hypergeometricCdf(aErr - 1, total, errors, aN)));
}

/**
 * One-sided Mann–Whitney U with the normal approximation, tie correction and continuity correction:
 * are the candidate's values (a) stochastically greater than the stable ones (b)? 1 when either side
 * is empty or every value ties.
 */
export function mannWhitneyGreater(a: number[], b: number[]): number {
  const n1 = a.length;
  const n2 = b.length;
  if (!n1 || !n2) return 1;
  const r = ranks([...a, ...b]) as number[];
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += r[i]!;
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  // Tie correction: Σ(t³ − t) over groups of tied values.
  const counts = new Map<number, number>();
  for (const v of [...a, ...b]) counts.set(v, (counts.get(v) ?? 0) + 1);
  let ties = 0;
  for (const t of counts.values()) ties += t * t * t - t;
  const variance = ((n1 * n2) / 12) * (n + 1 - ties / (n * (n - 1)));
  if (variance <= 0) return 1;
  const z = (u1 - (n1 * n2) / 2 - 0.5) / Math.sqrt(variance);
  return 1 - normalCdf(z, 0, 1);
}

function median(values: number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * A disagreement is accepted when the candidate's differential check listed that input as a
 * difference allowed for review (verdict `listed`, e.g. a feature_add) and the candidate answered it
 * as listed then.
 */
export function isAcceptedDifference(d: Disagreement, differential: DifferentialReport | null): boolean {
  if (!differential || differential.verdict !== 'listed') return false;
  return differential.differences.some(
    (listed) =>
      jsonEqual(listed.input, d.input) &&
      listed.output.error === d.candidateError &&
      (d.candidateError !== null || jsonEqual(listed.output.output, d.candidate)),
  );
}

export type CanaryJudgeSettings = Pick<
  CanaryConfig,
  'min_calls' | 'max_disagreement_rate' | 'significance' | 'latency_tolerance' | 'latency_floor_ms'
>;

/**
 * The canary's judge. It refuses to decide on thin data: below `min_calls` mirrored calls the verdict is
 * `not_enough_data`, unless the disagreements alone already exceed what `min_calls` calls could allow
 * (then no more data can save the candidate). With enough calls, the candidate passes when it agreed
 * (or differed only as its differential check accepted) on all but `max_disagreement_rate` of them, its
 * error rate is not significantly worse (one-sided Fisher's exact test) and its latency is not
 * significantly worse (one-sided Mann–Whitney U) by more than `latency_tolerance` and `latency_floor_ms`
 * in the median.
 */
export function judgeCanary(
  summary: ComparisonSummary,
  differential: DifferentialReport | null,
  settings: CanaryJudgeSettings,
  now: Date,
): CanaryVerdict {
  const accepted = summary.disagreements.filter((d) => isAcceptedDifference(d, differential)).length;
  const disagreed = summary.mirrored - summary.agreed - accepted;
  const n = summary.mirrored;
  const reasons: string[] = [];
  const verdict: CanaryVerdict = {
    decision: 'not_enough_data',
    reasons,
    mirrored: n,
    minCalls: settings.min_calls,
    agreed: summary.agreed,
    accepted,
    disagreed,
    agreement: n ? (summary.agreed + accepted) / n : 1,
    stableErrors: summary.stableErrors,
    candidateErrors: summary.candidateErrors,
    errorPValue: null,
    latencyPValue: null,
    stableMedianMs: median(summary.stableMs),
    candidateMedianMs: median(summary.candidateMs),
    judgedAt: now.toISOString(),
  };

  // Decisive whatever comes next: more disagreements than max(n, min_calls) calls may have.
  const allowed = Math.floor(settings.max_disagreement_rate * Math.max(n, settings.min_calls));
  if (disagreed > allowed) {
    verdict.decision = 'fail';
    reasons.push(
      `${disagreed} of ${n} mirrored calls disagreed with the stable version (at most ${allowed} allowed: ${(settings.max_disagreement_rate * 100).toFixed(2)}%)`,
    );
    return verdict;
  }
  if (n < settings.min_calls) {
    reasons.push(`not enough data: ${n} of ${settings.min_calls} mirrored calls`);
    return verdict;
  }

  verdict.errorPValue = fisherGreater(summary.candidateErrors, n, summary.stableErrors, n);
  const errorsWorse = verdict.errorPValue < settings.significance;
  if (errorsWorse)
    reasons.push(
      `error rate worse: ${summary.candidateErrors}/${n} against ${summary.stableErrors}/${n} (Fisher p=${verdict.errorPValue.toPrecision(3)})`,
    );

  let slower = false;
  if (summary.candidateMs.length >= 2 && summary.stableMs.length >= 2) {
    verdict.latencyPValue = mannWhitneyGreater(summary.candidateMs, summary.stableMs);
    const candidateMedian = verdict.candidateMedianMs ?? 0;
    const stableMedian = verdict.stableMedianMs ?? 0;
    const ratio = candidateMedian / Math.max(stableMedian, 1e-6);
    slower =
      verdict.latencyPValue < settings.significance &&
      ratio > 1 + settings.latency_tolerance &&
      candidateMedian - stableMedian >= settings.latency_floor_ms;
    if (slower)
      reasons.push(
        `latency worse: median ${verdict.candidateMedianMs!.toFixed(3)} ms against ${verdict.stableMedianMs!.toFixed(3)} ms (Mann-Whitney p=${verdict.latencyPValue.toPrecision(3)})`,
      );
  }

  if (errorsWorse || slower) {
    verdict.decision = 'fail';
    return verdict;
  }
  verdict.decision = 'pass';
  reasons.push(
    `${summary.agreed} of ${n} mirrored calls agreed${accepted ? `, ${accepted} differed as the differential check accepted` : ''}${disagreed ? `, ${disagreed} disagreed (within ${(settings.max_disagreement_rate * 100).toFixed(2)}%)` : ''}; error rate and latency not worse`,
  );
  return verdict;
}
