import { z } from 'zod';
import type { LlmClient } from './client.js';

/** What we ask the reviewer for: one verdict per listed difference, as strict JSON. */
export const featureReviewSchema = z.strictObject({
  differences: z.array(
    z.strictObject({
      /** The difference's number in the prompt (1-based). */
      index: z.int().min(1),
      inside_intent: z.boolean(),
      reason: z.string().min(1),
    }),
  ),
});
export type FeatureReviewAnswer = z.infer<typeof featureReviewSchema>;

export interface ReviewPrompt {
  versionId: string;
  parentIds: string[];
  /** The mutation's stated intent (its description). */
  intent: string;
  toolDescription: string;
  /** One line per difference: the input, the parent's answer, the new answer. */
  differences: { input: string; parents: string; output: string }[];
}

const SYSTEM = `You review a new version of a tool that declares a feature_add: it is meant to answer some
inputs differently from its parent, as its stated intent says, and every other input as its parent does.
For each listed difference decide whether the new answer is what the stated intent asks for
(inside_intent: true) or a change the intent does not cover, such as a bug or a loosened check
(inside_intent: false). Judge each difference on its own; give a one-sentence reason. Answer with JSON only,
one entry per difference, with its index.`;

/** Asks the LLM which listed differences of a feature_add are inside its stated intent. */
export function reviewWithLlm(llm: LlmClient, p: ReviewPrompt, signal?: AbortSignal): Promise<FeatureReviewAnswer> {
  const user = `NEW VERSION: ${p.versionId} (feature_add of ${p.parentIds.join(' and ')})
TOOL: ${p.toolDescription || '(no description)'}
STATED INTENT: ${p.intent}
LISTED DIFFERENCES:
${p.differences.map((d, i) => `${i + 1}. input ${d.input}: parent answers ${d.parents}; new version answers ${d.output}`).join('\n')}`;
  return llm.json({ system: SYSTEM, user, schemaName: 'FeatureReview', schema: featureReviewSchema, signal });
}
