import type { ToolLanguage } from './language.js';
import type { JsonValue } from './lineage-types.js';

/** The standard single-point mutation operators. */
export type MutationOperator = 'comparison' | 'arithmetic' | 'boolean' | 'constant';

/** One single-point mutant, as a report names it. */
export interface MutantRef {
  /** e.g. `comparison at line 3: < → <=`. */
  id: string;
  operator: MutationOperator;
  line: number;
}

/** What `dise immunity` found for one version. */
export interface ImmunityReport {
  versionId: string;
  language: ToolLanguage;
  /** Mutants tried (at most the limit asked for, spread over the code). */
  mutants: number;
  /** How many the suite refused before anything was pinned, and after. */
  killedBefore: number;
  killedAfter: number;
  /** Mutation scores, 0..1. */
  scoreBefore: number | null;
  scoreAfter: number | null;
  /** Inputs pinned as tests (or that would be, with --no-pin), each with the mutants it kills. */
  pinned: { name: string; input: JsonValue; expected: JsonValue; kills: string[] }[];
  /** Whether the pinned tests were stored. */
  stored: boolean;
  /** Survivors no input of the corpus told apart from the version (equivalent, or beyond the corpus). */
  undetected: MutantRef[];
  durationMs: number;
}

/** A version's latest immunity run, as lists and pages keep it. */
export interface ImmunitySummary {
  mutants: number;
  killedBefore: number;
  killedAfter: number;
  pinned: number;
  /** ISO time of the run. */
  at: string;
}

/** `73% (22 of 30 mutants refused by its suite; 40% before 4 tests were pinned), 2026-12-04 13:10` */
export function immunityLine(i: ImmunitySummary): string {
  const when = i.at.replace('T', ' ').slice(0, 16);
  if (!i.mutants) return `no mutants could be made (${when})`;
  const pct = (n: number) => `${Math.round((100 * n) / i.mutants)}%`;
  return `${pct(i.killedAfter)} (${i.killedAfter} of ${i.mutants} mutants refused by its suite; ${pct(i.killedBefore)} before ${i.pinned} test(s) were pinned), ${when}`;
}
