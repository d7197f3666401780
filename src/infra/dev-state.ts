import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { isProcessAlive } from './net.js';
import { ensureDir, stateDir } from './paths.js';

/** What `dise dev` writes to `.dise/dev.json` so other commands find the running stack. */
export interface DevState {
  pid: number;
  temporal: string;
  ui: string | null;
  /** The dashboard's URL (`dise ui`, started by `dise dev`). */
  dashboard?: string | null;
  /** The worker's Prometheus metrics URL (observability.metrics.worker_address), when served. */
  metrics?: string | null;
  namespace: string;
  database: string;
  temporalPid: number | null;
  postgresPort: number | null;
  startedAt: string;
}

export function devStateFile(dir = stateDir()): string {
  return path.join(dir, 'dev.json');
}

export function readDevState(dir = stateDir()): DevState | undefined {
  const file = devStateFile(dir);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DevState;
  } catch {
    return undefined;
  }
}

/** The state of a `dise dev` that is still running, or undefined (a stale file is not live). */
export function readLiveDevState(dir = stateDir()): DevState | undefined {
  const state = readDevState(dir);
  return state && isProcessAlive(state.pid) ? state : undefined;
}

export function writeDevState(state: DevState, dir = stateDir()): void {
  ensureDir(dir);
  writeFileSync(devStateFile(dir), JSON.stringify(state, null, 2) + '\n');
}

export function removeDevState(dir = stateDir()): void {
  rmSync(devStateFile(dir), { force: true });
}

export function readyLine(state: Pick<DevState, 'temporal' | 'ui' | 'database' | 'dashboard' | 'metrics'>): string {
  return `ready temporal=${state.temporal} ui=${state.ui ?? 'none'} database=${state.database} dashboard=${state.dashboard ?? 'none'} metrics=${state.metrics ?? 'none'}`;
}
