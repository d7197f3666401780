import { describe, expect, it } from 'vitest';
import { startHeal } from '../../src/client/start-heal.js';
import { defaultConfig } from '../../src/config/schema.js';
import { registrationValidator } from '../../src/judge/registration.js';
import { ToolRuntime } from '../../src/runtime/tool-runtime.js';
import { Sandbox } from '../../src/sandbox/sandbox.js';
import { registerEmailStory, WRONG_RESULTS } from '../support/email-story.js';
import { useHealStack } from '../support/heal-stack.js';
import { registerSlugStory, SLUG_WRONG } from '../support/slug-story.js';
import { healInput } from '../support/failures.js';

// Never repeat a mistake: three heals teach three lessons (the email story's '@' check, the slug
// story's narrowed character class, a greeting that dropped .trim()). Then versions that bring each
// mistake back — renamed, reformatted, reordered — are registered below the healed versions and must
// all be refused, by a gate or by a minted test; versions and similar tools that do not repeat them
// must all pass.

const h = useHealStack('recurrence');

const GREETING_GOOD = "function run(name) { return 'Hello, ' + String(name).trim() + '!'; }";
const GREETING_BAD = "function run(name) { return 'Hello, ' + name + '!'; }";

const BAD: Record<string, string[]> = {
  email: [
    "function run(addr) { if (typeof addr !== 'string') return false; if (addr.indexOf('@') === -1) return false; return true; }",
    `function run(value) {
  if (typeof value !== 'string') {
    return false;
  }
  return value.indexOf("@") >= 0;
}`,
    "function run(x) { return typeof x === 'string' && x.indexOf('@') > -1; }",
    "function run(s) { const ok = typeof s === 'string'; const at = ok ? s.indexOf('@') : -1; return at !== -1; }",
    "function run(s) { return typeof s === 'string' && s.includes('@'); }",
    "function run(s) { return typeof s === 'string' && /@/.test(s); }",
    "function run(s) { if (typeof s !== 'string') return false; return s.split('').some((c) => c === '@'); }",
  ],
  slug: [
    "function run(t) { return String(t).toLowerCase().replace(/[^a-z]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, ''); }",
    `function run(heading) {
  var s = String(heading).toLowerCase();
  s = s.replace(/[^a-z]+/g, '-');
  s = s.replace(/^-+|-+$/g, '');
  return s.slice(0, 40).replace(/-+$/, '');
}`,
    "function run(t) { const lower = String(t).toLowerCase(); const dashed = lower.replace(/[^a-z]+/g, \"-\"); return dashed.replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, ''); }",
    "function run(t) { return String(t).toLowerCase().replace(/[^a-z]/g, '-').replace(/-+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, ''); }",
    "function run(t) { return String(t).toLowerCase().replace(/\\d+/g, '').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, ''); }",
    "function run(t) { return String(t).toLowerCase().split(/[^a-z]+/).filter(Boolean).join('-').slice(0, 40).replace(/-+$/, ''); }",
    "function run(t) { return String(t).toLowerCase().replace(/[0-9]/g, ' ').trim().replace(/[^a-z0-9]+/g, '-').slice(0, 40).replace(/-+$/, ''); }",
  ],
  greeting: [
    "function run(who) { return 'Hello, ' + who + '!'; }",
    'function run(who) { return `Hello, ${who}!`; }',
    "function run(n) {\n  const name = String(n);\n  return 'Hello, ' + name + '!';\n}",
    "function run(n) { return ['Hello, ', n, '!'].join(''); }",
    "function run(n) { const text = String(n); return 'Hello, '.concat(text, '!'); }",
    "function run(n) { return 'Hello, ' + String(n).replace(/^ /, '') + '!'; }",
  ],
};

const GOOD: Record<string, string[]> = {
  email: [
    "var PATTERN = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/;\nfunction run(v) { return typeof v === 'string' && PATTERN.test(v); }",
    "function run(addr) {\n  if (typeof addr !== 'string') { return false; }\n  return /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(addr);\n}",
    "function run(v) { if (typeof v !== 'string' || v.length > 254) return false; return /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(v); }",
    "const SHAPE = new RegExp('^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\\\.[a-zA-Z]{2,}$');\nfunction run(v) { return typeof v === 'string' && SHAPE.test(v); }",
    "function run(v) {\n  const EMAIL = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/;\n  return typeof v === 'string' && EMAIL.test(v);\n}",
  ],
  slug: [
    "function run(t) { return String(t).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, ''); }",
    `function run(heading) {
  var s = String(heading).toLowerCase();
  s = s.replace(/[^a-z0-9]+/g, '-');
  s = s.replace(/^-+|-+$/g, '');
  return s.slice(0, 40).replace(/-+$/, '');
}`,
    "function run(t) { return String(t).toLowerCase().split(/[^a-z0-9]+/).filter(Boolean).join('-').slice(0, 40).replace(/-+$/, ''); }",
    "const SEP = /[^a-z0-9]+/g;\nfunction run(t) { return String(t).toLowerCase().replace(SEP, '-').replace(/^-+|-+$/g, '').slice(0, 40).replace(/-+$/, ''); }",
    "function run(t) {\n  let out = String(t).toLowerCase().replace(/[^a-z0-9]+/g, '-');\n  out = out.replace(/^-+|-+$/g, '');\n  return out.length > 40 ? out.slice(0, 40).replace(/-+$/, '') : out;\n}",
  ],
  greeting: [
    "function run(who) { return 'Hello, ' + String(who).trim() + '!'; }",
    'function run(who) { return `Hello, ${String(who).trim()}!`; }',
    "function run(n) {\n  const name = String(n).trim();\n  return 'Hello, ' + name + '!';\n}",
    "function run(n) { return ['Hello, ', String(n).trim(), '!'].join(''); }",
    'function run(n) { const who = String(n).trim(); return `Hello, ${who}!`; }',
  ],
};

