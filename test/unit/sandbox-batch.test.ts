import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { type BatchOutcome, Sandbox } from '../../src/sandbox/sandbox.js';
import { screeningPlan } from '../../src/sandbox/screening.js';

/**
 * Screening (src/sandbox/screening.ts): many calls of one version in one reused context must give,
 * call by call, what a fresh context per call gives. Every case compares Sandbox.runBatch with the
 * per-call path of a Sandbox whose screening is off.
 */
// A call of these tools takes microseconds: the limit is generous so a loaded machine never times one
// out (a timeout voids a screening); the timeout test has its own tight one.
const config = { ...defaultConfig().sandbox, timeout_ms: 5000, memory_limit_mb: 16 };
const screened = new Sandbox(config);
const perCall = new Sandbox(config, { screening: false });
const tight = new Sandbox({ ...config, timeout_ms: 200 });
const tightPerCall = new Sandbox({ ...config, timeout_ms: 200 }, { screening: false });
/** For the memory bomb: time enough that only the memory limit can stop it, however loaded the machine. */
const roomy = new Sandbox({ ...config, timeout_ms: 20_000 });
const roomyPerCall = new Sandbox({ ...config, timeout_ms: 20_000 }, { screening: false });
afterAll(() => {
  for (const s of [screened, perCall, tight, tightPerCall, roomy, roomyPerCall]) s.close();
});

/** A tool that answers its input, except the input "spin", on which it runs to its time limit. */
const SPINS_ON_SPIN = 'function run(x) { if (x === "spin") for (;;) {} return x; }';

/** A screening session of `code` on `box` that has answered one batch (its context is open). */
async function openedSession(box: Sandbox, key: string, code: string) {
  const session = (await box.screenAsync(key, code))!;
  await session.runBatchAsync(['1']);
  return session;
}

const INPUTS = [1, 'a', [1, 2], { k: 'v' }, null, 2, 3, 4, 5, 6].map((i) => JSON.stringify(i));

/** What a caller can tell apart: the output, or the failure's kind, error type and message. */
interface Comparable {
  output?: string;
  kind?: string;
  type?: string;
  message?: string;
}
function comparable(outcomes: BatchOutcome[]): Comparable[] {
  return outcomes.map((o) =>
    o.error ? { kind: o.error.kind, type: o.error.errorType, message: o.error.message } : { output: o.output },
  );
}

let keys = 0;
/**
 * The batch, and the same calls each in a fresh context. The batch is run both ways, on this thread
 * (runBatch) and in batches on the isolate's own thread (runBatchAsync): their answers must match.
 */
async function both(code: string, inputs = INPUTS, box = screened, reference = perCall) {
  const key = `batch-${++keys}`;
  const asyncBatch = comparable(await box.runBatchAsync(key, code, inputs));
  const voidedBefore = box.stats.screeningsVoided;
  const screenedBefore = box.stats.screenedCalls;
  const batch = comparable(box.runBatch(key, code, inputs));
  const fresh = comparable(reference.runBatch(key, code, inputs));
  expect(asyncBatch, 'runBatchAsync answers as runBatch does').toEqual(batch);
  return {
    batch,
    fresh,
    voided: box.stats.screeningsVoided - voidedBefore,
    screenedCalls: box.stats.screenedCalls - screenedBefore,
  };
}

