import type { LineageStore } from '../../src/lineage/store.js';

/** The email validator: v1.0.0 uses a comprehensive regex… */
export const V1_CODE = `function run(input) {
  if (typeof input !== 'string') return false;
  return /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(input);
}`;

/** …and v2.0.0, "optimize for speed", replaces it with an '@' check. */
export const V2_CODE = `function run(input) {
  // Optimized: skip regex for obvious cases
  if (typeof input !== 'string') return false;
  if (input.indexOf('@') === -1) return false;
  return true;
}`;

/** v2.0.1 as an LLM would write it: a cached regex behind a fast path. */
export const V201_CODE = `var EMAIL = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/;
function run(input) {
  if (typeof input !== 'string') return false;
  // Fast path for obvious failures, before the comprehensive check
  if (input.length < 6 || input.split('@').length !== 2) return false;
  return EMAIL.test(input);
}`;

/** What an LLM analyst answers about 2.0.0 (the FailureAnalysis schema's fields), for the fake OpenAI server. */
export const LLM_ANALYSIS = {
  recoverable: true,
  reason: "The optimization replaced the comprehensive regex with a simple '@' check",
  problematic_pattern: 'CallExpression[callee.property.name="indexOf"]',
  pattern_kind: 'ast',
  rule_description: 'Never replace comprehensive validation with simple substring checks',
  scope: 'descendants',
};

export const WRONG_RESULTS = [
  { input: 'user@@domain.com', observed: true, expected: false },
  { input: '@domain.com', observed: true, expected: false },
  { input: 'user@', observed: true, expected: false },
];

/** Registers v1.0.0 (with its basic tests) and v2.0.0 (routed), as in the email-validator story. */
export async function registerEmailStory(store: LineageStore, name = 'email_validator'): Promise<void> {
  await store.registerMany([
    {
      name,
      version: '1.0.0',
      description: 'Validate an email address',
      category: 'validation',
      code: V1_CODE,
      tests: [
        { name: 'accepts a plain address', input: 'user@example.com', expect: true, critical: true },
        { name: 'rejects a missing at', input: 'user.example.com', expect: false, critical: true },
      ],
    },
    {
      name,
      version: '2.0.0',
      parents: [`${name}@1.0.0`],
      description: 'Validate an email address (fast)',
      category: 'validation',
      code: V2_CODE,
      mutation: { type: 'optimization', description: 'Optimize for speed', fitnessBefore: 0.85, fitnessAfter: 0.95 },
    },
  ]);
  await store.setRoute(`${name}@2.0.0`, 'v2 is faster');
}
