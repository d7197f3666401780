/** The languages a tool's code can be written in: JavaScript (`function run(input)`) or Python (`def run(input)`). */
export const TOOL_LANGUAGES = ['javascript', 'python'] as const;
export type ToolLanguage = (typeof TOOL_LANGUAGES)[number];

export function isToolLanguage(value: unknown): value is ToolLanguage {
  return typeof value === 'string' && (TOOL_LANGUAGES as readonly string[]).includes(value);
}

/** Code and the language it is written in: what the sandbox, the judge and the analyses take. */
export interface ToolSource {
  code: string;
  language: ToolLanguage;
}