describe('screening: a batch of calls in one context answers as fresh contexts do', () => {
  it('renews module-level state every call: a counter, a cache, a lazily built table', async () => {
    const code = `let calls = 0;
const cache = new Map();
var table;
function run(input) {
  calls++;
  if (!table) table = [input];
  const hit = cache.has(JSON.stringify(input));
  cache.set(JSON.stringify(input), true);
  return { calls, hit, table };
}`;
    const r = await both(code);
    expect(r.batch).toEqual(r.fresh);
    expect(r.batch[5]).toEqual({ output: JSON.stringify({ calls: 1, hit: false, table: [2] }) });
    expect(r.screenedCalls).toBe(INPUTS.length);
    expect(r.voided).toBe(0);
  });

  it("resets RegExp's legacy statics (RegExp.$1, lastMatch) before each call, as a new context has them empty", async () => {
    const code = `function run(input) {
  const before = [RegExp.$1, RegExp.lastMatch, RegExp.input];
  /(\\w+)/.exec(String(input) + ' word');
  return before;
}`;
    const r = await both(code);
    expect(r.batch).toEqual(r.fresh);
    expect(r.batch.every((o) => o.output === '["","",""]')).toBe(true);
    expect(r.voided).toBe(0);
  });

  it('keeps `this` in classes and top-level arrows without `arguments` as a script has them', async () => {
    const code = `class Counter { constructor() { this.n = 0; } add() { return ++this.n; } }
const counter = new Counter();
const outer = () => typeof arguments;
function run(input) { counter.add(); return [counter.add(), outer(), typeof input]; }`;
    const r = await both(code);
    expect(r.batch).toEqual(r.fresh);
    expect(r.batch[0]).toEqual({ output: '[2,"undefined","number"]' });
    expect(r.screenedCalls).toBe(INPUTS.length);
  });

  // Each tool records at its top level whether it finds the change an earlier call would have made,
  // then makes it: in fresh contexts it never finds it. The screening's check sees the change after
  // the first call and the batch runs again in fresh contexts, so the answers are the per-call ones.
  const patches: [string, string, string][] = [
    [
      'Array.prototype.map',
      `Array.prototype.map.name === 'patched'`,
      `Array.prototype.map = function patched() { return []; };`,
    ],
    ['String.prototype.trim', `' a '.trim() === 'x'`, `String.prototype.trim = function () { return 'x'; };`],
    ['Object.prototype', `({}).polluted === 1`, `Object.prototype.polluted = 1;`],
    ['Math.random', `Math.random() === 0.5`, `Math.random = () => 0.5;`],
    ['a global made by assignment', `typeof leaked !== 'undefined'`, `leaked = 1;`],
    ['Error.stackTraceLimit', `Error.stackTraceLimit === 3`, `Error.stackTraceLimit = 3;`],
    [
      'the array iterator prototype',
      `[][Symbol.iterator]().patched === 1`,
      `Object.getPrototypeOf([][Symbol.iterator]()).patched = 1;`,
    ],
    ['Math made non-extensible', `Object.isFrozen(Math)`, `Object.freeze(Math);`],
    [
      'a property descriptor',
      `Object.getOwnPropertyDescriptor(JSON, 'parse').enumerable`,
      `Object.defineProperty(JSON, 'parse', { enumerable: true });`,
    ],
  ];
  it.each(patches)(
    'a tool that changes %s gets the per-call answers (the check voids the batch)',
    async (_, probe, patch) => {
      const code = `const seen = (${probe});\n${patch}\nfunction run(input) { return [seen, input]; }`;
      const r = await both(code);
      expect(r.batch).toEqual(r.fresh);
      expect(r.fresh.every((o) => o.output?.startsWith('[false,'))).toBe(true);
      expect(r.voided).toBe(1);
    },
  );

  it('a change made inside run() only on some inputs is caught too', async () => {
    const code = `function run(input) {
  const seen = typeof String.prototype.shout === 'function';
  if (input === 'a') String.prototype.shout = function () { return 'x'; };
  return seen;
}`;
    const r = await both(code);
    expect(r.batch).toEqual(r.fresh);
    expect(r.fresh.every((o) => o.output === 'false')).toBe(true);
    expect(r.voided).toBe(1);
  });

  it('a tool that carries state from one call to the next and removes it before the doubling checks is caught by the drawn ones', async () => {
    // Input k % 4 === 3 leaves a marker on a built-in, the next input (a multiple of 4) reads it and
    // removes it: the checks after calls 1, 2, 4, 8… never see it, and its answers on the multiples of 4
    // would be true where a fresh context says false. About one call in 32 is checked at random, so
    // over 500 such pairs the screening is voided all but surely (a miss has odds of 1e-7).
    const code = `function run(n) {
  const seen = Object.hasOwn(Array.prototype, 'carried');
  if (n % 4 === 3) Array.prototype.carried = true;
  if (n % 4 === 0) delete Array.prototype.carried;
  return seen;
}`;
    const inputs = Array.from({ length: 2000 }, (_, i) => JSON.stringify(i + 1));
    const r = await both(code, inputs);
    expect(r.batch).toEqual(r.fresh);
    expect(r.fresh.every((o) => o.output === 'false')).toBe(true);
    expect(r.voided).toBe(1);
  });

  it('checks after every call at a check rate of 1: a state carried across a single pair of calls is caught', async () => {
    const everyCall = new Sandbox(config, { screeningCheckRate: 1 });
    try {
      const code = `function run(n) {
  const seen = Object.hasOwn(Object.prototype, 'carried');
  if (n === 5) Object.prototype.carried = true;
  if (n === 6) delete Object.prototype.carried;
  return seen;
}`;
      const inputs = Array.from({ length: 7 }, (_, i) => JSON.stringify(i + 1));
      const r = await both(code, inputs, everyCall);
      expect(r.batch).toEqual(r.fresh);
      expect(r.voided).toBe(1);
    } finally {
      everyCall.close();
    }
  });

  it('code the screening cannot vouch for runs the per-call way, with the same answers', async () => {
    const refused = [
      `var hits = 0; function run(input) { hits++; return globalThis.hits; }`,
      `var hits = 0; function count() { return this.hits; } function run(input) { hits++; return count(); }`,
      `let hits = 0; function run(input) { hits++; return (0, eval)('typeof hits'); }`,
      `let hits = 0; function run(input) { hits++; return Function('return typeof hits')(); }`,
      `let hits = 0; function run(input) { hits++; return run.constructor === Object; }`,
      `function run(input) { return typeof new Error('x').stack; }`,
      `let hits = 0; function run(input) { hits++; const { constructor: F } = run; return F === Object; }`,
      `const o = { m() { return this; } }; const m = o.m; function run(input) { return typeof m(); }`,
    ];
    for (const code of refused) {
      expect(screeningPlan(code)).toBeNull();
      const r = await both(code);
      expect(r.batch).toEqual(r.fresh);
      expect(r.screenedCalls).toBe(0);
    }
  });

  it("a var that names a global keeps the global's value in a script: such code is not screened", async () => {
    const code = `var Array; var escape = escape; function run(input) { return [typeof Array, typeof escape]; }`;
    expect(screeningPlan(code)?.varNames).toEqual(['Array', 'escape']);
    const r = await both(code);
    expect(r.batch).toEqual(r.fresh);
    expect(r.batch[0]).toEqual({ output: '["function","function"]' });
    expect(r.voided).toBe(1);
  });

  it('fails compilation exactly as before: a top-level return, a syntax error, no run(), a throw at load', async () => {
    for (const code of [
      'return 1;\nfunction run(input) { return input; }',
      'function run(input) { return input',
      'const x = 1;',
      `throw new TypeError('not ready');\nfunction run(input) { return input; }`,
    ]) {
      const r = await both(code);
      expect(r.batch).toEqual(r.fresh);
      expect(r.batch.every((o) => o.kind === 'compile_error')).toBe(true);
    }
  });

  it('types a timeout inside a batch as before, and the calls after it still answer', async () => {
    const code = `function run(input) { if (input === 'a') for (;;) {} return input; }`;
    const r = await both(code, INPUTS, tight, tightPerCall);
    expect(r.batch).toEqual(r.fresh);
    expect(r.batch[1]).toMatchObject({ kind: 'timeout', message: 'tool exceeded the time limit of 200 ms' });
    expect(r.batch[5]).toEqual({ output: '2' });
    // Whether the screening goes on after the timeout or is voided (its context checked under the
    // same 200 ms limit, which a loaded machine can miss) changes no answer: the answers are the test.
  });

  it('types a memory limit inside a batch as before (the batch runs again per call)', async () => {
    const code = `function run(input) {
  if (input === 'a') { const keep = []; for (;;) keep.push(new Array(1e5).fill(keep.length)); }
  return input;
}`;
    const r = await both(code, INPUTS.slice(0, 4), roomy, roomyPerCall);
    expect(r.batch).toEqual(r.fresh);
    expect(r.batch[1]).toMatchObject({ kind: 'memory_limit' });
    expect(r.batch[2]).toEqual({ output: '[1,2]' });
    expect(r.voided).toBe(1);
  });

  it('keeps the other failures typed as the per-call path types them', async () => {
    const code = `function run(input) {
  if (input === 1) throw new RangeError('too small');
  if (input === 'a') return undefined;
  if (input === null) return require('fs');
  if (input === 2) return () => 1;
  return input;
}`;
    const r = await both(code);
    expect(r.batch).toEqual(r.fresh);
    expect(r.batch.slice(0, 6).map((o) => o.kind ?? 'ok')).toEqual([
      'thrown',
      'non_json_result',
      'ok',
      'ok',
      'host_access',
      'non_json_result',
    ]);
  });
});

