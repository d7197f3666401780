import { jsonEqual } from '../detection/json-equal.js';
import { codeHash } from '../detection/tool-code.js';
import type { Db } from '../lineage/sql.js';
import { llmSettingsFrom, LlmClient } from '../llm/client.js';
import { reviewWithLlm, type FeatureReviewAnswer } from '../llm/reviewer.js';
import { ToolExecutionError } from '../sandbox/errors.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { ToolSource } from '../shared/language.js';
import type {
  DetectedFailure,
  DifferentialDifference,
  DifferentialOutcome,
  DifferentialReport,
  JsonValue,
} from '../shared/lineage-types.js';
import { compareSize, describeDifference } from './differential.js';
import type { JudgeDeps } from './plans.js';

/**
 * The judges of a feature_add's listed differences beyond its parent, in this order:
 * 1. the LLM reviewer (when an LLM is configured and deployment.feature_review.reviewer is on) reads
 *    each difference against the mutation's stated intent; one outside it, or a reviewer that cannot
 *    answer (timeout, malformed answer, refused request), holds the version;
 * 2. peers (routed tools of the same category and language) answer the differing inputs; a
 *    difference where every answering peer sides with the parent (at least min_peers of them) holds it;
 * 3. when neither decided, deployment.review: hold holds it for a person (HELD until `dise review`).
 * A version held by the reviewer or peers is stored FAILED with the judge's finding (never routed).
 */
export interface FeatureReviewDeps extends JudgeDeps {
  /** The reviewer's LLM: null for none; left out, the configured one (config.llm, OPENAI_* env). */
  llm?: LlmClient | null;
}

export type FeatureJudge = 'reviewer' | 'peers' | 'person';

export interface FeatureReviewResult {
  /** held: refused by the reviewer or peers (FAILED); awaiting: HELD for a person; passed: routable as listed. */
  outcome: 'passed' | 'held' | 'awaiting';
  /** The judge that decided (null: none did, and deployment.review is none). */
  decidedBy: FeatureJudge | null;
  /** The judge's finding when held (critical, so the version is stored FAILED). */
  failures: DetectedFailure[];
  /** One line per judge consulted, for the registration's report. */
  notes: string[];
}

/** Most differences shown to the reviewer (the smallest first, as the check lists them). */
const MAX_REVIEWED = 20;
/** Most differing inputs the peers answer: the listed ones, then the corpus's differing inputs unshrunk. */
const MAX_PEER_INPUTS = 200;

function show(o: DifferentialOutcome): string {
  return o.error !== null ? `an error (${o.error})` : JSON.stringify(o.output);
}

function sameOutcome(a: DifferentialOutcome, b: DifferentialOutcome): boolean {
  return a.error !== null || b.error !== null ? a.error === b.error : jsonEqual(a.output, b.output);
}

/** One answer, the tool code off this thread (Sandbox.runAsync). */
async function runOn(sandbox: Sandbox, source: ToolSource, input: JsonValue): Promise<DifferentialOutcome> {
  try {
    return {
      output: await sandbox.runAsync(codeHash(source.code), source.code, input, source.language),
      error: null,
    };
  } catch (err) {
    // Anything but a tool's failure is the step's cancellation (the sandbox types every failure).
    if (!(err instanceof ToolExecutionError)) throw err;
    return { output: null, error: err.errorType };
  }
}

async function answersOf(
  sandbox: Sandbox,
  sources: ({ id: string } & ToolSource)[],
  input: JsonValue,
): Promise<{ id: string; output: DifferentialOutcome }[]> {
  const answers: { id: string; output: DifferentialOutcome }[] = [];
  for (const p of sources) answers.push({ id: p.id, output: await runOn(sandbox, p, input) });
  return answers;
}

function reviewFinding(
  failureType: string,
  description: string,
  evidence: Record<string, JsonValue>,
  differences: DifferentialDifference[],
): DetectedFailure {
  return {
    failureType,
    description,
    stackTrace: null,
    testCaseFailed: null,
    detectionMethod: 'review',
    severity: 'critical',
    evidence: {
      ...evidence,
      inputs: differences.map((d) => d.input),
    },
  };
}

/** The configured LLM for the reviewer, or null (none configured, or the reviewer is off). */
export function reviewerLlm(deps: FeatureReviewDeps): LlmClient | null {
  if (!deps.config.deployment.feature_review.reviewer) return null;
  if (deps.llm !== undefined) return deps.llm;
  const settings = llmSettingsFrom(deps.config);
  return settings ? new LlmClient(settings) : null;
}

