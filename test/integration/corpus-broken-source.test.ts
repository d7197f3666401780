import { afterAll, describe, expect, it, vi } from 'vitest';
import type * as CodeInputs from '../../src/judge/code-inputs.js';
import { defaultConfig } from '../../src/config/schema.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { useTestStore } from '../support/database.js';

// Registration on a real database when one of the differential corpus's sources throws: the
// registration completes, the version is stored FAILED (never routed), and its result and stored
// check name the source and its error.

vi.mock('../../src/judge/code-inputs.js', async (importOriginal) => {
  const real = await importOriginal<typeof CodeInputs>();
  return {
    ...real,
    // A suite input this source cannot handle: it throws as a string built too long would.
    codeInputs: (...args: Parameters<typeof real.codeInputs>) => {
      const sources = real.codeInputs(...args);
      if (!args[0].includes('hostile')) return sources;
      return {
        ...sources,
        characters: {
          [Symbol.iterator](): Iterator<never> {
            return {
              next() {
                throw new RangeError('Invalid string length');
              },
            };
          },
        },
      };
    },
  };
});

const h = useTestStore();
const config = defaultConfig();
const sandbox = new Sandbox(config.sandbox);
afterAll(() => sandbox.close());

const V1 = "function run(input) { return typeof input === 'string' ? input.length : -1; }";
const V2 = "function run(input) {\n  if (typeof input !== 'string') return -1;\n  return input.length;\n}";

describe('a corpus source that throws at registration', () => {
  it('stores the version FAILED with the source and its error in the result, and never routes it', async () => {
    const validate = registrationValidator({ store: h.store, sandbox, config });
    const registered = await h.store.registerMany(
      [
        { name: 'len', version: '1.0.0', code: V1, tests: [{ name: 'hostile', input: 'hostile', expect: 7 }] },
        {
          name: 'len',
          version: '1.1.0',
          parents: ['len@1.0.0'],
          code: V2,
          mutation: { type: 'optimization', description: 'Early return' },
        },
      ],
      { validate },
    );
    const v2 = registered.find((r) => r.version === '1.1.0')!;
    expect(v2.health).toBe('failed');
    expect(v2.differential).toMatchObject({
      verdict: 'refused',
      differing: 0,
      brokenSources: [{ source: 'characters', error: 'RangeError: Invalid string length' }],
    });
    expect(v2.differential!.message).toContain('"characters" threw RangeError: Invalid string length');
    expect(v2.failures?.map((f) => f.failureType)).toContain('judge_error');

    const stored = await h.db.query<{ failure_type: string; description: string }>(
      `SELECT failure_type, description FROM failures WHERE tool_id = 'len@1.1.0'`,
    );
    expect(stored.some((f) => f.failure_type === 'judge_error' && f.description.includes('"characters" threw'))).toBe(
      true,
    );
    const lineage = await h.store.getLineage('len@1.1.0');
    expect(lineage.health).toBe('failed');
    expect(lineage.differential?.brokenSources).toEqual([
      { source: 'characters', error: 'RangeError: Invalid string length' },
    ]);
    expect(await h.store.routing.routeOf('len')).not.toBe('len@1.1.0');
  });
});
