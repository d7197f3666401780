import type { CanaryVerdict } from '../../shared/canary-types.js';

/** `mirrored 120/200, agreement 99.2%, verdict not_enough_data`: a canary's progress in one line. */
export function canaryProgressLine(mirrored: number, verdict: CanaryVerdict | null, fraction?: number): string {
  const min = verdict?.minCalls;
  const agreement = verdict ? `${(verdict.agreement * 100).toFixed(1)}%` : '-';
  return `mirrored ${mirrored}${min ? `/${min}` : ''}${fraction !== undefined ? ` (${Math.round(fraction * 100)}% of calls)` : ''}, agreement ${agreement}, verdict ${verdict?.decision ?? 'not judged yet'}`;
}
