import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';

const config = { ...defaultConfig().sandbox, timeout_ms: 500, memory_limit_mb: 32, ready_contexts: 4 };
const boxes: Sandbox[] = [];
function sandbox(overrides: Partial<typeof config> = {}): Sandbox {
  const box = new Sandbox({ ...config, ...overrides });
  boxes.push(box);
  return box;
}
afterAll(() => {
  for (const box of boxes) box.close();
});

/** Gives the event loop turns until `ready` holds: the pool fills on the isolate's thread meanwhile. */
async function until(ready: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Four calls with turns between: the pool grows with the calls a tool has had, up to its target. */
async function warm(box: Sandbox, key: string, code: string, input: unknown = null): Promise<unknown[]> {
  const answers: unknown[] = [];
  for (let i = 0; i < 4; i++) {
    answers.push(box.run(key, code, input as never));
    await new Promise((r) => setTimeout(r, 5));
  }
  return answers;
}

/** Each context draws its own id at load; `n` counts the calls that context has served. */
const IDENTIFIED = 'const id = Math.random(); let n = 0; function run() { n++; return [id, n]; }';

describe('sandbox: ready contexts prepared ahead of calls', () => {
  it("grows a tool's ready contexts with its calls, up to sandbox.ready_contexts, off the call path", async () => {
    const box = sandbox();
    box.run('fill', IDENTIFIED, null);
    // Called once (a version a heal step judges once): one spare, as before the pool.
    await until(() => box.readyContexts('fill') === 1, 'the spare');
    await new Promise((r) => setTimeout(r, 50));
    expect(box.readyContexts('fill')).toBe(1);
    await warm(box, 'fill', IDENTIFIED);
    await until(() => box.readyContexts('fill') === 4, 'the pool to fill');
    expect(box.stats.contextsPrepared).toBeGreaterThanOrEqual(4);
    // Left alone, it stays at its target.
    await new Promise((r) => setTimeout(r, 50));
    expect(box.readyContexts('fill')).toBe(4);
  });

  it('never gives a context to a second call, with or without turns between calls', async () => {
    const box = sandbox();
    const answers = (await warm(box, 'once', IDENTIFIED)) as [number, number][];
    await until(() => box.readyContexts('once') === 4, 'the pool to fill');
    const fromPool = box.stats.contextsFromPool;
    // A burst drains the pool, then calls make their own contexts.
    for (let i = 0; i < 8; i++) answers.push(box.run('once', IDENTIFIED, null) as [number, number]);
    for (let i = 0; i < 8; i++) {
      answers.push(box.run('once', IDENTIFIED, null) as [number, number]);
      await new Promise((r) => setTimeout(r, 2));
    }
    expect(box.stats.contextsFromPool - fromPool).toBeGreaterThanOrEqual(4);
    expect(answers.every(([, n]) => n === 1)).toBe(true);
    expect(new Set(answers.map(([id]) => id)).size).toBe(answers.length);
  });

  it('a context prepared before a call tampered with its own globals is still clean', async () => {
    const box = sandbox();
    const code = `function run(step) {
      if (step === 'taint') { globalThis.seen = 'yes'; Object.prototype.leak = 1; Array.prototype.map = null; JSON.parse = () => 4; cache = 9; return 0; }
      return [typeof seen, ({}).leak === undefined, typeof [].map, JSON.parse('[1]')[0], typeof cache];
    }`;
    await warm(box, 'taint', code, 'look');
    await until(() => box.readyContexts('taint') === 4, 'the pool to fill');
    const onCallPath = box.stats.contextsOnCallPath;
    expect(box.run('taint', code, 'taint')).toBe(0);
    // No turn in between: the next calls take contexts made before the tampering call ran.
    for (let i = 0; i < 3; i++)
      expect(box.run('taint', code, 'look')).toEqual(['undefined', true, 'function', 1, 'undefined']);
    expect(box.stats.contextsOnCallPath).toBe(onCallPath);
  });

  it('makes the context on the call path when none is ready, and refills afterwards', async () => {
    const box = sandbox({ ready_contexts: 2 });
    await warm(box, 'drain', IDENTIFIED);
    await until(() => box.readyContexts('drain') === 2, 'the pool to fill');
    const onCallPath = box.stats.contextsOnCallPath;
    for (let i = 0; i < 5; i++) expect((box.run('drain', IDENTIFIED, null) as number[])[1]).toBe(1);
    // Two from the pool, three made on the call path (no turn: nothing prepared can have arrived).
    expect(box.stats.contextsOnCallPath - onCallPath).toBe(3);
    expect(box.readyContexts('drain')).toBe(0);
    await until(() => box.readyContexts('drain') === 2, 'the pool to refill');
    const refilled = box.stats.contextsOnCallPath;
    box.run('drain', IDENTIFIED, null);
    expect(box.stats.contextsOnCallPath).toBe(refilled);
  });

  it('with ready_contexts 0 every call makes its own context and nothing is prepared ahead', async () => {
    const box = sandbox({ ready_contexts: 0 });
    for (let i = 0; i < 4; i++) {
      expect((box.run('none', IDENTIFIED, null) as number[])[1]).toBe(1);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(box.stats.contextsPrepared).toBe(0);
    // The first call used the context its loading check made; the others made their own.
    expect(box.stats.contextsOnCallPath).toBe(3);
    expect(box.readyContexts('none')).toBe(0);
  });

  it('a spinning call from a pooled context is still stopped; only its context goes, the ready ones serve on', async () => {
    const box = sandbox();
    const code = "let n = 0; function run(x) { if (x === 'spin') for (;;) {} return ++n; }";
    await warm(box, 'spin', code, 1);
    await until(() => box.readyContexts('spin') === 4, 'the pool to fill');
    expect(() => box.run('spin', code, 'spin')).toThrow(expect.objectContaining({ kind: 'timeout' }));
    // A timeout leaves only the call's own context unknown, and that one is never used again.
    expect(box.readyContexts('spin')).toBeGreaterThanOrEqual(3);
    expect(box.stats.replaced).toBe(0);
    expect(await warm(box, 'spin', code, 1)).toEqual([1, 1, 1, 1]);
    await until(() => box.readyContexts('spin') === 4, 'the pool to fill again');
    expect(box.run('spin', code, 1)).toBe(1);
  });

  it('a call that hits the memory limit takes the isolate and its ready contexts; the new isolate fills again', async () => {
    const box = sandbox({ timeout_ms: 20_000 });
    const code =
      "let n = 0; function run(x) { if (x === 'bomb') { const a = []; for (;;) a.push(new Array(1e5).fill(1)); } return ++n; }";
    await warm(box, 'bomb', code, 1);
    await until(() => box.readyContexts('bomb') === 4, 'the pool to fill');
    expect(() => box.run('bomb', code, 'bomb')).toThrow(expect.objectContaining({ kind: 'memory_limit' }));
    expect(box.readyContexts('bomb')).toBe(0);
    expect(box.run('bomb', code, 1)).toBe(1);
    expect(box.stats.replaced).toBe(1);
    expect(await warm(box, 'bomb', code, 1)).toEqual([1, 1, 1, 1]);
    await until(() => box.readyContexts('bomb') === 4, 'the new isolate to fill');
    expect(box.run('bomb', code, 1)).toBe(1);
  });

  it('keeps fewer contexts for a tool whose context is large against the memory limit', async () => {
    const box = sandbox({ memory_limit_mb: 16 });
    // About 3 MB of top-level state per context: a quarter of 16 MB holds one.
    const code = 'const big = new Array(400000).fill(0).map((_, i) => i); function run(x) { return big[x]; }';
    expect(await warm(box, 'big', code, 7)).toEqual([7, 7, 7, 7]);
    await new Promise((r) => setTimeout(r, 100));
    expect(box.readyContexts('big')).toBeLessThanOrEqual(1);
    for (let i = 0; i < 5; i++) {
      expect(box.run('big', code, i)).toBe(i);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(box.stats.replaced).toBe(0);
  });

  it('frees the ready contexts of a discarded tool, and the new code under the key answers', async () => {
    const box = sandbox();
    await warm(box, 'swap', 'function run() { return 1; }');
    await until(() => box.readyContexts('swap') === 4, 'the pool to fill');
    box.discard('swap');
    expect(box.readyContexts('swap')).toBe(0);
    expect(box.run('swap', 'function run() { return 2; }', null)).toBe(2);
  });
});
