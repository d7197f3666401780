import { createHash } from 'node:crypto';
import { z } from 'zod';
import { TOOL_LANGUAGES } from '../shared/language.js';

/**
 * The portable rule document: one per rule, readable without dise. Two sources merge by `id` and
 * `modified` (the newer wins); `withdrawn` carries a retraction. The pattern names its engine:
 * `regex` (a JavaScript regular expression over the code), `esquery` (a selector over the ESTree AST
 * of JavaScript), `tokens` (a regular expression over dise's normalised token stream, where names
 * read `ID`, so renames do not hide a match).
 *
 * Two versions of the document: `dise-rule/1` always has a pattern; `dise-rule/2` may have none
 * (`pattern: null`: a semantic rule, advice in words that never gates). A rule with a pattern is
 * still written as version 1, so installations that read only version 1 keep reading it; only a
 * semantic rule needs version 2.
 */
export const RULE_DOCUMENT_SCHEMA = 'dise-rule/1';
/** The version that allows a document with no pattern (a semantic rule). */
export const SEMANTIC_RULE_DOCUMENT_SCHEMA = 'dise-rule/2';
export const PATTERN_ENGINES = ['regex', 'esquery', 'tokens'] as const;
export type PatternEngine = (typeof PATTERN_ENGINES)[number];

const failingInput = z.object({ input: z.unknown(), expected: z.unknown() });

const patternSchema = z.object({ engine: z.enum(PATTERN_ENGINES), source: z.string().min(1).max(10_000) });

const documentFields = z.object({
  id: z.string().regex(/^[A-Za-z0-9_.:-]{1,200}$/),
  modified: z.iso.datetime(),
  withdrawn: z.boolean(),
  language: z.enum(TOOL_LANGUAGES),
  /**
   * The pattern as an ast-grep rule file (YAML: id, language, severity, message, rule), for tools
   * outside dise; null when the pattern has no faithful translation. dise gates with `pattern`.
   */
  astGrep: z.string().nullable(),
  advice: z.string(),
  reason: z.string(),
  evidence: z.object({
    /** The culprit's code: the pattern must match it. */
    invalid: z.string(),
    /** The healed version's code: the pattern must not match it (null when no heal produced one). */
    valid: z.string().nullable(),
    failingInputs: z.array(failingInput),
  }),
  scope: z.enum(['descendants', 'all_similar', 'global']),
  provenance: z.object({
    installation: z.string(),
    tool: z.string(),
    version: z.string(),
    /** The version's ancestors, oldest first. */
    lineage: z.array(z.string()),
    heal: z.string().nullable(),
  }),
  related: z.array(z.string()),
});

export const ruleDocumentSchema = z.discriminatedUnion('schema', [
  documentFields.extend({ schema: z.literal(RULE_DOCUMENT_SCHEMA), pattern: patternSchema }),
  /** A semantic rule has no pattern: its `advice` is given to the LLM, and it never gates. */
  documentFields.extend({ schema: z.literal(SEMANTIC_RULE_DOCUMENT_SCHEMA), pattern: patternSchema.nullable() }),
]);
export type RuleDocument = z.infer<typeof ruleDocumentSchema>;

/** dise's own pattern kinds and the engines the document names. */
export const ENGINE_OF_KIND: Record<string, PatternEngine | undefined> = {
  regex: 'regex',
  ast: 'esquery',
  tokens: 'tokens',
};
export const KIND_OF_ENGINE: Record<PatternEngine, string> = { regex: 'regex', esquery: 'ast', tokens: 'tokens' };

/** JSON with keys sorted at every level: the bytes that are hashed and signed. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A document's digest, as the pack's manifest lists it. */
export function documentDigest(doc: RuleDocument): string {
  return sha256(canonicalJson(doc));
}

/** Two rules with the same pattern in the same language are one rule, whoever learned them. */
export function patternHash(language: string, kind: string, pattern: string): string {
  // The text as it is: a space is part of a regular expression.
  return sha256(`${language}\u0000${kind}\u0000${pattern}`);
}
