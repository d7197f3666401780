import { z } from 'zod';
import type { ToolLanguage } from '../shared/language.js';
import type { LlmClient } from './client.js';

export const regenerationSchema = z.strictObject({
  code: z.string().min(1),
  notes: z.string(),
});
export type LlmRegeneration = z.infer<typeof regenerationSchema>;

export interface RegenerationPrompt {
  /** The language the tool is written in; the answer must be in it too. */
  language: ToolLanguage;
  ancestorId: string;
  ancestorCode: string;
  goal: string;
  rules: { ruleId: string; description: string; patternToAvoid: string; reason: string; sourceFailure: string }[];
  rejections: string[];
  attempt: number;
}

const SYSTEM: Record<ToolLanguage, string> = {
  javascript: `You regenerate a JavaScript tool. The tool is a script defining function run(input) that
takes and returns JSON values, with no require, imports, process, network or timers.
Answer with JSON only: {"code": "<the whole script>", "notes": "<what you changed>"}.`,
  python: `You regenerate a Python tool. The tool is a Python 3 module defining def run(input) that takes
and returns JSON values (dict, list, str, int, float, bool, None). It may import pure standard-library
modules (re, json, math, string, unicodedata, datetime, collections…) and nothing that reaches the
host: no os, sys, subprocess, socket, open, eval, exec or dunder attributes.
Answer with JSON only: {"code": "<the whole module>", "notes": "<what you changed>"}.`,
};

function constraintsOf(rules: RegenerationPrompt['rules']): string {
  return rules
    .map(
      (r, i) =>
        `${i + 1}. AVOID: ${r.description}\n   Pattern: ${r.patternToAvoid}\n   Reason: ${r.reason}\n   Source: ${r.sourceFailure}`,
    )
    .join('\n');
}

function previousOf(rejections: string[]): string {
  return rejections.length ? `\nPREVIOUS ATTEMPTS WERE REJECTED:\n${rejections.map((r) => `- ${r}`).join('\n')}\n` : '';
}

/**
 * Regeneration from the healthy ancestor (when the version that failed is the one that introduced
 * the failure): the ancestor, the mutation's goal, every rule and every rejection.
 */
export async function regenerateWithLlm(
  llm: LlmClient,
  p: RegenerationPrompt,
  signal?: AbortSignal,
): Promise<LlmRegeneration> {
  const constraints = constraintsOf(p.rules);
  const previous = previousOf(p.rejections);
  const user = `Original Goal: ${p.goal}
Base Implementation: ${p.ancestorId} (${p.language})
${p.ancestorCode}
CRITICAL CONSTRAINTS - MUST AVOID:
${constraints || '(none)'}
${previous}
Task: Regenerate this tool with the original goal, but strictly avoiding the patterns above.
1. Achieve the original goal (performance, features, etc.)
2. Absolutely avoid the prohibited patterns
3. Keep every existing test passing
4. Add safeguards against the specific failure mode
This is attempt ${p.attempt}.`;
  return llm.json({
    system: SYSTEM[p.language],
    user,
    schemaName: 'RegeneratedTool',
    schema: regenerationSchema,
    signal,
  });
}

export interface RevisionPrompt {
  language: ToolLanguage;
  failedId: string;
  failedCode: string;
  culpritId: string;
  /** The culprit's change as a line diff against its parent: what to undo. */
  culpritDiff: string;
  /** Why the culprit's change is wrong (the analysis). */
  culpritMistake: string;
  /** The goals of the mutations after the culprit, oldest first: what to keep. */
  laterGoals: { versionId: string; goal: string }[];
  rules: RegenerationPrompt['rules'];
  rejections: string[];
  attempt: number;
}

/**
 * A revert by the LLM, for when the culprit lies above the failed version: the failed version's code,
 * the culprit's diff and what to undo, the goals of the later mutations to keep, every rule and every
 * rejection.
 */
export async function reviseWithLlm(llm: LlmClient, p: RevisionPrompt, signal?: AbortSignal): Promise<LlmRegeneration> {
  const later = p.laterGoals.length ? p.laterGoals.map((g) => `- ${g.versionId}: ${g.goal}`).join('\n') : '(none)';
  const user = `Failed Version: ${p.failedId} (${p.language})
${p.failedCode}
THE CHANGE TO UNDO (${p.culpritId}, an ancestor of ${p.failedId}):
${p.culpritDiff}
What is wrong with it: ${p.culpritMistake}
CHANGES MADE AFTER IT, TO KEEP:
${later}
CRITICAL CONSTRAINTS - MUST AVOID:
${constraintsOf(p.rules) || '(none)'}
${previousOf(p.rejections)}
Task: Rewrite ${p.failedId} so that the mistake ${p.culpritId} introduced is gone, keeping everything
the later changes added.
1. Undo the harmful part of ${p.culpritId}'s change (keep its goal where that is safe)
2. Keep every feature listed above and every existing test passing
3. Absolutely avoid the prohibited patterns
This is attempt ${p.attempt}.`;
  return llm.json({ system: SYSTEM[p.language], user, schemaName: 'RevisedTool', schema: regenerationSchema, signal });
}
