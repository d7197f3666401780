import type { ImmunitySummary } from './immunity-types.js';
import type { ToolLanguage } from './language.js';
/** The vocabulary of the lineage DAG, shared by every layer. Values are stored as-is in PostgreSQL. */

export { TOOL_LANGUAGES, type ToolLanguage } from './language.js';

/** Where a test comes from: written with the version, minted from a failure, or pinned by `dise immunity`. */
export type TestOrigin = 'authored' | 'minted' | 'pinned';

/**
 * `canary`: validated and running in shadow beside the stable version, not yet answering callers.
 * `held`: a feature_add waiting for a person to approve or refuse its listed differences (`dise review`).
 */
export const HEALTH = ['healthy', 'degraded', 'failed', 'pruned', 'regenerated', 'canary', 'held'] as const;
export type Health = (typeof HEALTH)[number];

/**
 * Edges of the lineage: `direct`, `merge` and `fork` make up ancestry; `regenerated` links a failed
 * version to the version that replaced it; `reverts` links a pruned version to a version that undoes
 * its change while keeping what came after it.
 */
export const RELATIONSHIP_TYPES = ['direct', 'merge', 'fork', 'regenerated', 'reverts'] as const;
export type RelationshipType = (typeof RELATIONSHIP_TYPES)[number];

/** Edges that make up ancestry. A `regenerated` edge links a healed version to the one it replaced. */
export const LINEAGE_EDGE_TYPES = ['direct', 'merge', 'fork'] as const satisfies readonly RelationshipType[];

export const MUTATION_TYPES = ['optimization', 'bug_fix', 'feature_add', 'refactor', 'security'] as const;
export type MutationType = (typeof MUTATION_TYPES)[number];

export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const PROPAGATION_SCOPES = ['descendants', 'all_similar', 'global'] as const;
export type PropagationScope = (typeof PROPAGATION_SCOPES)[number];

/** Health values that callers may be routed to (a version the runtime guard lets callers reuse). */
export const ROUTABLE_HEALTH: readonly Health[] = ['healthy', 'regenerated'];

/**
 * Health values a runtime may run in shadow (mirrored calls whose answers are compared, never
 * returned): a CANARY is routable-in-shadow only, so it is not in ROUTABLE_HEALTH.
 */
export const SHADOW_HEALTH: readonly Health[] = ['canary'];

/** JSON values: tool inputs, outputs and expectations. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface MutationRecord {
  mutationType: MutationType;
  description: string;
  promptUsed: string | null;
  codeDiffHash: string;
  fitnessBefore: number | null;
  fitnessAfter: number | null;
  timestamp: string;
}

export interface FailureRecord {
  id?: number;
  failureType: string;
  description: string;
  stackTrace: string | null;
  testCaseFailed: string | null;
  detectionMethod: string;
  severity: Severity;
  timestamp: string;
}

/** A FailureRecord as a detector returns it (not yet stored), with its evidence. */
export interface DetectedFailure {
  failureType: string;
  description: string;
  stackTrace: string | null;
  testCaseFailed: string | null;
  detectionMethod:
    'test' | 'regression_test' | 'runtime' | 'static_analysis' | 'rule_gate' | 'replay' | 'differential' | 'review';
  severity: Severity;
  evidence: JsonValue;
}

/** One answer in a differential check: an output, or the type of error the call ended with. */
export interface DifferentialOutcome {
  output: JsonValue;
  error: string | null;
}

/** An input a version answers differently from its parent(s), shrunk, with every answer. */
/**
 * Where a differential input came from: the suites, recorded calls, inputs read from the code
 * (literals and their neighbours, small-integer sweeps, one argument reused in another, shape edits,
 * the code's words), or random edits (`generated`).
 */
export const CORPUS_SOURCES = [
  'suite',
  'recorded',
  'literals',
  'sweep',
  'reuse',
  'structure',
  'strings',
  'lengths',
  'products',
  'digits',
  'characters',
  'generated',
] as const;
export type CorpusSourceName = (typeof CORPUS_SOURCES)[number];
/** Inputs per source (checks stored before the code-reading sources existed have only the first three). */
export type CorpusCounts = { suite: number; recorded: number; generated: number } & Partial<
  Record<CorpusSourceName, number>
>;

/** "2 suite, 0 recorded, 96 literals, …, 180 generated": the sources in order, code-reading ones when used. */
export function corpusSourcesText(counts: CorpusCounts): string {
  return CORPUS_SOURCES.filter((s) => s === 'suite' || s === 'recorded' || s === 'generated' || counts[s])
    .map((s) => `${counts[s] ?? 0} ${s}`)
    .join(', ');
}

