import { describe, expect, it } from 'vitest';
import { parseManifestData } from '../../src/cli/manifest.js';
import { inferSchema, inputShape, outputShape } from '../../src/mcp/schemas.js';

describe('MCP schemas of a tool', () => {
  it('infers the narrowest schema the test inputs share', () => {
    expect(inferSchema(['a', 'b'])).toEqual({ type: 'string' });
    expect(inferSchema([1, 2])).toEqual({ type: 'integer' });
    expect(inferSchema([1, 2.5])).toEqual({ type: 'number' });
    expect(inferSchema(['a', null])).toEqual({ anyOf: [{ type: 'null' }, { type: 'string' }] });
    expect(inferSchema([{ a: 1, b: 'x' }, { a: 2 }])).toEqual({
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: 'string' } },
      required: ['a'],
    });
    expect(inferSchema([[1, 2], []])).toEqual({ type: 'array', items: { type: 'integer' } });
    expect(inferSchema([])).toEqual({});
  });

  it('wraps an input that is not an object in {"input": …}; an object input is the arguments themselves', () => {
    expect(inputShape(null, ['user@example.com'])).toEqual({
      schema: {
        type: 'object',
        properties: { input: { type: 'string' } },
        required: ['input'],
        additionalProperties: false,
      },
      wrapped: true,
      source: 'inferred',
    });
    expect(inputShape(null, [])).toMatchObject({ schema: { properties: { input: {} } }, wrapped: true });
    const declared = {
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { a: { type: 'number' } },
    };
    expect(inputShape(declared, ['ignored'])).toEqual({ schema: declared, wrapped: false, source: 'declared' });
    expect(
      inputShape({ $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'string', format: 'email' }, [])
        .schema,
    ).toEqual({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      properties: { input: { type: 'string', format: 'email' } },
      required: ['input'],
      additionalProperties: false,
    });
  });

  it('has an output schema only when one is declared; a non-object output travels in "result"', () => {
    expect(outputShape(null)).toBeNull();
    expect(outputShape({ type: 'boolean' })).toEqual({
      schema: { type: 'object', properties: { result: { type: 'boolean' } }, required: ['result'] },
      wrapped: true,
    });
    expect(outputShape({ type: 'object', properties: { ok: { type: 'boolean' } } })).toMatchObject({ wrapped: false });
  });

  it('reads input_schema and output_schema from a manifest, and refuses one that is not an object', () => {
    const base = { name: 'x', version: '1.0.0', code: 'function run(i) { return i; }' };
    const [v] = parseManifestData(
      { ...base, input_schema: { type: 'string' }, output_schema: { type: 'boolean' } },
      'x.yaml',
    );
    expect(v).toMatchObject({ inputSchema: { type: 'string' }, outputSchema: { type: 'boolean' } });
    expect(() => parseManifestData({ ...base, input_schema: 'string' }, 'x.yaml')).toThrow(/x\.yaml: input_schema: /);
  });
});
