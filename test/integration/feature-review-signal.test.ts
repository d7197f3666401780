import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import YAML from 'yaml';
import { runCli } from '../../src/cli/main.js';
import { DEFAULT_NAMESPACE } from '../../src/shared/constants.js';
import { createDashboardApp } from '../../src/ui/server.js';
import { defaultConfig } from '../../src/config/schema.js';
import { emailLineage } from '../../src/demo/email-lineage.js';
import { pythonEmailLineage } from '../../src/demo/python-lineages.js';
import type { RegisterVersionInput } from '../../src/lineage/store.js';
import { reviewStatusQuery, reviewWorkflowId } from '../../src/shared/review.js';
import type { RunningWorker } from '../../src/worker.js';
import { useTestStore } from '../support/database.js';
import { captureOutput } from '../support/output.js';
import { connectTestTemporal, startTestWorker, uniqueTaskQueue, type TestTemporal } from '../support/temporal.js';

// A person's review of a feature_add no reviewer or peer decided (deployment.review: hold): `dise tool
// add` stores it HELD and starts its review workflow; `dise review --approve|--refuse` signals it and a
// real worker routes or refuses the version. For a JavaScript and a Python tool.

const h = useTestStore();
let temporal: TestTemporal;
let worker: RunningWorker;
const taskQueue = uniqueTaskQueue('review');

beforeAll(async () => {
  temporal = await connectTestTemporal();
  worker = await startTestWorker(h.db, { taskQueue, config: defaultConfig() });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-review-'));
  const configFile = path.join(dir, 'config.yaml');
  // No LLM reviewer and no peers (the tools have no category): a person decides.
  writeFileSync(configFile, YAML.stringify({ deployment: { review: 'hold', feature_review: { reviewer: false } } }));
  process.env.DISE_CONFIG = configFile;
  process.env.DISE_TASK_QUEUE = taskQueue;
  process.env.DATABASE_URL = h.db.url;
  process.env.TEMPORAL_ADDRESS = inject('temporalAddress');
});
afterAll(async () => {
  for (const k of ['DISE_CONFIG', 'DISE_TASK_QUEUE', 'DATABASE_URL', 'TEMPORAL_ADDRESS']) delete process.env[k];
  await worker?.shutdown();
  await temporal?.close();
});

/** The story's root and its "surrounding whitespace" feature_add, plus a second feature_add on top. */
function manifests(lineage: (name: string) => RegisterVersionInput[], name: string): RegisterVersionInput[] {
  const story = lineage(name);
  const strip = (v: RegisterVersionInput) => ({
    ...v,
    category: undefined,
    mutation: v.mutation ? { type: v.mutation.type, description: v.mutation.description } : undefined,
  });
  const root = strip(story.find((v) => v.version === '1.0.0')!);
  const trimmed = strip(story.find((v) => v.version === '1.1.0')!);
  const intl = story.find((v) => v.version === '2.3.0')!;
  return [root, trimmed, { ...strip(intl), version: '1.2.0', parents: [`${name}@1.1.0`], language: root.language }];
}

async function cli(args: string[]) {
  const out = captureOutput();
  const code = await runCli(args, out);
  return { code, stdout: out.stdout.join('\n'), stderr: out.stderr.join('\n') };
}

function writeManifest(versions: RegisterVersionInput[]): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'dise-review-manifest-')), 'tool.yaml');
  writeFileSync(file, YAML.stringify(versions));
  return file;
}

