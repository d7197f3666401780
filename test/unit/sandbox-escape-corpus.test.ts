import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { ToolExecutionError, type ToolErrorKind } from '../../src/sandbox/errors.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import type { JsonValue } from '../../src/shared/lineage-types.js';

// Escape and tampering attempts against the JavaScript sandbox (isolated-vm), grouped by technique;
// test/unit/sandbox.test.ts keeps the earlier cases (host globals, limits, built-ins replaced). Every
// attempt ends as a JSON value that shows nothing of the host, or as a typed failure; then the same
// tool answers a plain call correctly, and so does another tool. Calls run per call (the default):
// what one call does to its realm is gone for the next.

const config = { ...defaultConfig().sandbox, timeout_ms: 500, memory_limit_mb: 32, max_output_bytes: 256 * 1024 };
const sandbox = new Sandbox(config);
afterAll(() => sandbox.close());

interface Attempt {
  name: string;
  /** The body of `if (input.attack) { … }` in run(input); or, with `whole`, the tool's whole code. */
  body: string;
  whole?: boolean;
  /** A JSON value the attempt answers with, or the kind of typed failure it ends as. */
  expect: JsonValue | ToolErrorKind | { value: (v: JsonValue) => boolean } | { anyOf: ToolErrorKind[] };
}

const KINDS = new Set([
  'timeout',
  'memory_limit',
  'thrown',
  'non_json_result',
  'output_too_large',
  'invalid_input',
  'compile_error',
  'host_access',
]);