describe('screened batches off the event loop', () => {
  it('a cancelled batch ends with the cancellation at once, not at the call limit (its isolate is disposed)', async () => {
    const controller = new AbortController();
    // A limit no test waits for: only the cancellation can end this batch in time.
    const box = new Sandbox({ ...config, timeout_ms: 60_000 }, { cancellation: () => controller.signal });
    try {
      const session = box.screen('cancel-spin', 'function run(input) { for (;;) {} }');
      expect(session).not.toBeNull();
      const pending = session!.runBatchAsync(['1', '2']).catch((e: unknown) => e);
      setTimeout(() => controller.abort(new Error('heal cancelled')), 50);
      expect(await pending).toMatchObject({ message: 'heal cancelled' });
      session!.close();
    } finally {
      box.close();
    }
  });

  it('a screened batch waits for a judge_threads slot as a runAsync call does', async () => {
    const box = new Sandbox({ ...config, timeout_ms: 300 }, { asyncConcurrency: 1 });
    const order: string[] = [];
    try {
      const spinning = box
        .runAsync('slot-spin', 'function run() { for (;;) {} }', null)
        .catch(() => undefined)
        .then(() => order.push('spin ended'));
      const batch = box
        .runBatchAsync('slot-batch', 'function run(x) { return x; }', ['1', '2', '3'])
        .then(() => order.push('batch answered'));
      await Promise.all([spinning, batch]);
      // The one slot is the spinning call's until its limit: the batch runs after it.
      expect(order).toEqual(['spin ended', 'batch answered']);
    } finally {
      box.close();
    }
  });

  it('a screened batch whose call times out keeps its slot until it has read back and checked its context', async () => {
    const box = new Sandbox({ ...config, timeout_ms: 300 }, { asyncConcurrency: 1 });
    const quick = 'function run(x) { return x; }';
    const order: string[] = [];
    try {
      await box.runAsync('slot-after', quick, 0);
      const batch = box
        .runBatchAsync('slot-timeout', SPINS_ON_SPIN, ['"spin"'])
        .then((outcomes) => order.push(`batch answered ${outcomes[0]!.error?.kind}`));
      // Queued while the batch's call spins: it runs once the batch has read back what the timeout
      // left and checked the context (hand-overs to the batch's isolate that count as its slot's).
      await new Promise((resolve) => setTimeout(resolve, 100));
      const run = box.runAsync('slot-after', quick, 5).then(() => order.push('run answered'));
      await Promise.all([batch, run]);
      expect(order).toEqual(['batch answered timeout', 'run answered']);
    } finally {
      box.close();
    }
  });

  it("a session's second batch, waiting for the slot while the first times out, runs in a fresh context", async () => {
    const box = new Sandbox({ ...config, timeout_ms: 300 }, { asyncConcurrency: 1 });
    try {
      const session = await openedSession(box, 'slot-twice', SPINS_ON_SPIN);
      const [first, second] = await Promise.all([session.runBatchAsync(['"spin"']), session.runBatchAsync(['2'])]);
      expect(first.outcomes[0]).toMatchObject({ error: { kind: 'timeout' } });
      expect(second.outcomes).toEqual([{ output: '2', error: null }]);
      expect(box.stats.screeningsVoided).toBe(0);
    } finally {
      box.close();
    }
  });

  it('a batch waiting for its slot when the sandbox closes ends as closed', async () => {
    const box = new Sandbox({ ...config, timeout_ms: 2000 }, { asyncConcurrency: 1 });
    const session = await openedSession(box, 'slot-close', 'function run(x) { return x; }');
    const spinning = box.runAsync('slot-close-spin', 'function run() { for (;;) {} }', null).catch(() => undefined);
    const waiting = session.runBatchAsync(['2']).catch((err: unknown) => err);
    await new Promise((resolve) => setTimeout(resolve, 100));
    box.close();
    expect(await waiting).toMatchObject({ name: 'SandboxClosed' });
    await spinning;
  });

  it('a cancellation during the check after a timeout ends the batch as cancelled, not as a voided screening', async () => {
    const controller = new AbortController();
    const box = new Sandbox({ ...config, timeout_ms: 300 }, { cancellation: () => controller.signal });
    // The cancellation lands exactly between the timeout's read-back and its check of the context.
    const hooks = box as unknown as { checkScreenAsync(state: unknown): Promise<boolean> };
    const check = hooks.checkScreenAsync.bind(box);
    hooks.checkScreenAsync = (state) => {
      controller.abort(new Error('heal cancelled'));
      return check(state);
    };
    try {
      const session = await openedSession(box, 'cancel-check', SPINS_ON_SPIN);
      await expect(session.runBatchAsync(['"spin"'])).rejects.toThrow('heal cancelled');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(box.stats.screeningsVoided).toBe(0);
    } finally {
      box.close();
    }
  });

  it('keeps the event loop turning while a batch spins to its limit', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    try {
      const outcomes = await tight.runBatchAsync('spin-batch', 'function run(input) { for (;;) {} }', ['1']);
      expect(outcomes[0]).toMatchObject({ error: { kind: 'timeout' } });
    } finally {
      clearInterval(timer);
    }
    // A synchronous batch would have held the thread for the whole 200 ms: no tick at all.
    expect(ticks).toBeGreaterThan(0);
  });
});
