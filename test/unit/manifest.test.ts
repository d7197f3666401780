import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManifestError, readManifestFile } from '../../src/cli/manifest.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'dise-manifest-'));
function file(name: string, text: string): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  return f;
}

const VALID = `name: email_validator
version: 2.0.0
parents: [email_validator@1.0.0]
description: Validate an email address
category: validation
code: |
  function run(input) { return input.includes('@'); }
mutation:
  type: optimization
  description: Optimize for speed
  fitness_before: 0.85
  fitness_after: 0.95
tests:
  - name: rejects a double at
    input: "user@@domain.com"
    expect: false
    critical: true
`;

function errorOf(f: string): ManifestError {
  try {
    readManifestFile(f);
  } catch (e) {
    if (e instanceof ManifestError) return e;
    throw e;
  }
  throw new Error('expected a ManifestError');
}

describe('manifests', () => {
  it('reads the DESIGN §8 manifest into a registration', () => {
    const [m] = readManifestFile(file('valid.yaml', VALID));
    expect(m).toMatchObject({
      name: 'email_validator',
      version: '2.0.0',
      parents: ['email_validator@1.0.0'],
      mutation: {
        type: 'optimization',
        description: 'Optimize for speed',
        fitnessBefore: 0.85,
        fitnessAfter: 0.95,
        prompt: null,
      },
      tests: [{ name: 'rejects a double at', input: 'user@@domain.com', expect: false, critical: true }],
    });
  });

  it('reads JSON and lists of manifests', () => {
    const list = [
      { name: 'a', version: '1.0.0', code: 'function run(x) { return x; }' },
      {
        name: 'a',
        version: '1.1.0',
        parents: ['a@1.0.0'],
        code: 'function run(x) { return x; }',
        tests: [{ name: 't', input: 1, expect: 1 }],
      },
    ];
    const out = readManifestFile(file('list.json', JSON.stringify(list)));
    expect(out.map((m) => m.version)).toEqual(['1.0.0', '1.1.0']);
    expect(out[1]!.tests![0]!.critical).toBe(true);
  });

  it.each([
    ['a wrong type', VALID.replace('version: 2.0.0', 'version: 2'), 'version', /expected string/],
    ['a bad semver', VALID.replace('version: 2.0.0', 'version: "2.0"'), 'version', /semver/],
    ['a bad name', VALID.replace('name: email_validator', 'name: Email'), 'name', /\[a-z\]/],
    ['an unknown mutation type', VALID.replace('type: optimization', 'type: speedup'), 'mutation.type', /optimization/],
    [
      'an out-of-range fitness',
      VALID.replace('fitness_after: 0.95', 'fitness_after: 9.5'),
      'mutation.fitness_after',
      /1/,
    ],
    ['a missing code', VALID.replace(/code: \|\n.*\n/, ''), 'code', /expected string/],
    ['an unknown field', VALID + 'colour: blue\n', '(document)', /unknown field\(s\) colour/],
    ['a test without expect', VALID.replace('    expect: false\n', ''), 'tests[0].expect', /./],
  ])('names the file and field for %s', (_what, text, field, problem) => {
    const f = file(`bad-${field.replace(/\W/g, '_')}.yaml`, text);
    const err = errorOf(f);
    expect(err.file).toBe(f);
    expect(err.field).toBe(field);
    expect(err.message.startsWith(`${f}: ${field === '(document)' ? '' : field}`)).toBe(true);
    expect(err.message).toMatch(problem);
  });

  it('names the list index of a bad manifest in a list', () => {
    const err = errorOf(
      file(
        'list-bad.yaml',
        `- name: a\n  version: 1.0.0\n  code: "function run(x) {}"\n- name: a\n  version: nope\n  code: "function run(x) {}"\n`,
      ),
    );
    expect(err.field).toBe('[1].version');
  });

  it('reports unreadable, empty and unparsable files', () => {
    expect(errorOf(path.join(dir, 'missing.yaml')).message).toMatch(/missing\.yaml: cannot read file \(ENOENT\)/);
    expect(errorOf(file('empty.yaml', '')).message).toMatch(/is empty/);
    expect(errorOf(file('broken.yaml', 'name: [unclosed\n')).message).toMatch(/not valid YAML or JSON/);
  });
});
