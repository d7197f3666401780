import { z } from 'zod';
import type { ToolLanguage } from '../shared/language.js';
import type { LlmClient } from './client.js';

/** What we ask the analyst for: a FailureAnalysis, as strict JSON. */
export const llmAnalysisSchema = z.strictObject({
  recoverable: z.boolean(),
  reason: z.string().min(1),
  problematic_pattern: z.string().min(1),
  pattern_kind: z.enum(['regex', 'ast', 'semantic']),
  rule_description: z.string().min(1),
  scope: z.enum(['descendants', 'all_similar', 'global']),
});
export type LlmAnalysis = z.infer<typeof llmAnalysisSchema>;

export interface AnalysisPrompt {
  language: ToolLanguage;
  failedId: string;
  culpritId: string;
  goodId: string;
  failure: string;
  failureType: string;
  mutation: string | null;
  diff: string;
  goodCode: string;
  badCode: string;
  failingCases: string;
}

const SYSTEM: Record<ToolLanguage, string> = {
  javascript: `You analyse why an evolved tool version broke. Tools are JavaScript functions run(input).
Answer with JSON only. problematic_pattern must be machine-checkable when possible:
pattern_kind "regex" (a JavaScript regular expression matched against the code) or "ast" (an esquery
selector over an ESTree AST, e.g. CallExpression[callee.property.name="indexOf"]); it must NOT match
the good version's code. Use "semantic" only when no mechanical pattern captures the mistake.`,
  python: `You analyse why an evolved tool version broke. Tools are Python functions def run(input).
Answer with JSON only. problematic_pattern must be machine-checkable when possible:
pattern_kind "regex" (a JavaScript regular expression matched against the Python source, e.g.
"\\.split\\(\\s*'@'\\s*\\)"); "ast" is not available for Python. The pattern must NOT match
the good version's code. Use "semantic" only when no mechanical pattern captures the mistake.`,
};

/** Asks the LLM what went wrong (the analyze_failure prompt, answered as JSON). */
export async function analyzeWithLlm(llm: LlmClient, p: AnalysisPrompt, signal?: AbortSignal): Promise<LlmAnalysis> {
  const user = `Analyze this tool failure:
LANGUAGE: ${p.language}
FAILED TOOL: ${p.failedId}
VERSION THAT INTRODUCED IT (bisected): ${p.culpritId}
LAST GOOD VERSION: ${p.goodId}
FAILURE (${p.failureType}): ${p.failure}
MUTATION APPLIED: ${p.mutation ?? 'Unknown'}
FAILING INPUTS:
${p.failingCases}
CODE DIFF (${p.goodId} -> ${p.culpritId}):
${p.diff}
GOOD CODE:
${p.goodCode}
BAD CODE:
${p.badCode}
Questions:
1. What specific change caused the failure?
2. Was it the mutation itself, or a side effect?
3. Can we regenerate from ${p.goodId} with a better approach? (recoverable)
4. What should future mutations avoid? (problematic_pattern, rule_description, scope)`;
  return llm.json({
    system: SYSTEM[p.language],
    user,
    schemaName: 'FailureAnalysis',
    schema: llmAnalysisSchema,
    signal,
  });
}
