import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { createTestDatabase, useTestStore } from '../support/database.js';
import { tableCounts } from '../support/fixtures.js';
import { captureOutput } from '../support/output.js';

const h = useTestStore();
const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-cli-'));
const examples = path.join(PACKAGE_ROOT, 'examples');

function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

beforeAll(async () => {
  process.env.DATABASE_URL = h.db.url;
});
afterAll(async () => {
  delete process.env.DATABASE_URL;
});

describe('dise tool add / lineage', () => {
  it('registers the example lineage, refuses the speed optimization that changes behaviour, and prints the verdict', async () => {
    const out = captureOutput();
    const code = await runCli(
      [
        'tool',
        'add',
        path.join(examples, 'email-validator.yaml'),
        path.join(examples, 'email-validator-optimized.yaml'),
      ],
      out,
    );
    expect(code, out.stderr.join('\n')).toBe(1);
    expect(out.stdout.filter((l) => l.startsWith('email_validator@'))).toEqual([
      'email_validator@1.0.0 healthy',
      'email_validator@1.1.0 healthy',
      'email_validator@1.0.1 healthy',
      'email_validator@2.0.0 healthy (routed)',
      'email_validator@2.1.0 failed',
    ]);
    // The feature_add 1.1.0 lists its differences; the merge 2.0.0 answers as one parent or the other.
    expect(out.stdout[out.stdout.indexOf('email_validator@1.1.0 healthy') + 1]).toMatch(
      /^ {2}differential vs email_validator@1\.0\.0: differences listed for review/,
    );
    expect(out.stdout[out.stdout.indexOf('email_validator@2.0.0 healthy (routed)') + 1]).toMatch(
      /^ {2}differential vs email_validator@1\.1\.0 \+ email_validator@1\.0\.1: same behaviour — answers each of \d+ inputs as email_validator@1\.1\.0 or email_validator@1\.0\.1 does$/,
    );
    const refused = out.stdout.indexOf('email_validator@2.1.0 failed');
    expect(out.stdout[refused + 1]).toEqual(
      expect.stringMatching(
        /^ {2}differential vs email_validator@2\.0\.0: REFUSED — optimization "Optimize for speed" promises the same behaviour, but \d+ of \d+ inputs are answered differently from email_validator@2\.0\.0$/,
      ),
    );
    // The three smallest differing inputs, each with both answers.
    const shown = out.stdout.filter((l) =>
      /^ {4}".*: email_validator@2\.1\.0 → .*, email_validator@2\.0\.0 → /.test(l),
    );
    expect(shown.length).toBeGreaterThanOrEqual(1);
    expect(shown.length).toBeLessThanOrEqual(3);
    // "@" is one of the code's own string literals, so the corpus tries it as it is (no shrinking needed).
    expect(shown[0]).toMatch(
      /^ {4}"@" \((?:shrunk from .*, )?\w+\): email_validator@2\.1\.0 → true, email_validator@2\.0\.0 → false$/,
    );
    expect(out.stderr.join('\n')).toContain(
      '[critical] regression: optimization changed behaviour: "@": email_validator@2.1.0 answers true, email_validator@2.0.0 false',
    );
    const [route] = await h.db.query<{ version_id: string }>(
      `SELECT version_id FROM routes WHERE tool_name = 'email_validator'`,
    );
    expect(route!.version_id).toBe('email_validator@2.0.0');
  });

  it('registers a feature_add with its differences listed, and routes it', async () => {
    const out = captureOutput();
    const json = captureOutput();
    expect(await runCli(['tool', 'add', path.join(examples, 'email-validator-international.yaml')], out)).toBe(0);
    expect(out.stdout[0]).toBe('email_validator@2.2.0 healthy (routed)');
    expect(out.stdout[1]).toMatch(
      /^ {2}differential vs email_validator@2\.0\.0: differences listed for review — feature_add: \d+ of \d+ inputs answered differently/,
    );
    expect(await runCli(['lineage', 'email_validator@2.2.0', '--json'], json)).toBe(0);
    const lineage = JSON.parse(json.stdout.join(''));
    expect(lineage.differential).toMatchObject({
      verdict: 'listed',
      judgedAs: 'feature_add',
      parents: ['email_validator@2.0.0'],
    });
    expect(lineage.differential.differences[0]).toMatchObject({
      output: { output: true, error: null },
      parents: [{ id: 'email_validator@2.0.0', output: { output: false, error: null } }],
    });
  });

  it('--no-route leaves the route alone; --json prints the registrations with the differential evidence', async () => {
    const out = captureOutput();
    const code = JSON.stringify(
      "function run(x) { return typeof x === 'string' && /^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$/i.test(x.trim()); }",
    );
    const f = file(
      'next.yaml',
      `name: email_validator\nversion: 3.0.0\nparents: [email_validator@2.0.0]\ncode: ${code}\nmutation: { type: feature_add, description: simpler regex that accepts more }\n`,
    );
    expect(await runCli(['tool', 'add', '--no-route', '--json', f], out)).toBe(0);
    expect(JSON.parse(out.stdout.join(''))).toMatchObject({
      registered: [
        {
          id: 'email_validator@3.0.0',
          routed: false,
          generation: 3,
          differential: { verdict: 'listed', judgedAs: 'feature_add' },
        },
      ],
    });
    const [route] = await h.db.query<{ version_id: string }>(
      `SELECT version_id FROM routes WHERE tool_name = 'email_validator'`,
    );
    expect(route!.version_id).toBe('email_validator@2.2.0');
  });

  it('prints the lineage view, with the differential evidence', async () => {
    const out = captureOutput();
    expect(await runCli(['lineage', 'email_validator@2.1.0'], out)).toBe(0);
    const text = out.stdout.join('\n');
    expect(text).toContain('Tool Lineage: email_validator@2.1.0');
    expect(text).toMatch(/├─ email_validator@1\.0\.0 \(✓ Healthy\)/);
    expect(text).toMatch(/└─ email_validator@2\.1\.0 \(✗ FAILED\) ← You are here/);
    expect(text).toContain('Detection: Differential check against the parent');
    expect(text).toContain('Differential Check:');
    expect(text).toMatch(
      /corpus: \d+ inputs \(\d+ suite, 0 recorded, (?:\d+ \w+, )*\d+ generated; seed \d+\).*, \d+ differing/,
    );
    expect(text).toContain('Optimization: Optimize for speed');
    expect(text).toContain('Fitness: 0.85 → 0.95');
    const routed = captureOutput();
    expect(await runCli(['lineage', 'email_validator'], routed)).toBe(0);
    expect(routed.stdout.join('\n')).toContain('Tool Lineage: email_validator@2.2.0');
  });

  it('exits 2 naming file and field for a bad manifest, and writes nothing', async () => {
    const before = await tableCounts(h.db);
    const good = file('good.yaml', 'name: other\nversion: 1.0.0\ncode: "function run(x) { return x; }"\n');
    const bad = file(
      'bad.yaml',
      'name: other\nversion: "1.1"\nparents: [other@1.0.0]\ncode: "function run(x) { return x; }"\n',
    );
    const out = captureOutput();
    expect(await runCli(['tool', 'add', good, bad], out)).toBe(2);
    expect(out.stderr.join('\n')).toContain(`error: ${bad}: version: must be semver`);
    expect(await tableCounts(h.db)).toEqual(before);
  });

  it('exits 2 for an unknown parent across files, and writes nothing', async () => {
    const before = await tableCounts(h.db);
    const a = file('a.yaml', 'name: other\nversion: 1.0.0\ncode: "function run(x) { return x; }"\n');
    const b = file(
      'b.yaml',
      'name: other\nversion: 1.1.0\nparents: [other@0.9.0]\ncode: "function run(x) { return x; }"\nmutation: { type: refactor, description: x }\n',
    );
    const out = captureOutput();
    expect(await runCli(['tool', 'add', a, b], out)).toBe(2);
    expect(out.stderr.join('\n')).toMatch(/unknown parent version other@0\.9\.0/);
    expect(await tableCounts(h.db)).toEqual(before);
  });

  it('exits 2 for an unknown version and for bad usage, without stack traces', async () => {
    const out = captureOutput();
    expect(await runCli(['lineage', 'nope@1.0.0'], out)).toBe(2);
    expect(out.stderr.join('\n')).toBe('error: unknown version nope@1.0.0');
    const usage = captureOutput();
    expect(await runCli(['tool', 'add'], usage)).toBe(2);
    expect(usage.stderr.join('\n')).toMatch(/missing required argument 'file'/);
  });

  it('refuses to work on a database that is not migrated, saying how to fix it', async () => {
    const empty = await createTestDatabase({ migrated: false });
    process.env.DATABASE_URL = empty.url;
    try {
      const out = captureOutput();
      expect(await runCli(['lineage', 'email_validator@1.0.0'], out)).toBe(2);
      expect(out.stderr.join('\n')).toMatch(/missing migration\(s\) .*run `dise migrate` first/);
    } finally {
      process.env.DATABASE_URL = h.db.url;
      await empty.drop();
    }
  });
});
