import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { SEMVER_PATTERN, TOOL_NAME_PATTERN } from '../shared/ids.js';
import { TOOL_LANGUAGES } from '../shared/language.js';
import { MUTATION_TYPES, type JsonValue } from '../shared/lineage-types.js';
import type { RegisterVersionInput } from '../lineage/store.js';

/** A manifest file could not be used; the message names the file, the field and the problem. */
export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly field: string | null,
    problem: string,
  ) {
    super(`${file}${field ? `: ${field}` : ''}: ${problem}`);
    this.name = 'ManifestError';
  }
}

const jsonValue: z.ZodType<JsonValue> = z.lazy(() =>
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(jsonValue), z.record(z.string(), jsonValue)]),
);

const manifestSchema = z.strictObject({
  name: z.string().regex(TOOL_NAME_PATTERN, 'must match [a-z][a-z0-9_]*'),
  version: z.string().regex(SEMVER_PATTERN, 'must be semver MAJOR.MINOR.PATCH, e.g. 2.0.0'),
  parents: z.array(z.string().min(1)).default([]),
  description: z.string().default(''),
  category: z.string().max(100).default(''),
  /** The language of `code`; a child keeps its first parent's when left out, a root is javascript. */
  language: z.enum(TOOL_LANGUAGES).optional(),
  code: z.string().min(1, 'must not be empty'),
  /** JSON Schema of `run`'s input and output (MCP clients read them); a child inherits its first parent's. */
  input_schema: z.record(z.string(), jsonValue).optional(),
  output_schema: z.record(z.string(), jsonValue).optional(),
  mutation: z
    .strictObject({
      type: z.enum(MUTATION_TYPES),
      description: z.string().min(1, 'must not be empty'),
      prompt: z.string().optional(),
      fitness_before: z.number().min(0).max(1).optional(),
      fitness_after: z.number().min(0).max(1).optional(),
    })
    .optional(),
  tests: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(255),
        input: jsonValue,
        expect: jsonValue,
        critical: z.boolean().default(true),
      }),
    )
    .default([]),
});

export type Manifest = z.infer<typeof manifestSchema>;

function pathOf(issuePath: readonly PropertyKey[], index: number | null): string {
  const parts = issuePath.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  const prefix = index === null ? '' : `[${index}]`;
  const joined = `${prefix}${parts}`.replace(/^\./, '');
  return joined || '(document)';
}

/** Validates parsed manifest data (one object or a list); throws ManifestError naming file and field. */
export function parseManifestData(data: unknown, file: string): RegisterVersionInput[] {
  const list = Array.isArray(data) ? data : [data];
  const isList = Array.isArray(data);
  if (list.length === 0) throw new ManifestError(file, null, 'holds no manifest');
  return list.map((item, i) => {
    const result = manifestSchema.safeParse(item);
    if (!result.success) {
      const issue = result.error.issues[0]!;
      const problem = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message;
      const field =
        issue.code === 'unrecognized_keys'
          ? pathOf(issue.path, isList ? i : null)
          : pathOf(issue.path, isList ? i : null);
      throw new ManifestError(file, field, problem);
    }
    const m = result.data;
    return {
      name: m.name,
      version: m.version,
      parents: m.parents,
      description: m.description,
      category: m.category,
      code: m.code,
      ...(m.language ? { language: m.language } : {}),
      ...(m.input_schema ? { inputSchema: m.input_schema } : {}),
      ...(m.output_schema ? { outputSchema: m.output_schema } : {}),
      mutation: m.mutation
        ? {
            type: m.mutation.type,
            description: m.mutation.description,
            prompt: m.mutation.prompt ?? null,
            fitnessBefore: m.mutation.fitness_before ?? null,
            fitnessAfter: m.mutation.fitness_after ?? null,
          }
        : null,
      tests: m.tests.map((t) => ({ name: t.name, input: t.input, expect: t.expect, critical: t.critical })),
    };
  });
}

/** Reads a YAML or JSON manifest file (YAML is a superset of JSON). */
export function readManifestFile(file: string): RegisterVersionInput[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ManifestError(
      file,
      null,
      `cannot read file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  let data: unknown;
  try {
    data = YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new ManifestError(file, null, `not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  if (data === null || data === undefined) throw new ManifestError(file, null, 'is empty');
  return parseManifestData(data, file);
}
