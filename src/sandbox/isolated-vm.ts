/**
 * The isolated-vm module for the running Node.js, loaded from one of two installed majors.
 *
 * Why two: isolated-vm is a native addon tied to V8's C++ API, and no single release covers the
 * Node versions users have. 5.0.4 builds on Node 20 but not on 24 (`v8::ArrayBuffer::Allocator`
 * lost `Reallocate`); 6.2.0 ships prebuilt binaries and declares `node >= 22`; 7.x needs 24.
 *
 * How: package.json lists both as npm aliases in `optionalDependencies`
 * (`isolated-vm-5` → isolated-vm@5.0.4, `isolated-vm-6` → isolated-vm@6.2.0), so one lockfile
 * serves every supported Node and `npm ci` picks per machine:
 *   - Node 20: npm marks the optional `isolated-vm-6` inert because its `engines` excludes Node 20,
 *     and skips it without an EBADENGINE warning (npm only warns for non-optional packages);
 *     `isolated-vm-5` builds from source.
 *   - Node 24: `isolated-vm-6` installs its prebuilt binary; `isolated-vm-5`'s build fails and npm
 *     drops it quietly, as it does any optional dependency whose install script fails.
 *   - Node 22: both install (5.0.4 still compiles there, which costs a compile during `npm ci`);
 *     6 is the one loaded.
 * This module then requires the major meant for this Node (6 from Node 22 on, else 5), and falls
 * back to the other one if that is the one present.
 *
 * Types: both majors ship the same `isolated-vm.d.ts`. package.json's `imports` maps
 * `#isolated-vm-types` to `isolated-vm-6` then `isolated-vm-5`, and TypeScript takes the first that
 * is installed. It is a type-only import; at run time Node would not fall back, so nothing imports
 * `#isolated-vm-types` for its value.
 *
 * Everything else imports isolated-vm from here (`import ivm from './isolated-vm.js'`), so the
 * value and the `ivm.Isolate`/`ivm.Reference` types read as they did with `import ivm from 'isolated-vm'`.
 */
import { createRequire } from 'node:module';
import type IsolatedVM from '#isolated-vm-types';

const require = createRequire(import.meta.url);

/** The aliases to try, the one meant for this Node first. */
export function isolatedVmCandidates(nodeVersion: string = process.versions.node): string[] {
  const major = Number(nodeVersion.split('.')[0]);
  return major >= 22 ? ['isolated-vm-6', 'isolated-vm-5'] : ['isolated-vm-5', 'isolated-vm-6'];
}

function load(): { ivm: typeof IsolatedVM; loaded: string } {
  const failures: string[] = [];
  for (const name of isolatedVmCandidates()) {
    try {
      const ivm = require(name) as typeof IsolatedVM;
      const { version } = require(`${name}/package.json`) as { version: string };
      return { ivm, loaded: `${name} (isolated-vm ${version})` };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      failures.push(
        `${name}: ${e.code === 'MODULE_NOT_FOUND' ? 'not installed' : (e.message.split('\n')[0] ?? String(e))}`,
      );
    }
  }
  throw new Error(
    `isolated-vm could not be loaded on Node ${process.versions.node} (${failures.join('; ')}). ` +
      'Run `npm ci` with this Node version: node_modules installed by another Node hold another build. ' +
      '`node scripts/check-system.mjs` names what a build needs and this machine lacks ' +
      '(on Node 20, isolated-vm 5 may compile: python3, make, g++).',
  );
}

const { ivm, loaded } = load();
/** Which install was loaded, e.g. "isolated-vm-6 (isolated-vm 6.2.0)": for diagnostics and CI logs. */
export const isolatedVmPackage = loaded;
// Re-exported as a namespace-merged value so `ivm.Isolate` works as a type too, like the package's own default export.
// eslint-disable-next-line @typescript-eslint/no-namespace
declare namespace ivm {
  export type Isolate = IsolatedVM.Isolate;
  export type Context = IsolatedVM.Context;
  export type Reference<T = unknown> = IsolatedVM.Reference<T>;
  export type ExternalCopy<T = unknown> = IsolatedVM.ExternalCopy<T>;
  export type Script = IsolatedVM.Script;
}
export default ivm;