const groups: Record<string, Attempt[]> = {
  'prototype pollution across calls': [
    {
      name: 'Object.prototype polluted, then read by the next call',
      body: "Object.prototype.polluted = 'yes'; return 1;",
      expect: 1,
    },
    {
      name: 'Array.prototype.map replaced',
      body: 'Array.prototype.map = function () { return ["pwned"]; }; return [1].map((x) => x);',
      expect: ['pwned'],
    },
    {
      name: "JSON.parse replaced for the next call's input",
      body: 'JSON.parse = () => ({ attack: true, forged: true }); return 1;',
      expect: 1,
    },
    {
      name: 'a setter on Array.prototype index 0',
      body: "Object.defineProperty(Array.prototype, '0', { set(v) { throw new Error('caught ' + v); }, get() { return 'x'; }, configurable: true }); return [[1], { a: [2] }];",
      expect: [[1], { a: [2] }],
    },
    {
      name: 'Object.prototype.toJSON answering for every object',
      body: "Object.prototype.toJSON = function () { return 'forged'; }; return { a: 1 };",
      expect: { a: 1 },
    },
    { name: 'Array.prototype.toJSON', body: "Array.prototype.toJSON = () => 'forged'; return [1, 2];", expect: [1, 2] },
    {
      name: 'String.prototype.toJSON and Number.prototype.toJSON',
      body: "String.prototype.toJSON = () => 'forged'; Number.prototype.toJSON = () => 0; return ['s', 5];",
      expect: ['s', 5],
    },
    {
      name: 'a __proto__ key in the result',
      body: 'return JSON.parse(\'{"__proto__": {"polluted": true}, "a": 1}\');',
      expect: {
        value: (v) => (v as Record<string, unknown>).a === 1 && ({} as Record<string, unknown>).polluted === undefined,
      },
    },
    {
      name: 'constructor.prototype through the input object',
      body: 'input.constructor.prototype.injected = 1; return ({}).injected;',
      expect: 1,
    },
    {
      name: 'Object.freeze of the built-ins the next call needs',
      body: 'Object.freeze(Object.prototype); Object.freeze(Array.prototype); Object.freeze(JSON); return 1;',
      expect: 1,
    },
    {
      name: 'Symbol.iterator of arrays replaced',
      body: 'Array.prototype[Symbol.iterator] = function* () { yield "forged"; }; return [1, 2];',
      expect: [1, 2],
    },
    {
      name: 'String.prototype methods the host would use',
      body: "String.prototype.replace = () => 'x'; String.prototype.slice = () => 'x'; return 'abc';",
      expect: 'abc',
    },
  ],
  'Function constructors via prototypes': [
    {
      name: "an arrow function's constructor",
      body: "return (() => 0).constructor('return typeof process')();",
      expect: 'undefined',
    },
    {
      name: 'the async function constructor',
      body: "return typeof Object.getPrototypeOf(async function () {}).constructor('return process')();",
      expect: 'host_access',
    },
    {
      name: 'the generator function constructor',
      body: "const g = Object.getPrototypeOf(function* () {}).constructor('yield typeof require')(); return g.next().value;",
      expect: 'undefined',
    },
    {
      name: 'Reflect.construct(Function)',
      body: "return Reflect.construct(Function, ['return typeof globalThis.process'])();",
      expect: 'undefined',
    },
    {
      name: "[].constructor.constructor to the realm's global",
      body: "const g = [].constructor.constructor('return this')(); return Object.keys(g).filter((k) => /process|require|Buffer|fetch/.test(k));",
      expect: [],
    },
    {
      name: 'the global then process by name',
      body: "const g = [].constructor.constructor('return this')(); return g['pro' + 'cess'].env;",
      expect: 'thrown',
    },
    { name: 'eval reaching for require', body: "return eval('req' + 'uire')('fs');", expect: 'host_access' },
    {
      name: 'a dynamic import',
      body: "return import('node:fs');",
      // A promise that never loads anything (non_json_result); a host whose V8 has its own module
      // loader hook installed (vitest's) refuses the import when the code loads (compile_error).
      expect: { anyOf: ['non_json_result', 'compile_error'] },
    },
    {
      name: 'the Function constructor reaching for process',
      body: "return Function('return process')().env;",
      expect: 'host_access',
    },
    {
      name: 'a bound constructor',
      body: "const F = Function.prototype.bind.call(Function, null, 'return typeof module'); return new F()();",
      expect: 'undefined',
    },
  ],
  'getters on results': [
    {
      name: 'a getter that answers differently the second time',
      body: 'let n = 0; return { get a() { n += 1; return n === 1 ? 1 : function () {}; } };',
      expect: { a: 1 },
    },
    {
      name: 'a getter that returns a function',
      body: 'return { get a() { return () => 1; } };',
      expect: 'non_json_result',
    },
    { name: 'a getter that throws', body: "return { get a() { throw new TypeError('got'); } };", expect: 'thrown' },
    { name: 'a getter that never ends', body: 'return { get a() { for (;;) {} } };', expect: 'timeout' },
    {
      name: 'a getter building deeper objects forever',
      body: 'const deep = () => ({ get next() { return deep(); } }); return deep();',
      expect: 'non_json_result',
    },
    {
      name: 'an array element getter',
      body: 'const a = [1]; Object.defineProperty(a, 0, { get() { return { x: 1 }; } }); return a;',
      expect: [{ x: 1 }],
    },
    {
      name: 'a getter on the length of an array-like',
      body: "return { length: 2, 0: 'a', get 1() { return 'b'; } };",
      expect: { '0': 'a', '1': 'b', length: 2 },
    },
  ],
  'Proxy results': [
    {
      name: 'a Proxy whose ownKeys throws',
      body: "return new Proxy({}, { ownKeys() { throw new Error('trap'); } });",
      expect: 'thrown',
    },
    {
      name: 'a Proxy whose get answers differently each time',
      body: 'let n = 0; return new Proxy({ a: 0 }, { get() { n += 1; return n; } });',
      expect: { a: 1 },
    },
    {
      name: 'a Proxy lying about its prototype',
      body: 'return new Proxy(new Map(), { getPrototypeOf() { return Object.prototype; } });',
      expect: {},
    },
    {
      name: 'a revoked Proxy',
      body: 'const r = Proxy.revocable({}, {}); r.revoke(); return r.proxy;',
      expect: 'thrown',
    },
    {
      name: 'a Proxy over an array',
      body: "return new Proxy([1, 2], { get(t, k) { return k === 'length' ? 2 : typeof k === 'string' ? 'p' + k : undefined; } });",
      expect: ['p0', 'p1'],
    },
    {
      name: 'a Proxy with a huge length',
      body: "return new Proxy([], { get(t, k) { return k === 'length' ? 1e9 : 0; } });",
      // Writing a billion elements ends at whichever limit comes first: the clock, or the isolate's
      // memory (which the tool's ready contexts share).
      expect: { anyOf: ['timeout', 'memory_limit'] },
    },
    {
      name: 'a Proxy as the thrown value',
      body: "throw new Proxy({}, { get() { throw new Error('trap'); } });",
      expect: 'thrown',
    },
  ],
  symbols: [
    { name: 'a symbol result', body: "return Symbol('s');", expect: 'non_json_result' },
    { name: 'a symbol inside the result', body: "return { s: Symbol.for('x') };", expect: 'non_json_result' },
    { name: 'symbol-keyed properties', body: "return { [Symbol('hidden')]: 1, a: 2 };", expect: { a: 2 } },
    {
      name: 'Symbol.toPrimitive on a result object',
      body: "return { [Symbol.toPrimitive]() { throw new Error('prim'); }, a: 1 };",
      expect: { a: 1 },
    },
    {
      name: 'Symbol.toStringTag pretending to be a plain object',
      body: "class K { get [Symbol.toStringTag]() { return 'Object'; } } return new K();",
      expect: 'non_json_result',
    },
    {
      name: 'Symbol.hasInstance on Object',
      body: 'Object.defineProperty(Object, Symbol.hasInstance, { value: () => true }); return new Set([1]);',
      expect: 'non_json_result',
    },
  ],
  'huge or cyclic results': [
    { name: 'a huge string', body: "return 'x'.repeat(1e6);", expect: 'output_too_large' },
    { name: 'a cycle through an array', body: 'const a = []; a.push(a); return a;', expect: 'non_json_result' },
    {
      name: 'a cycle two levels down',
      body: 'const o = { a: { b: {} } }; o.a.b.c = o; return o;',
      expect: 'non_json_result',
    },
    {
      name: 'nesting deeper than 500',
      body: 'let x = 1; for (let i = 0; i < 100000; i++) x = [x]; return x;',
      expect: 'non_json_result',
    },
    {
      name: 'a shared reference (not a cycle) written twice',
      body: 'const a = [1]; return [a, a];',
      expect: [[1], [1]],
    },
    {
      name: 'an exponential DAG',
      body: 'let x = [1]; for (let i = 0; i < 40; i++) x = [x, x]; return x;',
      expect: 'timeout',
    },
    {
      name: 'a wide DAG past the output limit',
      body: 'let x = "y".repeat(1000); for (let i = 0; i < 12; i++) x = [x, x]; return x;',
      expect: 'output_too_large',
    },
    {
      name: 'a sparse array of length 2**32 - 1',
      body: 'const a = []; a.length = 4294967295; return a;',
      expect: 'non_json_result',
    },
    { name: 'a sparse array with a hole', body: 'const a = [1]; a[2] = 3; return a;', expect: 'non_json_result' },
    { name: 'lone surrogates', body: "return '\\ud800x\\udfff';", expect: '\ud800x\udfff' },
    {
      name: 'many keys',
      body: 'const o = {}; for (let i = 0; i < 20000; i++) o["k" + i] = "v".repeat(20); return o;',
      expect: 'output_too_large',
    },
  ],
  'errors and the way out': [
    {
      name: 'an Error whose stack getter reaches for process',
      body: "const e = new Error('m'); Object.defineProperty(e, 'stack', { get() { return process.env; } }); throw e;",
      expect: 'thrown',
    },
    {
      name: 'an error whose name is a getter that throws',
      body: "const e = new Error('m'); Object.defineProperty(e, 'name', { get() { throw 1; } }); throw e;",
      expect: 'thrown',
    },
    {
      name: 'Error.prepareStackTrace installed',
      body: 'Error.prepareStackTrace = (e, frames) => frames.map((f) => typeof f.getThis()); null.x;',
      expect: 'thrown',
    },
    { name: 'an async run', whole: true, body: 'async function run(x) { return 1; }', expect: 'non_json_result' },
    {
      name: 'an endless chain of microtasks',
      body: 'const f = () => Promise.resolve().then(f); f(); return 1;',
      expect: { value: (v) => v === 1 },
    },
    {
      name: 'Atomics.wait on a shared buffer',
      body: 'const a = new Int32Array(new SharedArrayBuffer(4)); Atomics.wait(a, 0, 0); return 1;',
      expect: 'timeout',
    },
    {
      name: 'WebAssembly growing memory past the limit',
      body: 'const m = new WebAssembly.Memory({ initial: 1 }); for (;;) m.grow(16);',
      expect: { value: () => false },
    },
  ],
};

