import { describe, expect, it } from 'vitest';
import { lineage } from '../../src/cli/commands/lineage.js';
import { toolList } from '../../src/cli/commands/tool-list.js';
import { defaultConfig } from '../../src/config/schema.js';
import { startHeal } from '../../src/client/start-heal.js';
import { KNOWN_WRONG_WARNING, ToolPrunedError, ToolRuntime } from '../../src/runtime/index.js';
import { useHealStack } from '../support/heal-stack.js';
import { V1_CODE, V2_CODE, WRONG_RESULTS } from '../support/email-story.js';
import { captureOutput } from '../support/output.js';
import { healInput, reportWrongResults } from '../support/failures.js';
import { pollUntil } from '../support/wait.js';

// When the only version of a tool is found wrong and nothing of its own lineage
// can replace it, callers get a healthy alternative (same category, similar description, passes the
// failing inputs), or — without one — a refusal by default, or a recorded warning when configured.

const h = useHealStack('alternative');

async function healUnhealed(versionId: string): Promise<void> {
  await reportWrongResults(h.db.url, versionId, WRONG_RESULTS);
  const { handle } = await startHeal(h.temporal.client, healInput(versionId), { taskQueue: h.taskQueue });
  const result = await handle.result();
  expect(result.status).toBe('unhealed');
}

async function cli(fn: (out: ReturnType<typeof captureOutput>) => Promise<void>): Promise<string> {
  const out = captureOutput();
  const before = process.env.DATABASE_URL;
  process.env.DATABASE_URL = h.db.url;
  try {
    await fn(out);
  } finally {
    if (before === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = before;
  }
  return out.stdout.join('\n');
}

describe('an answer when nothing of a tool is healthy', () => {
  it('names a healthy alternative on the route and answers from it; the CLI shows it', async () => {
    await h.store.registerMany([
      {
        name: 'solid_email',
        version: '1.0.0',
        description: 'Validate an email address',
        category: 'validation',
        code: V1_CODE,
      },
      {
        name: 'quick_email',
        version: '1.0.0',
        description: 'Validate an email address, quickly',
        category: 'validation',
        code: V2_CODE,
      },
      // Similar, same category, but answers the failing inputs the same wrong way: not an alternative.
      {
        name: 'sloppy_email',
        version: '1.0.0',
        description: 'Validate an email address quickly',
        category: 'validation',
        code: V2_CODE.replace('Optimized', 'Sloppy'),
      },
      // Correct, but another category: not an alternative.
      {
        name: 'other_email',
        version: '1.0.0',
        description: 'Validate an email address, quickly',
        category: 'parsing',
        code: V1_CODE,
      },
    ]);
    for (const t of ['solid_email', 'quick_email', 'sloppy_email', 'other_email'])
      await h.store.setRoute(`${t}@1.0.0`, 'test');

    const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
    try {
      expect(await runtime.call('quick_email', 'user@@domain.com')).toBe(true); // known wrong, not known yet
      await healUnhealed('quick_email@1.0.0');
      const [route] = await h.db.query<{
        version_id: string;
        known_wrong: string | null;
        alternative_id: string | null;
      }>(`SELECT version_id, known_wrong, alternative_id FROM routes WHERE tool_name = 'quick_email'`);
      expect(route).toMatchObject({ version_id: 'quick_email@1.0.0', alternative_id: 'solid_email@1.0.0' });
      expect(route!.known_wrong).toMatch(/ended unhealed/);

      // The runtime hears the route change and answers from the alternative, saying so.
      const answer = await pollUntil(
        () => runtime.callDetailed('quick_email', 'user@@domain.com'),
        (a) => a.versionId === 'solid_email@1.0.0',
        { interval: 50 },
      );
      expect(answer).toMatchObject({
        output: false,
        versionId: 'solid_email@1.0.0',
        alternativeFor: 'quick_email@1.0.0',
      });
    } finally {
      await runtime.close();
    }

    const list = await cli((out) => toolList({ json: false }, defaultConfig(), out));
    expect(list).toMatch(/quick_email\s+quick_email@1\.0\.0.*known wrong: answered by solid_email@1\.0\.0/);
    const view = await cli((out) => lineage('quick_email', { json: false, format: 'text' }, defaultConfig(), out));
    expect(view).toMatch(/Known wrong: heal .* ended unhealed/);
    expect(view).toMatch(/answered by solid_email@1\.0\.0, a healthy alternative/);

    // A route that moves is no longer known wrong.
    await h.store.setRoute('quick_email@1.0.0', 'operator override');
    const [moved] = await h.db.query(`SELECT known_wrong, alternative_id FROM routes WHERE tool_name = 'quick_email'`);
    expect(moved).toEqual({ known_wrong: null, alternative_id: null });
  }, 120_000);

  it('without an alternative refuses calls by default (ToolPrunedError), or serves them with a recorded warning', async () => {
    await h.store.registerMany([
      {
        name: 'lonely_email',
        version: '1.0.0',
        description: 'Check that a mailbox string looks right',
        category: 'mailboxes',
        code: V2_CODE,
      },
    ]);
    await h.store.setRoute('lonely_email@1.0.0', 'test');
    await healUnhealed('lonely_email@1.0.0');
    const [route] = await h.db.query<{ known_wrong: string | null; alternative_id: string | null }>(
      `SELECT known_wrong, alternative_id FROM routes WHERE tool_name = 'lonely_email'`,
    );
    expect(route!.known_wrong).toMatch(/ended unhealed/);
    expect(route!.alternative_id).toBeNull();

    const refusing = await ToolRuntime.create({ databaseUrl: h.db.url });
    try {
      const err = await refusing.call('lonely_email', 'user@@domain.com').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ToolPrunedError);
      expect((err as Error).message).toMatch(/lonely_email@1\.0\.0 is known to answer wrongly.*calls are refused/);
    } finally {
      await refusing.close();
    }

    const config = defaultConfig();
    config.runtime.known_wrong_policy = 'serve_with_warning';
    const serving = await ToolRuntime.create({ databaseUrl: h.db.url, config });
    try {
      const answer = await serving.callDetailed('lonely_email', 'user@@domain.com');
      expect(answer).toMatchObject({ output: true, versionId: 'lonely_email@1.0.0' });
      expect(answer.warning).toMatch(/known to answer wrongly and no healthy alternative exists/);
      await serving.flush();
    } finally {
      await serving.close();
    }
    const rows = await h.db.query(
      `SELECT ok, error_type FROM executions WHERE tool_id = 'lonely_email@1.0.0' AND error_type = $1`,
      [KNOWN_WRONG_WARNING],
    );
    expect(rows).toEqual([{ ok: true, error_type: KNOWN_WRONG_WARNING }]);

    const list = await cli((out) => toolList({ json: false }, defaultConfig(), out));
    expect(list).toMatch(/lonely_email.*known wrong: calls refused \(no healthy alternative\)/);
    const view = await cli((out) => lineage('lonely_email', { json: false, format: 'text' }, defaultConfig(), out));
    expect(view).toMatch(/No healthy alternative: calls of lonely_email are refused \(ToolPrunedError\)/);
  }, 120_000);
});
