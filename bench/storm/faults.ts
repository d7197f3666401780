/**
 * The faults bench:storm injects while a storm runs (`BENCH_FAULTS=1`), one after another with a
 * recovery gap between them, and how throughput is compared: heals ended per second while a fault held
 * and in the gap after it, against the same stretch of time of an undisturbed storm.
 */
import type { FaultProxy } from './toxiproxy.js';

export interface FaultHooks {
  /** SIGKILLs one of the workers and starts another in its place after `downMs`. */
  killWorker(downMs: number): Promise<void>;
  /** Stops PostgreSQL, waits `downMs`, starts it again on the same port and data. */
  restartPostgres(downMs: number): Promise<void>;
}

export interface FaultTimings {
  /** Before the first fault: the heals get going. */
  warmUpMs: number;
  /** Between two faults: recovery, measured too. */
  gapMs: number;
  /** How long added latency lasts. */
  slowMs: number;
  /** How long a cut connection, a dead worker or a stopped database lasts. */
  downMs: number;
}

export const DEFAULT_FAULT_TIMINGS: FaultTimings = { warmUpMs: 5_000, gapMs: 5_000, slowMs: 10_000, downMs: 3_000 };

/** When a fault held, in milliseconds since the storm's reports, and the end of the gap after it. */
export interface FaultWindow {
  fault: string;
  fromMs: number;
  toMs: number;
  gapEndMs: number;
}

interface Fault {
  name: string;
  /** Injects the fault, holds it, and undoes it. */
  run(): Promise<void>;
}

type Proxies = { postgres: FaultProxy; temporal: FaultProxy };

function faultsOf(hooks: FaultHooks, proxies: Proxies, t: FaultTimings): Fault[] {
  const slow = (proxy: FaultProxy) => async () => {
    const undo = await proxy.slow(100);
    await sleep(t.slowMs);
    await undo();
  };
  const cut = (proxy: FaultProxy) => async () => {
    const undo = await proxy.cut();
    await sleep(t.downMs);
    await undo();
  };
  const s = (ms: number) => `${ms / 1000} s`;
  return [
    {
      name: `one of two workers killed (SIGKILL), another started ${s(t.downMs)} later`,
      run: () => hooks.killWorker(t.downMs),
    },
    { name: `PostgreSQL stopped for ${s(t.downMs)} and started again`, run: () => hooks.restartPostgres(t.downMs) },
    { name: `workers ↔ PostgreSQL: 100 ms added for ${s(t.slowMs)}`, run: slow(proxies.postgres) },
    { name: `workers ↔ Temporal: 100 ms added for ${s(t.slowMs)}`, run: slow(proxies.temporal) },
    { name: `workers ↔ PostgreSQL: connections cut for ${s(t.downMs)}`, run: cut(proxies.postgres) },
    { name: `workers ↔ Temporal: connections cut for ${s(t.downMs)}`, run: cut(proxies.temporal) },
  ];
}

/** Runs every fault in turn from the storm's start (`startedAt`, epoch ms); resolves with when each held. */
export async function injectFaults(
  hooks: FaultHooks,
  proxies: Proxies,
  startedAt: number,
  timings: FaultTimings = DEFAULT_FAULT_TIMINGS,
): Promise<FaultWindow[]> {
  const windows: FaultWindow[] = [];
  await sleep(timings.warmUpMs);
  for (const fault of faultsOf(hooks, proxies, timings)) {
    const fromMs = Date.now() - startedAt;
    await fault.run();
    const toMs = Date.now() - startedAt;
    await sleep(timings.gapMs);
    windows.push({ fault: fault.name, fromMs, toMs, gapEndMs: Date.now() - startedAt });
  }
  return windows;
}

/** Heals ended so far, sampled over a storm (milliseconds since its reports). */
export type EndedSamples = { ms: number; ended: number }[];

/** Heals ended per second between two moments of a storm. */
export function healRate(samples: EndedSamples, fromMs: number, toMs: number): number {
  return (endedAt(samples, toMs) - endedAt(samples, fromMs)) / ((toMs - fromMs) / 1000);
}

/** Heals ended by `ms`: the last sample taken at or before it. */
function endedAt(samples: EndedSamples, ms: number): number {
  let ended = 0;
  for (const s of samples) if (s.ms <= ms) ended = s.ended;
  return ended;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
