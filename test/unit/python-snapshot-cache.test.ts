import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';

// The interpreter's memory snapshot kept on disk: the first process loads the plain way and keeps
// its snapshot; the next ones start every interpreter from it; a damaged file costs one plain load
// and is replaced. Each run is a fresh process (the snapshot in memory lives as long as one).

const cache = mkdtempSync(path.join(os.tmpdir(), 'dise-python-cache-'));
afterAll(() => rmSync(cache, { recursive: true, force: true }));

interface Started {
  answer: number;
  parsed: boolean;
  coldStartMs: number | null;
  snapshotStartMs: number | null;
}

function freshProcess(): Started {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', path.join(PACKAGE_ROOT, 'test/support/python-start-child.ts')],
    { env: { ...process.env, DISE_CACHE_DIR: cache }, encoding: 'utf8', timeout: 120_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Started;
}

const kept = () => readdirSync(path.join(cache, 'python')).filter((f) => f.endsWith('.bin'));

describe('the Python snapshot kept between processes', () => {
  it('is written by the first process and starts every interpreter of the next', { timeout: 240_000 }, () => {
    const first = freshProcess();
    expect(first).toMatchObject({ answer: 42, parsed: true, snapshotStartMs: null });
    expect(first.coldStartMs).toBeGreaterThan(0);
    expect(kept()).toHaveLength(1);

    const next = freshProcess();
    expect(next).toMatchObject({ answer: 42, parsed: true, coldStartMs: null });
    expect(next.snapshotStartMs).toBeGreaterThan(0);
    // That process ended while its next spare interpreter was still loading: the file is kept.
    expect(kept()).toHaveLength(1);
  });

  it('loads the plain way past a damaged file, and keeps a good one again', { timeout: 240_000 }, () => {
    const file = path.join(cache, 'python', kept()[0]!);
    const good = readFileSync(file).byteLength;
    writeFileSync(file, Buffer.alloc(4096, 7));
    expect(freshProcess()).toMatchObject({ answer: 42, parsed: true });
    expect(readFileSync(file).byteLength).toBe(good);
    expect(freshProcess()).toMatchObject({ answer: 42, coldStartMs: null });
  });
});