async function askReviewer(
  llm: LlmClient,
  deps: FeatureReviewDeps,
  subject: { id: string; intent: string; toolDescription: string },
  report: DifferentialReport,
  differences: DifferentialDifference[],
): Promise<FeatureReviewResult> {
  const seconds = deps.config.deployment.feature_review.reviewer_timeout_seconds;
  const timeout = new AbortController();
  const timer = setTimeout(
    () => timeout.abort(new Error(`the reviewer did not answer within ${seconds} s`)),
    seconds * 1000,
  );
  let answer: FeatureReviewAnswer;
  try {
    answer = await reviewWithLlm(
      llm,
      {
        versionId: subject.id,
        parentIds: report.parents,
        intent: subject.intent,
        toolDescription: subject.toolDescription,
        differences: differences.map((d) => ({
          input: JSON.stringify(d.input),
          parents: d.parents.map((p) => `${p.id}: ${show(p.output)}`).join(', '),
          output: show(d.output),
        })),
      },
      timeout.signal,
    );
    const missing = differences.findIndex((_, i) => !answer.differences.some((a) => a.index === i + 1));
    if (missing >= 0) throw new Error(`the reviewer's answer leaves out difference ${missing + 1}`);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      outcome: 'held',
      decidedBy: 'reviewer',
      failures: [
        reviewFinding(
          'review_unavailable',
          `held: the LLM reviewer could not judge ${differences.length} listed difference(s) of feature_add "${subject.intent}" (${why}); a feature_add is not routed on a review that did not happen`,
          { judge: 'reviewer', model: llm.settings.model, error: why },
          differences,
        ),
      ],
      notes: [`reviewer (${llm.settings.model}): no judgement — ${why}; held`],
    };
  } finally {
    clearTimeout(timer);
  }
  const outside = differences.flatMap((d, i) => {
    const verdict = answer.differences.find((a) => a.index === i + 1)!;
    return verdict.inside_intent ? [] : [{ d, reason: verdict.reason }];
  });
  if (!outside.length)
    return {
      outcome: 'passed',
      decidedBy: 'reviewer',
      failures: [],
      notes: [
        `reviewer (${llm.settings.model}): all ${differences.length} listed difference(s) are inside "${subject.intent}"`,
      ],
    };
  const first = outside[0]!;
  return {
    outcome: 'held',
    decidedBy: 'reviewer',
    failures: [
      reviewFinding(
        'outside_intent',
        `held by the LLM reviewer: ${outside.length} of ${differences.length} listed difference(s) are outside "${subject.intent}", e.g. ${describeDifference(first.d, subject.id)} — ${first.reason}`,
        {
          judge: 'reviewer',
          model: llm.settings.model,
          intent: subject.intent,
          differences: outside.map(({ d, reason }) => ({
            input: d.input,
            output: d.output,
            parents: d.parents,
            reason,
          })) as unknown as JsonValue,
        },
        outside.map((o) => o.d),
      ),
    ],
    notes: [`reviewer (${llm.settings.model}): ${outside.length} difference(s) outside the intent; held`],
  };
}

/**
 * What the peers answer: every listed difference, then the corpus's other differing inputs as found
 * (the listed ones are shrunk and capped, so a difference of another kind may only be among these),
 * each with the version's and its parents' answers.
 */
async function peerCases(
  sandbox: Sandbox,
  subject: { id: string } & ToolSource,
  parents: ({ id: string } & ToolSource)[],
  report: DifferentialReport,
  differingInputs: JsonValue[],
): Promise<DifferentialDifference[]> {
  const cases = [...report.differences];
  const seen = new Set(cases.map((d) => JSON.stringify(d.input)));
  const rest = differingInputs.filter((i) => !seen.has(JSON.stringify(i))).sort(compareSize);
  for (const input of rest) {
    if (cases.length >= MAX_PEER_INPUTS) break;
    const output = await runOn(sandbox, subject, input);
    const answers = await answersOf(sandbox, parents, input);
    if (answers.some((a) => sameOutcome(a.output, output))) continue;
    cases.push({ input, output, parents: answers, originalInput: input, source: 'generated', criticalTest: null });
  }
  return cases;
}

