import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { inject } from 'vitest';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import { workflowBundlePath } from './bundle-path.js';

const alive = new Set<ChildProcess>();

/** A TypeScript script of test/support in its own Node process (through tsx). */
export function spawnTsx(script: string, args: string[] = [], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(PACKAGE_ROOT, 'test/support', script), ...args], {
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
export function spawnWorkerChild({ databaseUrl, taskQueue, killAfter, config }: { databaseUrl: string; taskQueue: string; killAfter?: string; config?: unknown }): Promise<WorkerChild> {
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
