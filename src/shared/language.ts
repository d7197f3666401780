/** The languages a tool's code can be written in: JavaScript (`function run(input)`) or Python (`def run(input)`). */
export const TOOL_LANGUAGES = ['javascript', 'python'] as const;
export type ToolLanguage = (typeof TOOL_LANGUAGES)[number];
