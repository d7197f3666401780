#!/usr/bin/env node
// The `dise` command. Sources are TypeScript and there is no build step to run by hand. To start in
// well under a second, the CLI runs from a bundle of src/cli (esbuild: one module per command, code
// split, packages left external) cached under .dise/cache/ and rebuilt, once, whenever a source file
// is newer than it; loading a few bundled modules is several times cheaper than transpiling hundreds
// through tsx's loader hooks. DISE_NO_BUNDLE=1, or no esbuild, runs the sources through tsx.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** A stamp of the sources: newest modification time and file count of src/ and the package manifest. */
function sourceStamp() {
  let newest = statSync(path.join(root, 'package.json')).mtimeMs;
  let count = 0;
  for (const entry of readdirSync(path.join(root, 'src'), { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    count++;
    const mtime = statSync(path.join(entry.parentPath ?? entry.path, entry.name)).mtimeMs;
    if (mtime > newest) newest = mtime;
  }
  return `${Math.floor(newest).toString(36)}-${count.toString(36)}`;
}

async function bundledMain() {
  if (process.env.DISE_NO_BUNDLE === '1') return null;
  const cache = path.join(root, '.dise', 'cache');
  const dir = path.join(cache, `cli-${sourceStamp()}`);
  const main = path.join(dir, 'main.js');
  if (existsSync(main)) return main;
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    return null;
  }
  // Build beside it and rename into place: two commands starting at once do not see half a bundle.
  const tmp = `${dir}.tmp-${process.pid}`;
  mkdirSync(cache, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(root, 'src', 'cli', 'main.ts')],
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'error',
  });
  try {
    renameSync(tmp, dir);
  } catch {
    rmSync(tmp, { recursive: true, force: true }); // another command built it first
  }
  // Older bundles are dead weight.
  for (const old of readdirSync(cache)) {
    if (old.startsWith('cli-') && path.join(cache, old) !== dir && !old.includes('.tmp-'))
      rmSync(path.join(cache, old), { recursive: true, force: true });
  }
  return main;
}

const main = await bundledMain().catch((err) => {
  process.stderr.write(`note: running the CLI from its sources (bundling failed: ${err.message})\n`);
  return null;
});
if (main) {
  await import(pathToFileURL(main).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
