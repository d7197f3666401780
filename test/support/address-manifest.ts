import { writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Writes a one-version manifest of an address checker into `dir` and returns its path: `code` is the
 * tool, with one critical test (an ordinary address is accepted), so a version that keeps that
 * answer registers unless a rule refuses it.
 */
export function addressManifest(dir: string, name: string, version: string, code: string, parents: string[] = []) {
  const file = path.join(dir, `${name}-${version}.yaml`);
  const body = code
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
  writeFileSync(
    file,
    `- name: ${name}
  version: ${version}
${parents.length ? `  parents: [${parents.join(', ')}]\n` : ''}  description: Check an address
  code: |
${body}
  tests:
    - name: accepts an address
      input: "user@example.com"
      expect: true
      critical: true
`,
  );
  return file;
}
