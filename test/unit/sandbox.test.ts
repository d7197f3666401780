import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { ToolExecutionError, type ToolErrorKind } from '../../src/sandbox/errors.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';

const config = { ...defaultConfig().sandbox, timeout_ms: 200, memory_limit_mb: 16, max_output_bytes: 64 * 1024 };
const sandbox = new Sandbox(config);
/** For the memory bomb: time enough that only the memory limit can stop it, however loaded the machine. */
const roomy = new Sandbox({ ...config, timeout_ms: 20_000 });
afterAll(() => {
  sandbox.close();
  roomy.close();
});

/** Hostile code whose run() misbehaves only when asked to, so the next call of the same version works. */
function hostile(body: string): string {
  return `function run(input) {\n  if (input && input.attack) {\n${body}\n  }\n  return { ok: true, echo: input };\n}`;
}

function failure(key: string, code: string, input: unknown, box = sandbox): ToolExecutionError {
  try {
    box.run(key, code, input as never);
  } catch (err) {
    if (err instanceof ToolExecutionError) return err;
    throw err;
  }
  throw new Error('expected the call to fail');
}

const cases: [string, string, ToolErrorKind, RegExp][] = [
  ['an infinite loop', 'for (;;) {}', 'timeout', /time limit of 200 ms/],
  ['a thrown error', "throw new TypeError('bad input shape');", 'thrown', /TypeError: bad input shape/],
  ['deep recursion', 'const f = (n) => f(n + 1) + 1; return f(0);', 'thrown', /RangeError: Maximum call stack/],
  ['a function result', 'return function () {};', 'non_json_result', /result is a function/],
  ['an undefined result', 'return undefined;', 'non_json_result', /result is undefined/],
  ['a NaN inside the result', 'return { score: NaN };', 'non_json_result', /result\.score is NaN/],
  ['a BigInt result', 'return 10n;', 'non_json_result', /result is a bigint/],
  ['a class instance', 'return new Map();', 'non_json_result', /result is a Map/],
  ['a cyclic result', 'const o = {}; o.self = o; return o;', 'non_json_result', /result\.self is a cycle/],
  ['a huge output', "return 'x'.repeat(200000);", 'output_too_large', /over the limit of 65536/],
  ['require', "return require('fs').readFileSync('/etc/passwd', 'utf8');", 'host_access', /require is not available/],
  ['process', 'return process.env;', 'host_access', /process is not available/],
  ['fetch', "return fetch('http://127.0.0.1/');", 'host_access', /fetch is not available/],
  ['a globalThis trick', "return globalThis.constructor.constructor('return process')().env;", 'host_access', /process is not available/],
  ['a this-constructor trick', "return (function () { return this; }).constructor('return require')()('child_process');", 'host_access', /require is not available/],
  ['timers', 'setTimeout(() => {}, 1); return 1;', 'host_access', /setTimeout is not available/],
];

describe('sandbox: hostile code ends as a typed failure and the next call works', () => {
  it.each(cases)('%s', (name, body, kind, message) => {
    const key = `hostile:${name}`;
    const code = hostile(body);
    expect(sandbox.run(key, code, { n: 1 })).toEqual({ ok: true, echo: { n: 1 } });
    const err = failure(key, code, { attack: true });
    expect(err.kind).toBe(kind);
    expect(err.message).toMatch(message);
    expect(sandbox.run(key, code, { n: 2 })).toEqual({ ok: true, echo: { n: 2 } });
  });

  it('a memory bomb', () => {
    const code = hostile('const hog = []; for (;;) hog.push(new Array(100000).fill(input));');
    expect(roomy.run('bomb', code, { n: 1 })).toEqual({ ok: true, echo: { n: 1 } });
    const err = failure('bomb', code, { attack: true }, roomy);
    expect(err.kind).toBe('memory_limit');
    expect(err.message).toMatch(/memory limit of 16 MB/);
    expect(roomy.run('bomb', code, { n: 2 })).toEqual({ ok: true, echo: { n: 2 } });
  });

  it('keeps the host untouched by prototype pollution inside the isolate', () => {
    const code = hostile("Object.prototype.polluted = 'yes'; Array.prototype.push = null; return 1;");
    sandbox.run('pollute', code, { attack: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const list: number[] = [];
    list.push(1);
    expect(list).toEqual([1]);
  });

  it('refuses a non-JSON input', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(failure('input', 'function run(x) { return x; }', cyclic).kind).toBe('invalid_input');
    expect(failure('input', 'function run(x) { return x; }', undefined).kind).toBe('invalid_input');
  });

  it('types code that does not load: no run(), a top-level throw, a top-level infinite loop', () => {
    expect(failure('norun', 'function walk(x) { return x; }', 1).kind).toBe('compile_error');
    expect(failure('toplevel-throw', "throw new Error('boom'); function run(x) { return x; }", 1).message).toMatch(/failed to load: Error: boom/);
    expect(failure('toplevel-loop', 'while (true) {} function run(x) { return x; }', 1).kind).toBe('timeout');
  });

  it('compiles each code body once and reuses its isolate', () => {
    const before = sandbox.stats.compiled;
    const code = 'function run(x) { return x * 2; }';
    for (let i = 0; i < 50; i++) expect(sandbox.run('reuse', code, i)).toBe(i * 2);
    expect(sandbox.stats.compiled - before).toBe(1);
  });

  it('keeps state out of reach between tools: each version has its own isolate', () => {
    sandbox.run('a', 'var counter = 0; function run() { return ++counter; }', null);
    expect(sandbox.run('b', 'function run() { return typeof counter; }', null)).toBe('undefined');
  });
});
