import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { ToolExecutionError, type ToolErrorKind } from '../../src/sandbox/errors.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import type { JsonValue } from '../../src/shared/lineage-types.js';

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
  [
    'a globalThis trick',
    "return globalThis.constructor.constructor('return process')().env;",
    'host_access',
    /process is not available/,
  ],
  [
    'a this-constructor trick',
    "return (function () { return this; }).constructor('return require')()('child_process');",
    'host_access',
    /require is not available/,
  ],
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
    expect(failure('toplevel-throw', "throw new Error('boom'); function run(x) { return x; }", 1).message).toMatch(
      /failed to load: Error: boom/,
    );
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

/** Code that tampers with the isolate's built-ins before or while it answers */
const tampering: [string, string, JsonValue | ToolErrorKind][] = [
  ['JSON.stringify replaced at the top level', 'JSON.stringify = () => "{"; function run(x) { return 1; }', 1],
  ['JSON.stringify replaced inside run', 'function run(x) { JSON.stringify = () => "{"; return { a: x }; }', { a: 2 }],
  ['JSON.parse replaced', 'JSON.parse = () => ({ evil: true }); function run(x) { return x; }', 2],
  ['Set.prototype.has always true', 'Set.prototype.has = () => true; function run(x) { return [x, x]; }', [2, 2]],
  ['Set.prototype.add removed', 'Set.prototype.add = undefined; function run(x) { return { x }; }', { x: 2 }],
  [
    'Object.keys and Array.isArray lie',
    'Object.keys = () => []; Array.isArray = () => false; function run() { return { f: function () {} }; }',
    'non_json_result',
  ],
  [
    'Object.getPrototypeOf lies',
    'class K {}; Object.getPrototypeOf = () => Object.prototype; function run() { return new K(); }',
    'non_json_result',
  ],
  ['Number.isFinite lies', 'Number.isFinite = () => true; function run() { return NaN; }', 'non_json_result'],
  [
    'Reflect.apply and Function.prototype.call replaced',
    'Reflect.apply = () => 7; Function.prototype.call = () => 7; function run(x) { return x + 1; }',
    3,
  ],
  ['a function declaration shadowing a built-in', 'function Set() { return {}; } function run(x) { return [x]; }', [2]],
  [
    'Error replaced',
    'Error = function () { return { message: "fake" }; }; function run() { return undefined; }',
    'non_json_result',
  ],
  // The result is written by the bootstrap, not JSON.stringify: no toJSON is consulted.
  [
    'Object.prototype.toJSON throwing',
    'Object.prototype.toJSON = function () { throw new RangeError("no"); }; function run() { return {}; }',
    {},
  ],
  [
    'Object.prototype.toJSON returning undefined',
    'Object.prototype.toJSON = () => undefined; function run() { return {}; }',
    {},
  ],
  ['a getter that throws', 'function run() { return { get a() { throw new TypeError("got"); } }; }', 'thrown'],
  ['a Proxy result', 'function run() { return new Proxy({}, { ownKeys() { throw new Error("trap"); } }); }', 'thrown'],
  ['a thrown symbol', 'function run() { throw Symbol("s"); }', 'thrown'],
  [
    'a thrown object whose toString throws',
    'function run() { throw { toString() { throw new Error("x"); } }; }',
    'thrown',
  ],
  ['a thrown null', 'function run() { throw null; }', 'thrown'],
  [
    'an Error whose message is a getter that throws',
    'function run() { const e = new Error("m"); Object.defineProperty(e, "message", { get() { throw 1; } }); throw e; }',
    'thrown',
  ],
  ['a SyntaxError thrown by run', 'function run() { throw new SyntaxError("mine"); }', 'thrown'],
  ['a run that is not a function', 'const run = 5;', 'compile_error'],
];

describe('sandbox: a tool that tampers with built-ins gets a value or a typed failure, never an untyped throw', () => {
  it.each(tampering)('%s', (name, code, expected) => {
    let outcome: JsonValue | ToolErrorKind;
    try {
      outcome = sandbox.run(`tamper:${name}`, code, 2);
    } catch (err) {
      expect(err).toBeInstanceOf(ToolExecutionError);
      outcome = (err as ToolExecutionError).kind;
    }
    expect(outcome).toEqual(expected);
  });
});

