import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { defaultConfig } from '../../src/config/schema.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import type { ImmunityReport } from '../../src/shared/immunity-types.js';
import type { ToolLanguage } from '../../src/shared/language.js';
import { useTestStore } from '../support/database.js';
import { captureOutput } from '../support/output.js';

// `dise immunity`: a tool's single-point mutants against its suite, the inputs that kill the
// survivors pinned as tests with the routed version's answers, the score kept and shown, and a later
// version that brings one of those mutants back refused by the pinned tests.

const h = useTestStore();
const config = defaultConfig();
const sandbox = new Sandbox(config.sandbox);

const CLAMP: Record<ToolLanguage, string> = {
  javascript: `function run(n) {
  if (n < 0) return 0;
  if (n > 100) return 100;
  return n;
}`,
  python: `def run(n):
    if n < 0:
        return 0
    if n > 100:
        return 100
    return n
`,
};
// The suite a hurried author writes: nothing above 100 is tried.
const TESTS = [
  { name: 'keeps a value in range', input: 50, expect: 50 },
  { name: 'raises a negative to 0', input: -5, expect: 0 },
];

async function cli(...argv: string[]) {
  const out = captureOutput();
  const code = await runCli(argv, out);
  return { code, stdout: out.stdout.join('\n'), stderr: out.stderr.join('\n') };
}

beforeAll(() => {
  process.env.DATABASE_URL = h.db.url;
});
afterAll(() => {
  delete process.env.DATABASE_URL;
  sandbox.close();
});

describe.each(['javascript', 'python'] as const)('dise immunity on a %s tool', (language) => {
  const tool = `clamp_${language}`;
  const routed = `${tool}@1.0.0`;

  it('scores the suite on its mutants, pins inputs that kill the survivors, and raises the score', async () => {
    await h.store.registerVersion({ name: tool, version: '1.0.0', code: CLAMP[language], language, tests: TESTS });
    await h.store.setRoute(routed, 'test');

    const dry = await cli('immunity', tool, '--no-pin', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    expect((JSON.parse(dry.stdout) as ImmunityReport).stored).toBe(false);
    expect(await h.db.query(`SELECT 1 FROM test_cases WHERE origin = 'pinned' AND tool_id = $1`, [routed])).toEqual([]);

    const run = await cli('immunity', tool, '--json');
    expect(run.code, run.stderr).toBe(0);
    const report = JSON.parse(run.stdout) as ImmunityReport;
    expect(report.versionId).toBe(routed);
    expect(report.mutants).toBeGreaterThanOrEqual(8);
    // The two tests miss everything above 100: the suite alone lets mutants through...
    expect(report.killedBefore).toBeLessThan(report.mutants);
    // ...and the pinned inputs refuse at least ten points more of them.
    expect(report.scoreAfter! - report.scoreBefore!).toBeGreaterThanOrEqual(0.1);
    expect(report.pinned.length).toBeGreaterThan(0);

    // Each pinned test holds the routed version's own answer, and is kept as a critical test of it.
    const stored = await h.db.query<{ input: unknown; expected: unknown; critical: boolean }>(
      `SELECT input, expected, critical FROM test_cases WHERE origin = 'pinned' AND tool_id = $1 ORDER BY id`,
      [routed],
    );
    expect(stored).toHaveLength(report.pinned.length);
    for (const t of stored) {
      expect(t.critical).toBe(true);
      expect(sandbox.run(`${tool}-check`, CLAMP[language], t.input as number, language)).toEqual(t.expected);
    }
    const [kept] = await h.db.query<{ mutants: number; killed_after: number }>(
      `SELECT mutants, killed_after FROM immunity_runs WHERE tool_id = $1`,
      [routed],
    );
    expect(kept).toEqual({ mutants: report.mutants, killed_after: report.killedAfter });
  });

  it('shows the score in the lineage and the tool list', async () => {
    const lineage = await cli('lineage', tool);
    expect(lineage.stdout).toMatch(
      /^Mutation score: \d+% \(\d+ of \d+ mutants refused by its suite; \d+% before \d+ test\(s\) were pinned\)/m,
    );
    const list = await cli('tool', 'list', '--json');
    const listed = (JSON.parse(list.stdout) as { name: string; mutationScore: number | null }[]).find(
      (t) => t.name === tool,
    );
    expect(listed?.mutationScore).toBeGreaterThan(0);
  });

  it('refuses a later version that brings back a mutant only the pinned tests catch', async () => {
    // 100 → 101 in the upper bound: the two authored tests pass it, a pinned input does not.
    const bad = CLAMP[language].replace('n > 100', 'n > 101');
    const [child] = await h.store.registerMany(
      [
        {
          name: tool,
          version: '1.1.0',
          parents: [routed],
          code: bad,
          mutation: { type: 'feature_add', description: 'accept a little more' },
        },
      ],
      { validate: registrationValidator({ store: h.store, sandbox, config }) },
    );
    expect(child!.health).toBe('failed');
    expect(child!.failures!.map((f) => f.testCaseFailed ?? '').join(' ')).toMatch(/^pinned: kills /);
  });
});

describe('dise immunity, bad input', () => {
  it('names an unknown tool and a bad --max-mutants', async () => {
    const unknown = await cli('immunity', 'no_such_tool');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no_such_tool/);
    const bad = await cli('immunity', 'clamp_javascript', '--max-mutants', '0');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--max-mutants.*expected a whole number of at least 1, got "0"/);
  });
});