async function askPeers(
  sandbox: Sandbox,
  subject: { id: string; intent: string },
  peers: ({ id: string } & ToolSource)[],
  differences: DifferentialDifference[],
  minPeers: number,
): Promise<FeatureReviewResult> {
  const suspects: { d: DifferentialDifference; answers: { id: string; output: DifferentialOutcome }[] }[] = [];
  const errored: string[] = [];
  for (const d of differences) {
    const answers = await answersOf(sandbox, peers, d.input);
    let withParent = 0;
    let other = 0;
    for (const a of answers) {
      if (a.output.error !== null && !d.parents.some((p) => p.output.error === a.output.error)) {
        errored.push(`${a.id} errored (${a.output.error}) on ${JSON.stringify(d.input)}`);
      } else if (d.parents.some((p) => sameOutcome(p.output, a.output))) withParent++;
      else other++;
    }
    if (withParent >= minPeers && other === 0) suspects.push({ d, answers });
  }
  const peerNames = peers.map((p) => p.id).join(', ');
  const erroredNote = errored.length ? `; not counted as agreeing: ${errored.slice(0, 3).join('; ')}` : '';
  if (!suspects.length)
    return {
      outcome: 'passed',
      decidedBy: 'peers',
      failures: [],
      notes: [
        `peers (${peerNames}): no differing input (of ${differences.length}) has every peer siding with the parent${erroredNote}`,
      ],
    };
  const first = suspects[0]!;
  return {
    outcome: 'held',
    decidedBy: 'peers',
    failures: [
      reviewFinding(
        'peer_disagreement',
        `held by peers: on ${suspects.length} of ${differences.length} differing input(s) every answering peer (${peerNames}) sides with the parent, e.g. ${describeDifference(first.d, subject.id)}; peers answer ${first.answers.map((a) => `${a.id} ${show(a.output)}`).join(', ')}${erroredNote}`,
        {
          judge: 'peers',
          peers: peers.map((p) => p.id),
          errored,
          differences: suspects.map(({ d, answers }) => ({
            input: d.input,
            output: d.output,
            parents: d.parents,
            peers: answers,
          })) as unknown as JsonValue,
        },
        suspects.map((s) => s.d),
      ),
    ],
    notes: [`peers (${peerNames}): ${suspects.length} differing input(s) where every peer sides with the parent; held`],
  };
}

/** What the feature review reads from the database, before any tool code runs. */
export interface FeatureReviewEvidence {
  /** The mutation's stated intent (its description). */
  intent: string;
  toolDescription: string;
  /** The version's parents, with their code. */
  parents: ({ id: string } & ToolSource)[];
  /** Routed tools of its category and language (empty when peers are off). */
  peers: ({ id: string } & ToolSource)[];
}

/**
 * Reads what the feature review of a version needs (inside the registration's evidence-reading
 * transaction `db`), or null when the version declares no feature_add. The review itself runs later,
 * with no transaction open, and only when the judge lists differences.
 */
export async function loadFeatureReview(
  deps: FeatureReviewDeps,
  version: { id: string; parents: string[] },
  db?: Db,
): Promise<FeatureReviewEvidence | null> {
  const mutation = await deps.store.differential.declaredMutation(version.id, db);
  if (mutation?.type !== 'feature_add') return null;
  const settings = deps.config.deployment.feature_review;
  const codes = await deps.store.graph.codes(version.parents, db);
  return {
    intent: mutation.description,
    toolDescription: (await deps.store.graph.version(version.id, db))?.description ?? '',
    parents: version.parents.flatMap((id) => (codes.has(id) ? [{ id, ...codes.get(id)! }] : [])),
    peers: settings.peers ? await deps.store.routing.peersOf(version.id, settings.max_peers, db) : [],
  };
}

/**
 * Judges the listed differences of a feature_add (the differential check's verdict `listed`) beyond
 * its parent: reviewer, then peers, then a person (see FeatureReviewDeps). Touches no database: its
 * evidence was read by loadFeatureReview.
 */
export async function reviewFeatureAdd(
  deps: FeatureReviewDeps,
  subject: { id: string } & ToolSource,
  evidence: FeatureReviewEvidence,
  report: DifferentialReport,
  differingInputs: JsonValue[],
): Promise<FeatureReviewResult> {
  const settings = deps.config.deployment.feature_review;
  const differences = report.differences.slice(0, MAX_REVIEWED);
  const { intent } = evidence;
  const notes: string[] = [];
  const llm = reviewerLlm(deps);
  if (llm) {
    const reviewed = await askReviewer(
      llm,
      deps,
      { id: subject.id, intent, toolDescription: evidence.toolDescription },
      report,
      differences,
    );
    if (reviewed.outcome === 'held') return reviewed;
    notes.push(...reviewed.notes);
  }
  if (settings.peers) {
    const { peers } = evidence;
    if (peers.length >= settings.min_peers) {
      const cases = await peerCases(deps.sandbox, subject, evidence.parents, report, differingInputs);
      const judged = await askPeers(deps.sandbox, { id: subject.id, intent }, peers, cases, settings.min_peers);
      return { ...judged, notes: [...notes, ...judged.notes] };
    }
    notes.push(
      peers.length
        ? `peers: only ${peers.length} routed tool(s) of its category and language, fewer than min_peers ${settings.min_peers}`
        : 'peers: no routed tool of its category and language to ask',
    );
  }
  if (llm) return { outcome: 'passed', decidedBy: 'reviewer', failures: [], notes };
  if (deps.config.deployment.review === 'hold')
    return {
      outcome: 'awaiting',
      decidedBy: 'person',
      failures: [],
      notes: [
        ...notes,
        `held for review: ${report.differing} listed difference(s); dise review ${subject.id} --approve | --refuse`,
      ],
    };
  return { outcome: 'passed', decidedBy: null, failures: [], notes };
}
