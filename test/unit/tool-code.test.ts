import { describe, expect, it } from 'vitest';
import { LineageError } from '../../src/lineage/errors.js';
import { parseToolCode } from '../../src/detection/tool-code.js';

describe('tool code', () => {
  it.each([
    'function run(input) { return input; }',
    'const run = (input) => input * 2;',
    'var run = function (input) { return [input]; };',
    'const helper = (x) => x;\nfunction run(input) { return helper(input); }',
  ])('accepts a top-level run: %s', (code) => {
    expect(() => parseToolCode(code)).not.toThrow();
  });

  it('names line and column of a syntax error', () => {
    try {
      parseToolCode('function run(input) {\n  return input +;\n}');
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(LineageError);
      expect((err as LineageError).code).toBe('INVALID_CODE');
      expect((err as Error).message).toMatch(/line 2, column 17/);
    }
  });

  it('refuses code without run, and modules', () => {
    expect(() => parseToolCode('function walk(input) { return input; }')).toThrow(
      /must define a top-level `function run\(input\)`/,
    );
    expect(() => parseToolCode('export function run(input) { return input; }')).toThrow(/does not parse/);
  });
});