describe('sandbox: calls of one version cannot see each other', () => {
  it('a module-level counter starts afresh on every call', () => {
    const code = 'let n = 0; function run() { return ++n; }';
    expect([1, 2, 3, 4, 5].map(() => sandbox.run('counter', code, null))).toEqual([1, 1, 1, 1, 1]);
  });

  it('globals, prototypes and built-ins patched by one call are gone in the next', () => {
    const code = `function run(step) {
      if (step === 'taint') { globalThis.seen = 'yes'; Object.prototype.leak = 1; Array.prototype.map = null; Math.random = () => 4; cache = 9; return 0; }
      return [typeof seen, ({}).leak === undefined, typeof [].map, Math.random() < 1, typeof cache];
    }`;
    sandbox.run('taint', code, 'taint');
    expect(sandbox.run('taint', code, 'look')).toEqual(['undefined', true, 'function', true, 'undefined']);
  });

  it('the shared mode of before shows the leak it had (the benchmark baseline)', () => {
    const shared = new Sandbox(config, { isolation: 'shared' });
    try {
      const code = 'let n = 0; function run() { return ++n; }';
      expect([0, 0, 0].map(() => shared.run('counter', code, null))).toEqual([1, 2, 3]);
    } finally {
      shared.close();
    }
  });

  it('many calls do not grow the isolate until its memory limit kills it', async () => {
    const code = 'const table = new Array(2000).fill(0).map((_, i) => ({ i })); function run(x) { return table[x].i; }';
    const before = sandbox.stats.replaced;
    for (let i = 0; i < 2000; i++) {
      expect(sandbox.run('churn', code, i)).toBe(i);
      if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(sandbox.stats.replaced - before).toBe(0);
  });
});

describe('runAsync: tool code off the event loop', () => {
  it('answers and fails as run() does', async () => {
    const code = 'function run(x) { if (x === "boom") throw new TypeError("no"); return { twice: x + x }; }';
    expect(await sandbox.runAsync('async-same', code, 'ab')).toEqual(sandbox.run('async-same', code, 'ab'));
    await expect(sandbox.runAsync('async-same', code, 'boom')).rejects.toMatchObject({ kind: 'thrown' });
    await expect(sandbox.runAsync('async-spin', 'function run() { for (;;) {} }', 1)).rejects.toMatchObject({
      kind: 'timeout',
    });
  });

  it('leaves the event loop free while tool code spins to its time limit', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      await expect(sandbox.runAsync('async-loop', 'function run() { for (;;) {} }', null)).rejects.toMatchObject({
        kind: 'timeout',
      });
    } finally {
      clearInterval(timer);
    }
    // run() would have held the thread for the whole 200 ms: no tick at all.
    expect(ticks).toBeGreaterThan(0);
  });

  it('queues runs beyond its concurrency; a cancelled waiter leaves the queue and a cancelled run is abandoned at once', async () => {
    let controller = new AbortController();
    const box = new Sandbox(config, { asyncConcurrency: 1, cancellation: () => controller.signal });
    try {
      const spinning = box.runAsync('q-spin', 'function run() { for (;;) {} }', null).catch((e: unknown) => e);
      const queued = box.runAsync('q-ok', 'function run(x) { return x; }', 7).catch((e: unknown) => e);
      controller.abort(new Error('heal cancelled'));
      expect(await queued).toMatchObject({ message: 'heal cancelled' });
      // The spinning run's caller is answered at once; its call still holds the one slot until its
      // time limit ends it, so the next work's run waits for that and then answers.
      expect(await spinning).toMatchObject({ message: 'heal cancelled' });
      controller = new AbortController();
      expect(await box.runAsync('q-ok', 'function run(x) { return x; }', 8)).toBe(8);
    } finally {
      box.close();
    }
  });

  it('runs of one tool that spin to their limit end as timeouts and leave the runs queued with them alone', async () => {
    const box = new Sandbox(config, { asyncConcurrency: 8 });
    const code = 'function run(x) { if (x.spin) { for (;;) {} } return x.n * 2; }';
    try {
      const inputs: JsonValue[] = [{ spin: true }, { spin: true }, { spin: true }, { spin: true }, { n: 21 }];
      const outcomes = await Promise.allSettled(inputs.map((input) => box.runAsync('spin-queue', code, input)));
      expect(outcomes.slice(0, 4).map((o) => o.status === 'rejected' && (o.reason as ToolExecutionError).kind)).toEqual(
        ['timeout', 'timeout', 'timeout', 'timeout'],
      );
      expect(outcomes[4]).toEqual({ status: 'fulfilled', value: 42 });
      // A timeout leaves only its own context unknown: the isolate is kept for the next call.
      expect(box.stats.replaced).toBe(0);
    } finally {
      box.close();
    }
  });

  it('a healthy run queued on an isolate that a run of the same code took past the memory limit runs again', async () => {
    const box = new Sandbox({ ...config, timeout_ms: 20_000 }, { asyncConcurrency: 8 });
    const code =
      'function run(x) { if (x.bomb) { const a = []; for (;;) a.push(new Array(1e5).fill(Math.random())); } return x.n * 2; }';
    try {
      expect(await box.runAsync('oom-queue', code, { n: 0 })).toBe(0);
      const inputs: JsonValue[] = [{ bomb: true }, { n: 2 }, { bomb: true }, { n: 3 }, { n: 4 }];
      const outcomes = await Promise.allSettled(inputs.map((input) => box.runAsync('oom-queue', code, input)));
      expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as ToolExecutionError).kind))).toEqual(
        ['memory_limit', 4, 'memory_limit', 6, 8],
      );
    } finally {
      box.close();
    }
  });

  it('a run whose isolate keeps dying under it with no run ending on a limit ends after a bounded number of retries', async () => {
    // What a context made ahead of the calls going over the memory limit does to the runs queued on
    // its isolate, every time: the isolate dies and no run ended on its limit. Here the isolate is
    // taken down from outside, every 10 ms, under a run that needs ~150 ms.
    const box = new Sandbox({ ...config, timeout_ms: 20_000 }, { asyncConcurrency: 2 });
    const code = 'function run(x) { let i = 0; while (i < x) i++; return i; }';
    const steps = 4e8;
    const killer = setInterval(() => box.discard('dies-under'), 10);
    try {
      await expect(box.runAsync('dies-under', code, steps)).rejects.toMatchObject({
        kind: 'memory_limit',
        message: expect.stringMatching(/taken down under this call 3 times with no call ending on a limit/),
      });
      expect(box.stats.limitDiscards).toBe(0);
      expect(box.stats.compiled).toBe(3);
    } finally {
      clearInterval(killer);
      box.close();
    }
  });

  it("another tool's runs ending on their memory limit earn no retries for a run whose own isolate keeps dying", async () => {
    const box = new Sandbox({ ...config, timeout_ms: 20_000 }, { asyncConcurrency: 4 });
    const code = 'function run(x) { let i = 0; while (i < x) i++; return i; }';
    const bomb = 'function run() { const a = []; for (;;) a.push(new Array(1e5).fill(Math.random())); }';
    let bombing = true;
    const bombs = (async () => {
      while (bombing) await box.runAsync('bombs', bomb, null).catch(() => undefined);
    })();
    // The run needs ~150 ms and its isolate dies every 100 ms; a bomb ends on its limit every ~30 ms.
    const killer = setInterval(() => box.discard('dies-beside-bombs'), 100);
    try {
      await expect(box.runAsync('dies-beside-bombs', code, 4e8)).rejects.toMatchObject({
        kind: 'memory_limit',
        message: expect.stringMatching(/taken down under this call 3 times/),
      });
      expect(box.stats.limitDiscards).toBeGreaterThan(0);
    } finally {
      clearInterval(killer);
      bombing = false;
      await bombs;
      box.close();
    }
  });

  it("a tool's top level that spins holds its isolate's thread, not the event loop", async () => {
    const box = new Sandbox(config, { asyncConcurrency: 4 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      const code = 'let i = 0; while (true) { i++; } function run(x) { return x; }';
      const outcomes = await Promise.allSettled([1, 2, 3].map((n) => box.runAsync('spinning-top', code, n)));
      expect(outcomes.map((o) => o.status === 'rejected' && (o.reason as ToolExecutionError).kind)).toEqual([
        'timeout',
        'timeout',
        'timeout',
      ]);
    } finally {
      clearInterval(timer);
      box.close();
    }
    // Loaded on this thread, the three loads would have held it for their whole 200 ms each.
    expect(ticks).toBeGreaterThan(5);
  });

  it('close() ends a run in flight as closed, not as the tool failing, and compiles nothing again', async () => {
    const box = new Sandbox({ ...config, timeout_ms: 5_000 }, { asyncConcurrency: 8 });
    const code = 'function run(x) { let i = 0; while (i < x) i++; return i; }';
    const runs = [box.runAsync('close-race', code, 3e8), box.runAsync('close-race', code, 5)];
    setTimeout(() => box.close(), 50);
    const outcomes = await Promise.allSettled(runs);
    for (const outcome of outcomes)
      expect(outcome).toMatchObject({ status: 'rejected', reason: { name: 'SandboxClosed' } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(box.stats.compiled).toBe(1);
    expect(box.readyContexts('close-race')).toBe(0);
    await expect(box.runAsync('close-race', code, 1)).rejects.toMatchObject({ name: 'SandboxClosed' });
  });
});