const ordinary = 'function run(s) { return s.trim().toLowerCase(); }';

/**
 * The tool answers a plain call after the attempt. Where the attempt may be refused when the code
 * loads (a dynamic import under a host with its own module loader hook), the next context's load may
 * be refused the same way: that refusal is typed, and no answer of the attack leaks.
 */
function expectPlainAnswer(key: string, code: string, attempt: Attempt): void {
  const { expect: expected } = attempt;
  const refusedOnLoad =
    typeof expected === 'object' &&
    expected !== null &&
    'anyOf' in expected &&
    Array.isArray(expected.anyOf) &&
    expected.anyOf.includes('compile_error');
  try {
    expect(sandbox.run(key, code, { n: 1 })).toEqual({ ok: true, echo: { n: 1 } });
  } catch (err) {
    if (!refusedOnLoad || !(err instanceof ToolExecutionError) || err.kind !== 'compile_error') throw err;
  }
}
let index = 0;

describe('the JavaScript escape corpus', () => {
  const total = Object.values(groups).reduce((n, g) => n + g.length, 0);
  it(`holds ${total} attempts in ${Object.keys(groups).length} techniques`, () => {
    expect(total).toBeGreaterThanOrEqual(50);
  });

  for (const [technique, attempts] of Object.entries(groups)) {
    describe(technique, () => {
      for (const attempt of attempts) {
        const key = `js-corpus-${index++}`;
        it(attempt.name, () => {
          const code = attempt.whole
            ? attempt.body
            : `function run(input) {\n  if (input && input.attack) {\n${attempt.body}\n  }\n  return { ok: true, echo: input };\n}`;
          let outcome: JsonValue | ToolErrorKind;
          try {
            outcome = sandbox.run(key, code, { attack: true });
          } catch (err) {
            expect(err).toBeInstanceOf(ToolExecutionError);
            const e = err as ToolExecutionError;
            // What the caller reads of the failure: nothing of the host (its own stack is the host's).
            expect(e.message).not.toMatch(/\/work\/|node_modules|HOME=|PATH=/);
            outcome = e.kind;
          }
          const expected = attempt.expect;
          if (typeof expected === 'object' && expected !== null && 'anyOf' in expected) {
            expect(expected.anyOf).toContain(outcome);
          } else if (
            typeof expected === 'object' &&
            expected !== null &&
            'value' in expected &&
            typeof expected.value === 'function'
          ) {
            // A WebAssembly memory bomb ends as memory_limit or thrown (the grow refused): typed either way.
            if (typeof outcome === 'string' && KINDS.has(outcome))
              expect(['memory_limit', 'thrown', 'timeout']).toContain(outcome);
            else expect((expected.value as (v: JsonValue) => boolean)(outcome)).toBe(true);
          } else {
            expect(outcome).toEqual(expected);
          }
          // Nothing of it reached the host's realm.
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          expect(({} as Record<string, unknown>).injected).toBeUndefined();
          expect([1].map((x) => x + 1)).toEqual([2]);
          // The same tool answers a plain call as before, and so does another tool.
          // (Code refused when it loads never answers anything, so only loaded tools are called again.)
          if (!attempt.whole && outcome !== 'compile_error') expectPlainAnswer(key, code, attempt);
          expect(sandbox.run('js-corpus-ordinary', ordinary, '  Hello World ')).toBe('hello world');
        });
      }
    });
  }
});