describe.each([
  ['JavaScript', emailLineage, 'rev_js'],
  ['Python', pythonEmailLineage, 'rev_py'],
] as const)('a %s feature_add held for review', (_language, lineage, name) => {
  it('is HELD and unrouted, in its review workflow; --approve routes it, --refuse stores it FAILED', async () => {
    const all = manifests(lineage, name);
    const added = await cli(['tool', 'add', writeManifest(all.slice(0, 2))]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(new RegExp(`^${name}@1\\.0\\.0 healthy.*\\(routed\\)`, 'm'));
    expect(added.stdout).toContain(
      `${name}@1.1.0 held${_language === 'Python' ? ' (python)' : ''} (held for review: dise review ${name}@1.1.0 --approve | --refuse)`,
    );
    expect(added.stderr).toContain(`held for review:`);
    expect(await h.store.routing.routeOf(name)).toBe(`${name}@1.0.0`);
    const handle = temporal.client.workflow.getHandle(reviewWorkflowId(`${name}@1.1.0`));
    expect((await handle.describe()).status.name).toBe('RUNNING');
    expect(await handle.query(reviewStatusQuery)).toMatchObject({ status: 'waiting', decision: null });

    const approved = await cli(['review', `${name}@1.1.0`, '--approve', '--note', 'whitespace is wanted', '--json']);
    expect(approved.code, approved.stderr).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({
      versionId: `${name}@1.1.0`,
      decision: 'approve',
      note: 'whitespace is wanted',
      workflowId: `review:${name}@1.1.0`,
      result: { outcome: 'routed', health: 'healthy' },
    });
    expect(await h.store.routing.routeOf(name)).toBe(`${name}@1.1.0`);
    expect((await h.store.graph.version(`${name}@1.1.0`))?.health).toBe('healthy');
    expect((await handle.describe()).status.name).toBe('COMPLETED');

    // The next feature_add is held in turn; refused, it is FAILED with the note, and the route stays.
    const next = await cli(['tool', 'add', writeManifest(all.slice(2))]);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).toContain(`${name}@1.2.0 held`);
    const refused = await cli(['review', `${name}@1.2.0`, '--refuse', '--note', 'accepts user@@domain.com']);
    expect(refused.code, refused.stderr).toBe(0);
    expect(refused.stdout).toContain(`refuse sent to review:${name}@1.2.0`);
    expect(refused.stdout).toContain(`${name}@1.2.0 refused in review by cli:`);
    expect(refused.stdout).toContain(': accepts user@@domain.com: stored FAILED, never routed');
    const lineageOf = await h.store.getLineage(`${name}@1.2.0`);
    expect(lineageOf.health).toBe('failed');
    expect(lineageOf.failures.map((f) => [f.failureType, f.detectionMethod])).toEqual([['review_refused', 'review']]);
    expect(await h.store.routing.routeOf(name)).toBe(`${name}@1.1.0`);

    // A version no longer HELD has nothing to decide.
    const again = await cli(['review', `${name}@1.2.0`, '--approve']);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('is FAILED, not HELD for review');
  }, 180_000);
});

describe('the dashboard', () => {
  it("shows a HELD version's review panel and sends the decision as the same signal", async () => {
    const all = manifests(emailLineage, 'rev_ui');
    const added = await cli(['tool', 'add', writeManifest(all.slice(0, 2))]);
    expect(added.code, added.stderr).toBe(0);
    const {
      app,
      live,
      temporal: operations,
    } = createDashboardApp({
      store: h.store,
      databaseUrl: h.db.url,
      temporal: { address: inject('temporalAddress'), namespace: DEFAULT_NAMESPACE, tls: false },
      temporalUiUrl: null,
      taskQueue,
      config: defaultConfig(),
      token: 'review-token',
    });
    try {
      const page = await (await app.request('/versions/rev_ui%401.1.0')).text();
      expect(page).toContain('Held for review');
      expect(page).toContain('data-action="review-refuse"');
      const post = (path: string, token?: string) =>
        app.request(path, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify({ note: 'not wanted here' }),
        });
      expect((await post('/api/reviews/rev_ui%401.1.0/refuse')).status).toBe(401);
      const refused = await post('/api/reviews/rev_ui%401.1.0/refuse', 'review-token');
      expect(refused.status).toBe(202);
      expect(await refused.json()).toEqual({ workflowId: 'review:rev_ui@1.1.0', decision: 'refuse' });
      const result = await temporal.client.workflow.getHandle(reviewWorkflowId('rev_ui@1.1.0')).result();
      expect(result).toMatchObject({ outcome: 'refused', health: 'failed' });
      expect(result.message).toContain('refused in review by dashboard: not wanted here');
      // The root is not HELD: nothing to decide.
      expect((await post('/api/reviews/rev_ui%401.0.0/approve', 'review-token')).status).toBe(409);
    } finally {
      await live.close();
      await operations.close();
    }
  }, 120_000);
});

describe('dise review usage', () => {
  it('needs exactly one of --approve or --refuse, and --help explains the signal', async () => {
    const neither = await cli(['review', 'rev_js@1.0.0']);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain('give exactly one of --approve or --refuse');
    const help = await cli(['review', '--help']);
    expect(`${help.stdout}\n${help.stderr}`).toContain('signal to the review workflow review:<version>');
  });
});
