/**
 * Where an event-loop delay goes: the main thread running (work queued on the loop, ours or a
 * library's) or the main thread ready but waiting for a core (the machine is saturated).
 *
 * `monitorEventLoopDelay` says how late the loop's timers are, not why. A timer every `everyMs` here
 * reads the main thread's scheduler counters (`/proc/thread-self/schedstat`: nanoseconds on a CPU,
 * nanoseconds waiting on a run queue) at each tick, so every gap between two ticks splits into "ran"
 * and "waited for a core". The gap whose "ran" share is largest bounds the longest stretch the loop
 * was held by work on it; the late gaps' "waited" share is the operating system's, not the worker's.
 * Linux only; elsewhere `available` is false and nothing is sampled.
 */
import { readFileSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';

export interface LoopGap {
  /** When the tick came, in ms since sampling started. */
  atMs: number;
  /** How late the tick was, in ms. */
  lateMs: number;
  /** The main thread on a CPU during the gap, in ms. */
  ranMs: number;
  /** The main thread ready but waiting for a CPU during the gap, in ms. */
  waitedMs: number;
}

export interface LoopLagFigures {
  available: boolean;
  /** The tick that came latest, and how its gap split. */
  mostLate: LoopGap;
  /** The gap in which the main thread ran longest. */
  longestRun: LoopGap;
  /** Gaps more than 50 ms late, and the share of their lateness spent waiting for a core. */
  lateGaps: number;
  lateWaitShare: number;
  /** The longest garbage collection, which holds the main thread however little the work on it. */
  longestGc: { ms: number; atMs: number; kind: string };
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental marking',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak callbacks',
};

const SCHEDSTAT = '/proc/thread-self/schedstat';

function readSchedstat(): [number, number] | null {
  try {
    const [run, wait] = readFileSync(SCHEDSTAT, 'utf8').split(' ');
    return [Number(run) / 1e6, Number(wait) / 1e6];
  } catch {
    return null;
  }
}

/** Samples until stop() is called; call it from the main thread (the counters read are the caller's). */
export function startLoopLag(everyMs = 10): { stop(): LoopLagFigures } {
  const none: LoopGap = { atMs: 0, lateMs: 0, ranMs: 0, waitedMs: 0 };
  const figures: LoopLagFigures = {
    available: false,
    mostLate: none,
    longestRun: none,
    lateGaps: 0,
    lateWaitShare: 0,
    longestGc: { ms: 0, atMs: 0, kind: '' },
  };
  let previous = readSchedstat();
  if (!previous) return { stop: () => figures };
  figures.available = true;
  let lateSum = 0;
  let lateWaited = 0;
  const started = performance.now();
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.startTime < started) continue;
      const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? -1;
      const pause = { ms: entry.duration, atMs: entry.startTime - started, kind: GC_KINDS[kind] ?? String(kind) };
      if (process.env.LOOP_LAG_TRACE && pause.ms > 20) process.stderr.write(`long gc ${JSON.stringify(pause)}\n`);
      if (pause.ms > figures.longestGc.ms) figures.longestGc = pause;
    }
  });
  gc.observe({ entryTypes: ['gc'] });
  let expected = started + everyMs;
  let timer: NodeJS.Timeout;
  const tick = () => {
    const now = performance.now();
    const counters = readSchedstat()!;
    const gap: LoopGap = {
      atMs: now - started,
      lateMs: Math.max(0, now - expected),
      ranMs: counters[0] - previous![0],
      waitedMs: counters[1] - previous![1],
    };
    previous = counters;
    if (gap.lateMs > figures.mostLate.lateMs) figures.mostLate = gap;
    if (gap.ranMs > figures.longestRun.ranMs) figures.longestRun = gap;
    if (gap.lateMs > 50) {
      figures.lateGaps++;
      // With the monotonic clock in µs, the clock of a --cpu-prof profile's samples, to find the gap there.
      if (process.env.LOOP_LAG_TRACE)
        process.stderr.write(
          `late gap ${JSON.stringify({ ...gap, monoUs: Number(process.hrtime.bigint() / 1000n) })}\n`,
        );
      lateSum += gap.lateMs;
      lateWaited += Math.min(gap.waitedMs, gap.lateMs);
    }
    expected = performance.now() + everyMs;
    timer = setTimeout(tick, everyMs);
  };
  timer = setTimeout(tick, everyMs);
  return {
    stop() {
      clearTimeout(timer);
      gc.disconnect();
      figures.lateWaitShare = lateSum > 0 ? lateWaited / lateSum : 0;
      return figures;
    },
  };
}