export interface DifferentialDifference {
  /** The smallest input found that still shows the difference. */
  input: JsonValue;
  /** The version's answer. */
  output: DifferentialOutcome;
  /** Each parent's answer. */
  parents: { id: string; output: DifferentialOutcome }[];
  /** The corpus input it was shrunk from, and where that came from. */
  originalInput: JsonValue;
  source: CorpusSourceName;
  /** The critical test whose input this is, if any. */
  criticalTest: string | null;
}

/** The differential check of a version against its parent(s), as stored and shown. */
export interface DifferentialReport {
  versionId: string;
  parents: string[];
  /** The declared mutation type; null when none was declared. */
  mutationType: MutationType | null;
  /** How it was judged (a version without a type is judged as a refactor). */
  judgedAs: MutationType;
  /** same: no difference; refused: stored FAILED; listed: differences allowed, listed for review. */
  verdict: 'same' | 'refused' | 'listed';
  seed: number;
  /** Inputs compared (parents' timeouts and memory-limit hits left out, counted as unjudged). */
  inputs: number;
  unjudged: number;
  /**
   * Inputs not run: left when the check's time budget was spent, or holding a number at least as
   * large as one in an input a parent could not answer within its limits (0 or absent: all ran).
   */
  notRun?: number;
  sources: CorpusCounts;
  /** Differing inputs in the corpus, before shrinking. */
  differing: number;
  /** The shrunk differences, smallest first. */
  differences: DifferentialDifference[];
  /**
   * Corpus sources that threw while the corpus was built, each with its error (absent: none). Any
   * refuses the version: its check did not run as configured.
   */
  brokenSources?: { source: string; error: string }[];
  message: string;
  durationMs: number;
}

export interface AvoidanceRuleRecord {
  ruleId: string;
  description: string;
  patternToAvoid: string;
  patternKind: string;
  reason: string;
  sourceFailure: string;
  propagationScope: PropagationScope;
  createdAt: string;
}

export interface TestCaseRecord {
  id: number;
  toolId: string;
  name: string;
  input: JsonValue;
  expected: JsonValue;
  critical: boolean;
  origin: TestOrigin;
  sourceFailureId: number | null;
}

/** Everything a ToolLineage holds, plus the code. Dates cross boundaries as ISO strings. */
export interface ToolLineage {
  id: string;
  toolId: string;
  name: string;
  version: string;
  fullName: string;
  description: string;
  category: string;
  code: string;
  /** The language of the code (children keep it unless their registration says otherwise). */
  language: ToolLanguage;
  codeHash: string;
  parents: string[];
  parentEdges: { id: string; type: RelationshipType }[];
  children: string[];
  /** The first-parent path from the root down to (excluding) this version. */
  ancestorPath: string[];
  /** Every ancestor (merged-in branches included), oldest generation first, each with its parent edges. */
  ancestors: { id: string; generation: number; health: Health; parents: { id: string; type: RelationshipType }[] }[];
  health: Health;
  failureCount: number;
  failures: FailureRecord[];
  mutations: MutationRecord[];
  generation: number;
  avoidanceRules: AvoidanceRuleRecord[];
  inheritedRules: string[];
  fitnessHistory: number[];
  executionCount: number;
  successRate: number;
  createdAt: string;
  lastExecuted: string | null;
  prunedAt: string | null;
  regeneratedFrom: string | null;
  regeneratedAs: string[];
  /** The pruned version whose change this version undoes (a revert), if any. */
  reverts: string | null;
  /** Versions that undo this version's change while keeping what came after it. */
  revertedBy: string[];
  /** For a version a heal made: how, and what it kept. */
  healedBy: {
    healId: string;
    strategy: string | null;
    features: { kept: number; total: number; lost: string[] } | null;
    setAside: { name: string; introducedBy: string }[];
  } | null;
  /** Why the version was pruned: failure, diff, failing tests, metric window, static findings, analysis. */
  pruneEvidence: JsonValue | null;
  /** The latest `dise immunity` of this version: mutants its suite refused before and after pinning. */
  immunity: ImmunitySummary | null;
  /** The latest differential check against its parent(s), with every difference (null: none ran). */
  differential: DifferentialReport | null;
  /** Its canary, when it ran (or runs) in shadow: status, progress and the judge's latest verdict. */
  canary?: {
    status: string;
    stableId: string;
    mirrored: number;
    agreement: number | null;
    verdict: string | null;
    reasons: string[];
    minCalls: number | null;
    decision: string | null;
  } | null;
  route: { routed: boolean; toolRoutedTo: string | null };
}
