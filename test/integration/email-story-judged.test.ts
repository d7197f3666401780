import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../../src/config/schema.js';
import { judgedEmailStory } from '../../src/demo/judged-story.js';
import { LlmClient } from '../../src/llm/client.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { useTestStore } from '../support/database.js';
import { useFakeOpenAI } from '../support/fake-openai.js';

// The email story judged beyond the parent: 2.3.0 (a feature_add that also accepts a second '@') is
// held back at registration, so the story's traffic meets 0 wrong answers — offline through a peer,
// and with an LLM through the reviewer (a scripted OpenAI-compatible server).

const h = useTestStore();
const config = defaultConfig();
const sandbox = new Sandbox(config.sandbox);
const fake = useFakeOpenAI();

afterAll(() => sandbox.close());

/**
 * A reviewer as an LLM would answer: for "Accept internationalized addresses" a difference is inside
 * the intent only when its input holds letters beyond ASCII; the other feature_adds' differences are
 * what they say.
 */
function scriptedReviewer(user: string) {
  const international = user.includes('STATED INTENT: Accept internationalized addresses');
  return {
    differences: user
      .split('\n')
      .filter((l) => /^\d+\. input /.test(l))
      .map((l) => {
        const input = /^\d+\. input (.*?): parent answers/.exec(l)![1]!;
        const inside = !international || /[^\p{ASCII}]/u.test(input);
        return {
          index: Number(l.slice(0, l.indexOf('.'))),
          inside_intent: inside,
          reason: inside ? 'as stated' : 'not internationalization',
        };
      }),
  };
}

describe('the email story judged beyond the parent', () => {
  it('offline: the peer sides with 2.1.0 on the second @, so 2.3.0 is held and callers meet 0 wrong answers', async () => {
    const story = await judgedEmailStory({ store: h.store, sandbox, config, databaseUrl: h.db.url, llm: null });
    expect(story.caughtBy).toBe('peers');
    expect(story.finding).toMatch(/^held by peers: .*every answering peer \(address_check@1\.0\.0\)/);
    expect(story.finding).toMatch(/"[^"]*@@[^"]*"/);
    expect(Object.fromEntries(story.registered.map((r) => [r.version, r.health]))).toEqual({
      '1.0.0': 'healthy',
      '1.1.0': 'healthy',
      '1.0.1': 'healthy',
      '2.0.0': 'healthy',
      '2.1.0': 'healthy',
      '2.2.0': 'failed',
      '2.3.0': 'failed',
    });
    expect(story.route).toBe('email_validator_judged@2.1.0');
    expect(story.wrong).toBe(0);
    expect(story.calls).toBeGreaterThanOrEqual(12);
    const served = await h.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM executions WHERE tool_id = 'email_validator_judged@2.3.0'`,
    );
    expect(served[0]!.n).toBe(0);
  });

  it('with an LLM: the reviewer holds 2.3.0 for differences outside its intent; 0 wrong answers', async () => {
    fake.script('FeatureReview', [{ answer: scriptedReviewer }]);
    const llm = new LlmClient({
      apiKey: 'test-key',
      baseURL: fake.url,
      model: 'scripted-reviewer',
      timeoutMs: 10_000,
      temperature: 0,
    });
    const story = await judgedEmailStory({ store: h.store, sandbox, config, databaseUrl: h.db.url, llm });
    expect(story.tool).toBe('email_validator_judged_2');
    expect(story.caughtBy).toBe('reviewer');
    expect(story.finding).toMatch(
      /^held by the LLM reviewer: \d+ of \d+ listed difference\(s\) are outside "Accept internationalized addresses"/,
    );
    expect(story.registered.find((r) => r.version === '1.1.0')!.health).toBe('healthy');
    expect(story.wrong).toBe(0);
    expect(fake.requestsFor('FeatureReview').length).toBeGreaterThanOrEqual(2);
  });
});
