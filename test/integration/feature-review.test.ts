import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig, type DiseConfig } from '../../src/config/schema.js';
import { emailLineage } from '../../src/demo/email-lineage.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { LlmClient } from '../../src/llm/client.js';
import type { RegisterVersionInput } from '../../src/lineage/store.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { useTestStore } from '../support/database.js';
import { useFakeOpenAI } from '../support/fake-openai.js';

// The judges of a feature_add's listed differences beyond its parent: the LLM reviewer (a scripted
// OpenAI-compatible server), peers (routed tools of the same category), on a real database.

const h = useTestStore();
const sandbox = new Sandbox(defaultConfig().sandbox);
const fake = useFakeOpenAI();

afterAll(() => sandbox.close());

function withReview(patch: Partial<DiseConfig['deployment']['feature_review']>, review: 'none' | 'hold' = 'none') {
  const config = defaultConfig();
  return {
    ...config,
    deployment: { ...config.deployment, review, feature_review: { ...config.deployment.feature_review, ...patch } },
  };
}

const llm = () =>
  new LlmClient({
    apiKey: 'test-key',
    baseURL: fake.url,
    model: 'scripted-reviewer',
    timeoutMs: 10_000,
    temperature: 0,
  });

/** The email story's 2.1.0 → 2.3.0 step under its own name: 2.3.0 also lets a second '@' through. */
function internationalized(name: string): RegisterVersionInput[] {
  const story = emailLineage(name);
  const v210 = story.find((v) => v.version === '2.1.0')!;
  const v230 = story.find((v) => v.version === '2.3.0')!;
  return [
    { ...v210, version: '1.0.0', parents: [], mutation: null, tests: [] },
    { ...v230, version: '1.1.0', parents: [`${name}@1.0.0`] },
  ];
}

/**
 * The reviewer's scripted answer for "Accept internationalized addresses": a difference is inside the
 * intent when its input holds a letter beyond ASCII; ';@a.aa' or 'a@@a.aa' are not internationalization.
 */
function judgeByScript(user: string) {
  const lines = user.split('\n').filter((l) => /^\d+\. input /.test(l));
  return {
    differences: lines.map((l) => {
      const index = Number(l.slice(0, l.indexOf('.')));
      const input = /^\d+\. input (.*?): parent answers/.exec(l)![1]!;
      const international = /[^\p{ASCII}]/u.test(input);
      return {
        index,
        inside_intent: international,
        reason: international ? 'internationalized letters' : 'accepts an ASCII address the parent refused',
      };
    }),
  };
}

async function failuresOf(id: string) {
  return h.db.query<{
    failure_type: string;
    detection_method: string;
    description: string;
    evidence: { judge: string; inputs: string[]; peers?: string[]; errored?: string[] };
  }>(`SELECT failure_type, detection_method, description, evidence FROM failures WHERE tool_id = $1 ORDER BY id`, [id]);
}

describe('the LLM reviewer', () => {
  it('holds a feature_add with a difference outside its stated intent: FAILED, the finding with its inputs', async () => {
    fake.script('FeatureReview', [{ answer: judgeByScript }]);
    const before = fake.requestsFor('FeatureReview').length;
    const registered = await h.store.registerMany(internationalized('rv_out'), {
      validate: registrationValidator({ store: h.store, sandbox, config: withReview({}), llm: llm() }),
    });
    expect(registered.map((r) => r.health)).toEqual(['healthy', 'failed']);
    expect(fake.requestsFor('FeatureReview').length).toBe(before + 1);
    const prompt = fake.requestsFor('FeatureReview').at(-1)!.body.messages[1]!.content;
    expect(prompt).toContain('STATED INTENT: Accept internationalized addresses');
    const [finding] = await failuresOf('rv_out@1.1.0');
    expect(finding).toMatchObject({ failure_type: 'outside_intent', detection_method: 'review' });
    expect(finding!.description).toMatch(/^held by the LLM reviewer: \d+ of \d+ listed difference\(s\) are outside/);
    expect(finding!.description).toContain('accepts an ASCII address the parent refused');
    expect(finding!.evidence.judge).toBe('reviewer');
    expect(finding!.evidence.inputs.length).toBeGreaterThan(0);
    expect(finding!.evidence.inputs.some((i) => /[^\p{ASCII}]/u.test(i))).toBe(false);
    expect(await h.store.routing.routeOf('rv_out')).toBeNull();
  });

  it('passes a feature_add whose differences are all inside its intent', async () => {
    // "Added regex patterns for surrounding whitespace": inside when the input has whitespace around it.
    fake.script('FeatureReview', [
      {
        answer: (user) => ({
          differences: user
            .split('\n')
            .filter((l) => /^\d+\. input /.test(l))
            .map((l) => ({
              index: Number(l.slice(0, l.indexOf('.'))),
              inside_intent: /^\d+\. input "(\s|\\[nrt])|(\s|\\[nrt])": parent answers/.test(l),
              reason: 'surrounding whitespace',
            })),
        }),
      },
    ]);
    const story = emailLineage('rv_in');
    const registered = await h.store.registerMany(
      [
        { ...story.find((v) => v.version === '1.0.0')!, tests: [] },
        { ...story.find((v) => v.version === '1.1.0')!, parents: ['rv_in@1.0.0'] },
      ],
      { validate: registrationValidator({ store: h.store, sandbox, config: withReview({}), llm: llm() }) },
    );
    expect(registered.map((r) => r.health)).toEqual(['healthy', 'healthy']);
    expect(registered[1]!.differential?.verdict).toBe('listed');
    expect(registered[1]!.reports?.[0]).toMatch(
      /^reviewer \(scripted-reviewer\): all \d+ listed difference\(s\) are inside "Added regex patterns for surrounding whitespace"/,
    );
    expect(await failuresOf('rv_in@1.1.0')).toEqual([]);
  });

  it('holds the version when the reviewer times out, and says why', async () => {
    fake.script('FeatureReview', [{ delayMs: 3_000, answer: judgeByScript }]);
    const registered = await h.store.registerMany(internationalized('rv_slow'), {
      validate: registrationValidator({
        store: h.store,
        sandbox,
        config: withReview({ reviewer_timeout_seconds: 1 }),
        llm: llm(),
      }),
    });
    expect(registered[1]!.health).toBe('failed');
    const [finding] = await failuresOf('rv_slow@1.1.0');
    expect(finding).toMatchObject({ failure_type: 'review_unavailable', detection_method: 'review' });
    expect(finding!.description).toContain('the reviewer did not answer within 1 s');
    expect(finding!.description).toContain('not routed on a review that did not happen');
  });

  it('holds the version when the reviewer answers malformed, and says why', async () => {
    fake.script('FeatureReview', [{ content: { differences: [{ index: 1, verdict: 'fine' }] } }]);
    const registered = await h.store.registerMany(internationalized('rv_bad'), {
      validate: registrationValidator({ store: h.store, sandbox, config: withReview({}), llm: llm() }),
    });
    expect(registered[1]!.health).toBe('failed');
    const [finding] = await failuresOf('rv_bad@1.1.0');
    expect(finding!.failure_type).toBe('review_unavailable');
    expect(finding!.description).toContain('does not match FeatureReview');
  });
});

