import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { cacheDir } from '../infra/paths.js';

/**
 * The Python interpreter's memory snapshot kept on disk between processes. A process that loads the
 * interpreter the plain way (~3 s: Pyodide, the host's code, every allowed module) writes the
 * snapshot it makes; later processes (a `dise call`, a test file, a worker restart) start their
 * interpreters from it in a fraction of that. The file's name is a digest of everything the image
 * depends on (Pyodide's version, the worker and host code, Node's version and the machine's
 * architecture), so a change to any of them simply misses the cache. Written to a temporary name and
 * renamed, so a reader never sees half a file.
 *
 * The image holds the interpreter before any tool ran: what the worker seals after loading (the
 * stripped globals, the unregistered modules) is done again after every start, from a snapshot or not.
 */
export interface SnapshotFiles {
  workerFile: string;
  hostPy: string;
}

function snapshotPath(files: SnapshotFiles): string {
  const require = createRequire(files.workerFile);
  const pyodideVersion = (require('pyodide/package.json') as { version: string }).version;
  const digest = createHash('sha256');
  for (const part of [
    pyodideVersion,
    readFileSync(files.workerFile),
    readFileSync(files.hostPy),
    process.versions.node,
    process.arch,
  ])
    digest.update(part).update('\0');
  return path.join(cacheDir(), 'python', `snapshot-${digest.digest('hex').slice(0, 24)}.bin`);
}

/** The cached snapshot as shared memory, or null (none yet, DISE_PYTHON_SNAPSHOT_CACHE=0, or unreadable). */
export function readCachedSnapshot(files: SnapshotFiles): SharedArrayBuffer | null {
  if (process.env.DISE_PYTHON_SNAPSHOT_CACHE === '0') return null;
  try {
    const file = snapshotPath(files);
    if (!existsSync(file)) return null;
    const bytes = readFileSync(file);
    const shared = new SharedArrayBuffer(bytes.byteLength);
    new Uint8Array(shared).set(bytes);
    return shared;
  } catch {
    return null;
  }
}

/** Keeps a snapshot for the next processes; a failure to write only costs them the plain load. */
export function writeCachedSnapshot(files: SnapshotFiles, snapshot: SharedArrayBuffer): void {
  if (process.env.DISE_PYTHON_SNAPSHOT_CACHE === '0') return;
  try {
    const file = snapshotPath(files);
    if (existsSync(file)) return;
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, new Uint8Array(snapshot));
    renameSync(tmp, file);
  } catch {
    // a read-only checkout: every process loads the plain way
  }
}

/** Drops a cached snapshot that failed to start an interpreter (the next start loads the plain way). */
export function discardCachedSnapshot(files: SnapshotFiles): void {
  try {
    rmSync(snapshotPath(files), { force: true });
  } catch {
    // nothing to drop
  }
}
