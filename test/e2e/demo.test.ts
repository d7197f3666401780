import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { startEmbeddedPostgres } from '../../src/infra/postgres.js';
import { runDise } from '../support/cli.js';

// `npm run demo` as a new user runs it, twice in a row, on its own embedded stack; the story's
// facts are then read from the database, not from the printed text.
const home = mkdtempSync(path.join(os.tmpdir(), 'dise-demo-e2e-'));
chmodSync(home, 0o755);
const { DATABASE_URL: _db, TEMPORAL_ADDRESS: _t, OPENAI_API_KEY: _k, OPENAI_BASE_URL: _u, ...inherited } = process.env;
const env: NodeJS.ProcessEnv = { ...inherited, DISE_HOME: home, NO_COLOR: '1', DISE_FREE_PORTS: '1' };

afterAll(() => rmSync(home, { recursive: true, force: true }));

/** The story's facts for each tool, read from the demo's database (started once for all of them). */
async function facts<const T extends string>(...tools: T[]): Promise<Record<T, ToolFacts>> {
  const postgres = await startEmbeddedPostgres({ dir: path.join(home, 'postgres') });
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    const all = {} as Record<T, ToolFacts>;
    for (const tool of tools) all[tool] = await toolFacts(client, tool);
    return all;
  } finally {
    await client.end();
    await postgres.stop();
  }
}

type ToolFacts = Awaited<ReturnType<typeof toolFacts>>;

async function toolFacts(client: pg.Client, tool: string) {
  const q = async <T extends pg.QueryResultRow>(sql: string) => (await client.query<T>(sql, [tool])).rows;
  return {
    health: Object.fromEntries(
      (
        await q<{ tool_id: string; health_status: string }>(
          `SELECT tool_id, health_status FROM tool_lineage WHERE tool_name = $1`,
        )
      ).map((r) => [r.tool_id, r.health_status]),
    ),
    merges: (
      await q<{ n: number }>(
        `SELECT count(DISTINCT child_id)::int AS n FROM lineage_relationships WHERE relationship_type = 'merge' AND child_id LIKE $1 || '@%'`,
      )
    )[0]!.n,
    rules: await q<{ source_failure: string; pattern_kind: string }>(
      `SELECT source_failure, pattern_kind FROM avoidance_rules WHERE source_failure LIKE $1 || '@%'`,
    ),
    minted: await q<{ tool_id: string; input: string; expected: boolean }>(
      `SELECT tc.tool_id, tc.input, tc.expected FROM test_cases tc JOIN tool_lineage t ON t.tool_id = tc.tool_id WHERE tc.origin = 'minted' AND t.tool_name = $1`,
    ),
    route: (await q<{ version_id: string }>(`SELECT version_id FROM routes WHERE tool_name = $1`))[0]?.version_id,
    regenerated: await q<{ tool_id: string; regenerated_from: string }>(
      `SELECT tool_id, regenerated_from FROM tool_lineage WHERE tool_name = $1 AND health_status = 'regenerated'`,
    ),
    heal: (await q<{ status: string }>(`SELECT status FROM heal_runs WHERE tool_id = $1 || '@2.3.0'`))[0]?.status,
    refusedBy: (
      await q<{ detection_method: string }>(
        `SELECT DISTINCT detection_method FROM failures WHERE tool_id = $1 || '@2.2.0'`,
      )
    ).map((r) => r.detection_method),
    callsOfRefused: (
      await q<{ n: number }>(`SELECT count(*)::int AS n FROM executions WHERE tool_id = $1 || '@2.2.0'`)
    )[0]!.n,
    checks: Object.fromEntries(
      (
        await q<{ tool_id: string; verdict: string }>(
          `SELECT tool_id, verdict FROM differential_checks WHERE tool_id LIKE $1 || '@%'`,
        )
      ).map((r) => [r.tool_id, r.verdict]),
    ),
  };
}

