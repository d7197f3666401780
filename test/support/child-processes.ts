import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type {} from './child-bundle.js'; // declares the provided childBundleDir
import { inject } from 'vitest';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { workflowBundlePath } from './bundle-path.js';

const alive = new Set<ChildProcess>();

/**
 * A script of test/support in its own Node process: from the run's bundle of the child scripts
 * (global setup, ./child-bundle.ts), else from its TypeScript source through tsx.
 */
export function spawnTsx(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const bundleDir = inject('childBundleDir');
  const bundled = bundleDir ? path.join(bundleDir, script.replace(/\.ts$/, '.js')) : '';
  const entry =
    bundled && existsSync(bundled) ? [bundled] : ['--import', 'tsx', path.join(PACKAGE_ROOT, 'test/support', script)];
  const child = spawn(process.execPath, [...entry, ...args], {
    cwd: PACKAGE_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  alive.add(child);
  child.on('exit', () => alive.delete(child));
  return child;
}

/** SIGKILLs every child this file spawned that is still running (for afterAll). */
export function killChildren(): void {
  for (const child of alive) child.kill('SIGKILL');
}

export interface WorkerChild {
  child: ChildProcess;
  /** Resolves once the child has finished `killAfter` and hangs, waiting to be killed. */
  hung: Promise<void>;
}

/**
 * A dise worker in its own process (test/support/worker-child.ts) on `taskQueue`, running the run's
 * workflow bundle; resolves once it polls. With `killAfter`, the first attempt of that activity
 * commits and then the worker hangs (`hung`), to be killed with SIGKILL by the test.
 */
export function spawnWorkerChild({
  databaseUrl,
  taskQueue,
  killAfter,
  config,
}: {
  databaseUrl: string;
  taskQueue: string;
  killAfter?: string;
  config?: unknown;
}): Promise<WorkerChild> {
  const child = spawnTsx('worker-child.ts', [], {
    DATABASE_URL: databaseUrl,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TASK_QUEUE: taskQueue,
    WORKFLOW_BUNDLE: workflowBundlePath(),
    KILL_AFTER: killAfter ?? '',
    ...(config ? { CONFIG_JSON: JSON.stringify(config) } : {}),
  });
  let out = '';
  let announce: () => void = () => undefined;
  const hung = new Promise<void>((resolve) => (announce = resolve));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY')) resolve({ child, hung });
      if (killAfter && out.includes(`AFTER ${killAfter}`)) announce();
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`worker child exited early (${code ?? signal})`));
    });
  });
}

/** One call of a runtime child: its time, input, and the version that answered, or the error. */
export interface CallLine {
  at: number;
  input: number;
  version?: string;
  output?: unknown;
  error?: string;
}

export interface RuntimeChild {
  child: ChildProcess;
  /** Every call so far, as the child printed it. */
  lines: CallLine[];
  /** SIGTERM, and wait for it to finish (its runtime flushes on the way out). */
  stop(): Promise<void>;
}

/** A tool runtime in its own process (test/support/runtime-child.ts) calling `tool` with 0, 1, 2, … every `intervalMs`. */
export function spawnRuntimeChild(databaseUrl: string, tool: string, intervalMs: number): RuntimeChild {
  const child = spawnTsx('runtime-child.ts', [databaseUrl, tool, String(intervalMs)]);
  const lines: CallLine[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const p of parts) if (p.trim() && !p.includes('"ready"')) lines.push(JSON.parse(p) as CallLine);
  });
  return {
    child,
    lines,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