/** A careful address check of another tool (category validation): trims, any script, one '@'. */
const CAREFUL_PEER = `function run(input) {
  if (input === null || input === undefined) return false;
  return /^[^\\s@]+@[^\\s@]+\\.[^\\s@]{2,}$/.test(String(input).trim());
}`;

describe('peers', () => {
  /** A healthy tool of the email story's category, routed: a peer the feature review asks. */
  async function routedPeer(name: string, description: string, code: string): Promise<void> {
    await h.store.registerVersion({ name, version: '1.0.0', category: 'validation', description, code });
    await h.store.setRoute(`${name}@1.0.0`, 'test');
  }

  it('hold a feature_add where every peer sides with the parent, naming the peers and the inputs', async () => {
    await routedPeer('careful_check', 'Check an address', CAREFUL_PEER);
    const registered = await h.store.registerMany(internationalized('pe_held'), {
      validate: registrationValidator({ store: h.store, sandbox, config: withReview({}), llm: null }),
    });
    expect(registered.map((r) => r.health)).toEqual(['healthy', 'failed']);
    const [finding] = await failuresOf('pe_held@1.1.0');
    expect(finding).toMatchObject({ failure_type: 'peer_disagreement', detection_method: 'review' });
    expect(finding!.description).toMatch(/^held by peers: on \d+ of \d+ differing input\(s\) every answering peer/);
    expect(finding!.evidence.peers).toEqual(['careful_check@1.0.0']);
    expect(finding!.evidence.inputs.every((i) => (i.match(/@/g) ?? []).length > 1)).toBe(true);
  });

  it('say so when a peer errors: it is not counted as agreeing', async () => {
    await routedPeer(
      'throwing_check',
      'Check an address (throws on two @)',
      `function run(input) {
  if (String(input).split('@').length > 2) throw new TypeError('two @');
  return /^[^\\s@]+@[^\\s@]+\\.[^\\s@]{2,}$/.test(String(input).trim());
}`,
    );
    const registered = await h.store.registerMany(internationalized('pe_err'), {
      validate: registrationValidator({ store: h.store, sandbox, config: withReview({}), llm: null }),
    });
    // careful_check still sides with the parent; throwing_check's errors are named, not counted.
    expect(registered[1]!.health).toBe('failed');
    const [finding] = await failuresOf('pe_err@1.1.0');
    expect(finding!.description).toContain('not counted as agreeing: throwing_check@1.0.0 errored (TypeError)');
    expect(finding!.evidence.errored!.length).toBeGreaterThan(0);

    // With two peers required, the one that errors leaves too few: the difference is not held.
    const lenient = await h.store.registerMany(internationalized('pe_err2'), {
      validate: registrationValidator({ store: h.store, sandbox, config: withReview({ min_peers: 2 }), llm: null }),
    });
    expect(lenient[1]!.health).toBe('healthy');
    expect(lenient[1]!.reports?.join('\n')).toContain('not counted as agreeing: throwing_check@1.0.0 errored');
  });

  it('pass a feature_add the peers agree with (surrounding whitespace)', async () => {
    const story = emailLineage('pe_ok');
    const registered = await h.store.registerMany(
      [
        { ...story.find((v) => v.version === '1.0.0')!, tests: [] },
        { ...story.find((v) => v.version === '1.1.0')!, parents: ['pe_ok@1.0.0'] },
      ],
      { validate: registrationValidator({ store: h.store, sandbox, config: withReview({}), llm: null }) },
    );
    expect(registered[1]!.health).toBe('healthy');
    expect(registered[1]!.reports?.[0]).toMatch(
      /^peers \(careful_check@1\.0\.0, throwing_check@1\.0\.0\): no differing input/,
    );
  });
});