describe('npm run demo', () => {
  it('refuses the speed optimization at registration, heals the feature_add callers catch, catches it before any caller with the feature review, and can be run twice in a row', async () => {
    const first = await runDise(['demo'], env, 170_000);
    expect(first.code, first.stderr).toBe(0);
    // The demo speaks the product's words: the email-validator story, not "the seed" (a generator's
    // random seed, printed with the differential corpus, is another thing).
    expect(first.stdout + first.stderr).not.toMatch(
      /\bthe seed\b|\bseed's\b|\bseed (story|lineage|spelling|tables?)\b/i,
    );
    expect(JSON.parse(first.stdout)).toMatchObject({
      tool: 'email_validator',
      broken: 'email_validator@2.3.0',
      status: 'healed',
      healed: 'email_validator@2.3.1',
      // The same story told with the tool written in Python.
      python: {
        tool: 'email_validator_py',
        broken: 'email_validator_py@2.3.0',
        status: 'healed',
        healed: 'email_validator_py@2.3.1',
      },
      // Judged beyond its parent (no LLM in this run: a peer of its category), 2.3.0 serves no one.
      judged: {
        tool: 'email_validator_judged',
        broken: 'email_validator_judged@2.3.0',
        caughtBy: 'peers',
        route: 'email_validator_judged@2.1.0',
        wrong: 0,
      },
    });
    expect(first.stderr).toContain(
      'email_validator_judged@2.3.0 "Accept internationalized addresses" was caught at registration by peers; callers of email_validator_judged stay on email_validator_judged@2.1.0',
    );
    expect(first.stderr).toMatch(/registered email_validator_judged@2\.3\.0 — failed: held by peers: /);
    expect(first.stderr).toContain('0 wrong answers in 12 calls from email_validator_judged@2.1.0');
    expect(first.stderr).toMatch(
      /registered email_validator_py@2\.2\.0 \(python, direct of email_validator_py@2\.1\.0\) — failed/,
    );
    expect(first.stderr).toMatch(/Temporal UI: http:\/\/127\.0\.0\.1:\d+/);
    expect(first.stderr).toMatch(
      /inspect the heal in the Temporal UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/heal%3Aemail_validator%402\.3\.0/,
    );
    expect(first.stderr).toMatch(
      /differential vs email_validator@2\.1\.0: REFUSED — optimization "Optimize for speed" promises the same behaviour/,
    );
    expect(first.stderr).toContain(
      '3 wrong answers reported by callers, all from email_validator@2.3.0; 0 calls reached email_validator@2.2.0',
    );
    for (const step of [
      '[pruneBranch]',
      '[createAvoidanceRule]',
      '[findHealthyAncestor]',
      '[regenerate]',
      '[validateCandidate]',
      '[promote]',
    ]) {
      expect(first.stderr).toContain(step);
    }

    const { email_validator: f, email_validator_py: py } = await facts('email_validator', 'email_validator_py');
    expect(f.merges).toBe(1);
    // The speed "optimization": refused by the differential check, never called.
    expect(f.health['email_validator@2.2.0']).toBe('failed');
    expect(f.refusedBy).toEqual(['differential']);
    expect(f.callsOfRefused).toBe(0);
    expect(f.checks['email_validator@2.2.0']).toBe('refused');
    // The feature_add: differences listed and allowed; callers found the bug; the heal fixed it.
    expect(f.checks['email_validator@2.3.0']).toBe('listed');
    expect(f.health['email_validator@2.3.0']).toBe('pruned');
    expect(f.rules.map((r) => r.source_failure)).toEqual(['email_validator@2.3.0']);
    expect(f.minted.length).toBeGreaterThanOrEqual(3);
    expect(f.minted.every((m) => m.tool_id === 'email_validator@2.1.0' && m.expected === false)).toBe(true);
    expect(f.regenerated).toEqual([{ tool_id: 'email_validator@2.3.1', regenerated_from: 'email_validator@2.1.0' }]);
    expect(f.route).toBe('email_validator@2.3.1');
    expect(f.heal).toBe('healed');
    // And in Python: the same refusals, heal and route; the rule learned from Python's tokens.
    expect(py.health['email_validator_py@2.2.0']).toBe('failed');
    expect(py.checks['email_validator_py@2.2.0']).toBe('refused');
    expect(py.health['email_validator_py@2.3.0']).toBe('pruned');
    expect(py.rules).toEqual([{ source_failure: 'email_validator_py@2.3.0', pattern_kind: 'tokens' }]);
    expect(py.route).toBe('email_validator_py@2.3.1');
    expect(py.heal).toBe('healed');

    // The README's picture is this demo's output.
    const readme = readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8');
    const picture = /```mermaid\n([\s\S]*?)\n```/.exec(readme)?.[1];
    const mermaid = /== 7\. dise lineage email_validator --format mermaid\n([\s\S]*?)\n\n== 8/.exec(first.stderr)?.[1];
    expect(mermaid).toBeDefined();
    expect(picture).toBe(mermaid);

    const second = await runDise(['demo'], env, 170_000);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout)).toMatchObject({
      tool: 'email_validator_2',
      status: 'healed',
      healed: 'email_validator_2@2.3.1',
    });
    expect(JSON.parse(second.stdout).judged).toMatchObject({
      tool: 'email_validator_judged_2',
      caughtBy: 'peers',
      wrong: 0,
    });
    const again = await facts('email_validator_2', 'email_validator_judged');
    expect(again.email_validator_2.route).toBe('email_validator_2@2.3.1');
    expect(again.email_validator_judged.health['email_validator_judged@2.3.0']).toBe('failed');
    expect(again.email_validator_judged.route).toBe('email_validator_judged@2.1.0');
  }, 360_000);
});
