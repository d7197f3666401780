import { z } from 'zod';
import type { LlmClient } from './client.js';

export const regenerationSchema = z.strictObject({
  code: z.string().min(1),
  notes: z.string(),
});
export type LlmRegeneration = z.infer<typeof regenerationSchema>;

export interface RegenerationPrompt {
  ancestorId: string;
  ancestorCode: string;
  goal: string;
  rules: { ruleId: string; description: string; patternToAvoid: string; reason: string; sourceFailure: string }[];
  rejections: string[];
  attempt: number;
}

const SYSTEM = `You regenerate a JavaScript tool. The tool is a script defining function run(input) that
takes and returns JSON values, with no require, imports, process, network or timers.
Answer with JSON only: {"code": "<the whole script>", "notes": "<what you changed>"}.`;

/** The seed's regenerate_from_ancestor prompt: the ancestor, the goal, every rule and every rejection. */
export async function regenerateWithLlm(llm: LlmClient, p: RegenerationPrompt, signal?: AbortSignal): Promise<LlmRegeneration> {
  const constraints = p.rules
    .map((r, i) => `${i + 1}. AVOID: ${r.description}\n   Pattern: ${r.patternToAvoid}\n   Reason: ${r.reason}\n   Source: ${r.sourceFailure}`)
    .join('\n');
  const previous = p.rejections.length ? `\nPREVIOUS ATTEMPTS WERE REJECTED:\n${p.rejections.map((r) => `- ${r}`).join('\n')}\n` : '';
  const user = `Original Goal: ${p.goal}
Base Implementation: ${p.ancestorId}
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
  return llm.json({ system: SYSTEM, user, schemaName: 'RegeneratedTool', schema: regenerationSchema, signal });
}
