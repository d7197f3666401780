import type { RegisterVersionInput } from '../lineage/store.js';

/**
 * The email-validator story's lineage: 1.0.0 → {1.1.0, 1.0.1} → 2.0.0 (a merge)
 * → 2.1.0 → 2.2.0, where 2.2.0 "optimizes for speed" by replacing the regex with an '@' check (the
 * differential check refuses it at registration), and 2.1.0 → 2.3.0, a `feature_add` for
 * internationalized addresses whose loosened domain part also lets a second '@' through: a
 * difference the check lists but cannot judge, which callers then find.
 */
export function emailLineage(name: string): RegisterVersionInput[] {
  const id = (v: string) => `${name}@${v}`;
  return [
    {
      name,
      version: '1.0.0',
      description: 'Validate an email address',
      category: 'validation',
      code: `function run(input) {
  return /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(input);
}`,
      tests: [
        { name: 'accepts a plain address', input: 'user@example.com', expect: true, critical: true },
        { name: 'rejects a missing at', input: 'user.example.com', expect: false, critical: true },
      ],
    },
    {
      name,
      version: '1.1.0',
      parents: [id('1.0.0')],
      description: 'Validate an email address (trimmed)',
      category: 'validation',
      code: `function run(input) {
  var s = String(input).trim();
  return /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(s);
}`,
      mutation: {
        type: 'feature_add',
        description: 'Added regex patterns for surrounding whitespace',
        fitnessBefore: 0.8,
        fitnessAfter: 0.82,
      },
      tests: [{ name: 'accepts surrounding whitespace', input: ' user@example.com ', expect: true }],
    },
    {
      name,
      version: '1.0.1',
      parents: [id('1.0.0')],
      description: 'Validate an email address (null-safe)',
      category: 'validation',
      code: `function run(input) {
  if (input === null || input === undefined) return false;
  return /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/.test(String(input));
}`,
      mutation: { type: 'bug_fix', description: 'Bug fix: null handling', fitnessBefore: 0.8, fitnessAfter: 0.81 },
      tests: [{ name: 'rejects null', input: null, expect: false }],
    },
    {
      name,
      version: '2.0.0',
      parents: [id('1.1.0'), id('1.0.1')],
      description: 'Validate an email address',
      category: 'validation',
      code: `var EMAIL = /^[a-zA-Z0-9._%+-]+@[a-zA-Z0-9.-]+\\.[a-zA-Z]{2,}$/;
function run(input) {
  if (input === null || input === undefined) return false;
  return EMAIL.test(String(input).trim());
}`,
      mutation: {
        type: 'refactor',
        description: 'Rewrote for performance (merged whitespace and null handling)',
        fitnessBefore: 0.82,
        fitnessAfter: 0.85,
      },
    },
    {
      name,
      version: '2.1.0',
      parents: [id('2.0.0')],
      description: 'Validate an email address (case-insensitive)',
      category: 'validation',
      code: `var EMAIL = /^[a-z0-9._%+-]+@[a-z0-9.-]+\\.[a-z]{2,}$/i;
function run(input) {
  if (input === null || input === undefined) return false;
  return EMAIL.test(String(input).trim());
}`,
      mutation: {
        type: 'feature_add',
        description: 'Added case-insensitive email validation',
        fitnessBefore: 0.85,
        fitnessAfter: 0.85,
      },
      tests: [{ name: 'accepts upper case', input: 'USER@EXAMPLE.COM', expect: true }],
    },
    {
      name,
      version: '2.2.0',
      parents: [id('2.1.0')],
      description: 'Validate an email address (fast path)',
      category: 'validation',
      code: `function run(input) {
  // Optimized: skip regex for obvious cases
  if (input === null || input === undefined) return false;
  var s = String(input).trim();
  if (s.indexOf('@') === -1) return false;
  return true;
}`,
      mutation: { type: 'optimization', description: 'Optimize for speed', fitnessBefore: 0.85, fitnessAfter: 0.95 },
    },
    {
      name,
      version: '2.3.0',
      parents: [id('2.1.0')],
      description: 'Validate an email address (internationalized)',
      category: 'validation',
      code: `// Internationalized: any letters, in any script, around the '@'
var EMAIL = /^[^\\s@]+@\\S+\\.\\S{2,}$/;
function run(input) {
  if (input === null || input === undefined) return false;
  return EMAIL.test(String(input).trim());
}`,
      mutation: {
        type: 'feature_add',
        description: 'Accept internationalized addresses',
        fitnessBefore: 0.85,
        fitnessAfter: 0.9,
      },
      tests: [{ name: 'accepts an internationalized address', input: 'josé@exämple.com', expect: true }],
    },
  ];
}

/** Traffic: what callers send, and what a correct validator answers (the callers' own check). */
export const DEMO_TRAFFIC: { input: string; valid: boolean }[] = [
  { input: 'user@example.com', valid: true },
  { input: 'first.last@company.org', valid: true },
  { input: 'dev+tag@sub.domain.io', valid: true },
  { input: 'USER@EXAMPLE.COM', valid: true },
  { input: 'plainaddress', valid: false },
  { input: 'user@@domain.com', valid: false },
  { input: 'first@@company.org', valid: false },
  { input: 'dev@@sub.domain.io', valid: false },
  { input: '@domain.com', valid: false },
  { input: 'user@', valid: false },
  { input: 'user@domain', valid: false },
  { input: 'user name@example.com', valid: false },
];
