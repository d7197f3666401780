import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { runtimeCanaries } from '../../src/lineage/runtime-canaries.js';
import { prismaRunner } from '../../src/lineage/sql-runner.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { warmPython } from '../../src/sandbox/python.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import type { JsonValue, ToolLanguage } from '../../src/shared/lineage-types.js';
import { useTestStore } from '../support/database.js';

// Inputs are stored as the text they were given (PostgreSQL `json`, not `jsonb`, which reorders
// object keys). A tool whose answer depends on key order is judged at registration, replayed and
// compared on the input its caller sends, not on a reordered one.

const h = useTestStore();
const config = defaultConfig();
const sandbox = new Sandbox(config.sandbox);

beforeAll(async () => {
  await warmPython();
}, 120_000);

afterAll(() => {
  sandbox.close();
});

// The first key of the input; an input whose first key is "z" fails the call (a key-order-dependent bug).
const CODE: Record<ToolLanguage, string> = {
  javascript: `function run(input) {
  const first = Object.keys(input)[0];
  if (first === 'z') throw new Error('z first');
  return first;
}`,
  python: `def run(input):
    first = list(input.keys())[0]
    if first == "z":
        raise ValueError("z first")
    return first
`,
};

const SUITE_INPUT = '{"b":1,"a":2}';
const FAILING_INPUT = '{"z":1,"a":2}';

describe.each(['javascript', 'python'] as const)('a key-order-sensitive %s tool', (language) => {
  const name = `first_key_${language}`;
  const id = `${name}@1.0.0`;

  it('sees the same input at registration and at call time', async () => {
    const [registered] = await h.store.registerMany(
      [
        {
          name,
          version: '1.0.0',
          language,
          code: CODE[language],
          tests: [{ name: 'answers the first key', input: JSON.parse(SUITE_INPUT), expect: 'b', critical: true }],
        },
      ],
      { validate: registrationValidator({ store: h.store, sandbox, config }) },
    );
    // With jsonb the suite would run on {"a":2,"b":1} and the tool would be refused for answering "a".
    expect(registered, JSON.stringify(registered?.failures)).toMatchObject({ health: 'healthy' });
    const [stored] = await h.db.query<{ input: string; expected: string }>(
      `SELECT input::text AS input, expected::text AS expected FROM test_cases WHERE tool_id = $1`,
      [id],
    );
    expect(stored).toEqual({ input: SUITE_INPUT, expected: '"b"' });
    const suite = await h.store.tests.suiteFor(id);
    expect(JSON.stringify(suite.map((t) => t.input))).toBe(`[${SUITE_INPUT}]`);

    await h.store.setRoute(id, 'key order');
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url, config });
    try {
      expect(await runtime.call(name, JSON.parse(SUITE_INPUT))).toBe('b');
      await expect(runtime.call(name, JSON.parse(FAILING_INPUT))).rejects.toThrow(/z first/);
      await runtime.flush();
    } finally {
      await runtime.close();
    }

    // The recorded real input the differential check replays is the text the caller sent.
    const samples = await h.store.samples.forTool(name, 10);
    expect(samples.map((s) => JSON.stringify(s))).toContain(SUITE_INPUT);

    // The failed call is kept as sent, so a replay reproduces it (reordered to {"a":2,"z":1} it would
    // answer "a", and the heal would call the failure transient).
    const failed = (await h.store.failures.recentEvidence([id], 10, 10))[0]!.failedCalls;
    expect(failed.map((f) => JSON.stringify(f.input))).toEqual([FAILING_INPUT]);
    expect(() => sandbox.run(`replay:${id}`, CODE[language], failed[0]!.input, language)).toThrow(/z first/);
    const recorded = await h.store.executions.recordedInputs([id], 10);
    expect(recorded.map((r) => JSON.stringify(r))).toEqual([FAILING_INPUT]);
  });

  it("a canary's recorded disagreement keeps the input and both answers as they were", async () => {
    const candidate = `${name}@1.0.0`;
    await runtimeCanaries.insert(prismaRunner(h.db.prisma), [
      {
        candidateId: candidate,
        stableId: candidate,
        agree: false,
        stableOk: true,
        candidateOk: true,
        candidateError: null,
        stableMs: 1,
        candidateMs: 1,
        inputHash: 'k',
        inputJson: '{"c":3,"b":2,"a":1}',
        stableOutputJson: '{"y":1,"x":2}',
        candidateOutputJson: '{"x":2,"y":1}',
        source: `key-order-${language}`,
        seq: 1,
      },
    ]);
    const summary = await h.store.canaries.summary(candidate);
    const d = summary.disagreements[0]!;
    const text = (v: JsonValue) => JSON.stringify(v);
    expect([text(d.input), text(d.stable), text(d.candidate)]).toEqual([
      '{"c":3,"b":2,"a":1}',
      '{"y":1,"x":2}',
      '{"x":2,"y":1}',
    ]);
  });
});

describe('a reported wrong answer', () => {
  it('keeps its input as the caller sent it, for the heal to mint into a test', async () => {
    await h.store.registerMany([{ name: 'first_key_reported', version: '1.0.0', code: CODE.javascript, tests: [] }]);
    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url, config });
    try {
      await runtime.report('first_key_reported@1.0.0', {
        input: { y: 1, x: 2 },
        observed: 'y',
        expected: 'x',
      } as never);
    } finally {
      await runtime.close();
    }
    const [row] = await h.db.query<{ evidence: string }>(
      `SELECT evidence::text AS evidence FROM failures WHERE tool_id = 'first_key_reported@1.0.0'`,
    );
    expect(row!.evidence).toContain('{"y":1,"x":2}');
  });
});
