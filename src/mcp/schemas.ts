import type { JsonValue } from '../shared/lineage-types.js';

/** A JSON Schema, as a JSON object. */
export type JsonSchema = { [key: string]: JsonValue };

/** The property a non-object input travels in: MCP arguments are always a JSON object. */
export const WRAPPED_INPUT_PROPERTY = 'input';
/** The property a non-object output travels in, inside structuredContent. */
export const WRAPPED_OUTPUT_PROPERTY = 'result';

/** How a tool's input reaches `run`: the arguments object itself, or its `input` property. */
export interface InputShape {
  /** What MCP clients see (always `type: object`). */
  schema: JsonSchema;
  /** The arguments are `{ input: <the tool's input> }`. */
  wrapped: boolean;
  /** Where the schema came from. */
  source: 'declared' | 'inferred';
}

export interface OutputShape {
  schema: JsonSchema;
  /** structuredContent is `{ result: <the tool's output> }`. */
  wrapped: boolean;
}

function jsonType(value: JsonValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/**
 * A JSON Schema that every one of `values` satisfies, no wider than their types need: the types
 * seen, an object's properties (required when every object has them) and an array's items. No
 * values: any JSON value.
 */
export function inferSchema(values: readonly JsonValue[]): JsonSchema {
  if (!values.length) return {};
  const byType = new Map<string, JsonValue[]>();
  for (const v of values) {
    const t = jsonType(v);
    byType.set(t, [...(byType.get(t) ?? []), v]);
  }
  // An integer is also a number: one `number` covers both.
  if (byType.has('integer') && byType.has('number')) {
    byType.set('number', [...byType.get('number')!, ...byType.get('integer')!]);
    byType.delete('integer');
  }
  const branches = [...byType.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([t, vs]) => schemaOfType(t, vs));
  return branches.length === 1 ? branches[0]! : { anyOf: branches };
}

function schemaOfType(type: string, values: JsonValue[]): JsonSchema {
  if (type === 'object') {
    const objects = values as { [key: string]: JsonValue }[];
    const keys = [...new Set(objects.flatMap((o) => Object.keys(o)))].sort();
    const properties: JsonSchema = {};
    for (const k of keys) properties[k] = inferSchema(objects.filter((o) => k in o).map((o) => o[k]!));
    const required = keys.filter((k) => objects.every((o) => k in o));
    return { type: 'object', properties, ...(required.length ? { required } : {}) };
  }
  if (type === 'array') {
    const items = (values as JsonValue[][]).flat();
    return items.length ? { type: 'array', items: inferSchema(items) } : { type: 'array' };
  }
  return { type };
}

/** Is this schema one of an object, so MCP arguments can be the input itself? */
function isObjectSchema(schema: JsonSchema): boolean {
  return schema.type === 'object';
}

/**
 * The MCP input schema of a tool: the declared one, else one inferred from its test inputs. An
 * input that is not an object (a string, a number, a list…) is wrapped: the arguments are
 * `{ "input": <value> }`, and `run` receives the value.
 */
export function inputShape(declared: JsonSchema | null, testInputs: readonly JsonValue[]): InputShape {
  const source = declared ? 'declared' : 'inferred';
  const schema = declared ?? inferSchema(testInputs);
  if (isObjectSchema(schema)) return { schema, wrapped: false, source };
  const { $schema, ...inner } = schema;
  return {
    schema: {
      ...(typeof $schema === 'string' ? { $schema } : {}),
      type: 'object',
      properties: { [WRAPPED_INPUT_PROPERTY]: inner },
      required: [WRAPPED_INPUT_PROPERTY],
      additionalProperties: false,
    },
    wrapped: true,
    source,
  };
}

/** The MCP output schema of a tool with a declared one; a non-object output travels in `result`. */
export function outputShape(declared: JsonSchema | null): OutputShape | null {
  if (!declared) return null;
  if (isObjectSchema(declared)) return { schema: declared, wrapped: false };
  const { $schema, ...inner } = declared;
  return {
    schema: {
      ...(typeof $schema === 'string' ? { $schema } : {}),
      type: 'object',
      properties: { [WRAPPED_OUTPUT_PROPERTY]: inner },
      required: [WRAPPED_OUTPUT_PROPERTY],
    },
    wrapped: true,
  };
}