/** Similar tools elsewhere, that use what the rules forbid in their own lineage: never gated by them. */
const SIMILAR_TOOLS = [
  { name: 'has_at_sign', code: "function run(s) { return typeof s === 'string' && s.indexOf('@') !== -1; }" },
  { name: 'letters_only', code: "function run(t) { return String(t).replace(/[^a-z]+/g, ''); }" },
  { name: 'shout', code: "function run(n) { return String(n).toUpperCase() + '!'; }" },
  {
    name: 'domain_of',
    code: "function run(s) { const at = String(s).indexOf('@'); return at < 0 ? null : String(s).slice(at + 1); }",
  },
  {
    name: 'plain_join',
    code: "function run(parts) { return Array.isArray(parts) ? parts.join(' ') : String(parts); }",
  },
];

async function healReported(versionId: string, wrong: { input: unknown; observed: unknown; expected: unknown }[]) {
  const runtime = await ToolRuntime.create({ databaseUrl: h.db.url });
  for (const w of wrong) await runtime.report(versionId, w as never);
  await runtime.close();
  const { handle } = await startHeal(
    h.temporal.client,
    healInput(versionId, { failureType: 'wrong_output', description: 'wrong answers' }),
    { taskQueue: h.taskQueue },
  );
  const result = await handle.result();
  expect(result.status).toBe('healed');
  return result.newVersionId!;
}

describe('a learned mistake is never repeated', () => {
  it('refuses every variant that brings one back, and refuses none that does not', { timeout: 120_000 }, async () => {
    const healed: Record<string, string> = {};
    await registerEmailStory(h.store, 'rec_email');
    healed.email = await healReported('rec_email@2.0.0', WRONG_RESULTS);
    await registerSlugStory(h.store, 'rec_slug');
    healed.slug = await healReported('rec_slug@1.3.0', SLUG_WRONG);
    await h.store.registerMany([
      {
        name: 'rec_greeting',
        version: '1.0.0',
        code: GREETING_GOOD,
        tests: [{ name: 'greets', input: 'Ada', expect: 'Hello, Ada!' }],
      },
      {
        name: 'rec_greeting',
        version: '1.1.0',
        parents: ['rec_greeting@1.0.0'],
        code: GREETING_BAD,
        mutation: { type: 'refactor', description: 'Simpler concatenation' },
      },
    ]);
    await h.store.setRoute('rec_greeting@1.1.0', 'newest');
    healed.greeting = await healReported('rec_greeting@1.1.0', [
      { input: '  Ada ', observed: 'Hello,   Ada !', expected: 'Hello, Ada!' },
    ]);

    const sandbox = new Sandbox(defaultConfig().sandbox);
    const validate = registrationValidator({ store: h.store, sandbox, config: defaultConfig() });
    let minor = 10;
    const register = async (parent: string, code: string) => {
      const [name] = parent.split('@');
      const [v] = await h.store.registerMany(
        [
          {
            name: name!,
            version: `9.${minor++}.0`,
            parents: [parent],
            code,
            mutation: { type: 'refactor', description: 'variant' },
          },
        ],
        { validate },
      );
      return v!;
    };
    try {
      const caught: string[] = [];
      const missed: string[] = [];
      for (const [story, codes] of Object.entries(BAD)) {
        for (const code of codes) {
          const v = await register(healed[story]!, code);
          (v.health === 'failed' ? caught : missed).push(
            `${v.id} ${v.failures?.map((f) => f.detectionMethod).join('+')}`,
          );
        }
      }
      const refused: string[] = [];
      let good = 0;
      for (const [story, codes] of Object.entries(GOOD)) {
        for (const code of codes) {
          const v = await register(healed[story]!, code);
          good++;
          if (v.health !== 'healthy') refused.push(`${v.id}: ${v.failures?.map((f) => f.description).join('; ')}`);
        }
      }
      for (const t of SIMILAR_TOOLS) {
        const [v] = await h.store.registerMany(
          [
            {
              name: t.name,
              version: '1.0.0',
              code: t.code,
              description: 'Validate or shape text',
              category: 'validation',
            },
          ],
          { validate },
        );
        good++;
        if (v!.health !== 'healthy') refused.push(`${v!.id}: ${v!.failures?.map((f) => f.description).join('; ')}`);
      }
      const bad = caught.length + missed.length;
      console.log(`recurrence corpus: caught ${caught.length}/${bad}, falsely refused ${refused.length}/${good}`);
      expect(bad).toBeGreaterThanOrEqual(20);
      expect(good).toBeGreaterThanOrEqual(20);
      expect(missed).toEqual([]);
      expect(refused).toEqual([]);
      // Gates catch the renamed and reformatted copies; minted tests catch the reworded ones.
      expect(caught.filter((c) => c.includes('rule_gate')).length).toBeGreaterThan(0);
      expect(caught.filter((c) => !c.includes('rule_gate')).length).toBeGreaterThan(0);
    } finally {
      sandbox.close();
    }
  });
});
