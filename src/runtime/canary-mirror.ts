import { pythonReady, warmPython } from '../sandbox/python.js';
import type { ToolLanguage } from '../shared/language.js';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { jsonEqual } from '../detection/json-equal.js';
import { runtimeCanaries, type ComparisonRow } from '../lineage/runtime-canaries.js';
import type { SqlRunner } from '../lineage/sql-runner.js';
import { ToolExecutionError } from '../sandbox/errors.js';
import type { Sandbox } from '../sandbox/sandbox.js';
import type { JsonValue } from '../shared/lineage-types.js';
import { inputHash } from './execution-recorder.js';

/** A running canary as a runtime mirrors it. */
export interface MirroredCanary {
  toolName: string;
  candidateId: string;
  codeHash: string;
  code: string;
  language: ToolLanguage;
  fraction: number;
}

/** What the stable version answered the caller. */
export interface StableAnswer {
  versionId: string;
  ok: boolean;
  /** Output JSON text when ok. */
  outputJson: string | null;
  errorType: string | null;
  durationMs: number;
}

export interface CanaryMirrorOptions {
  queueSize: number;
  flushIntervalMs: number;
  batchSize: number;
  source: string;
  log: (line: string) => void;
  /** Decides whether a call is mirrored (default Math.random() < fraction); tests make it exact. */
  sample?: (fraction: number) => boolean;
}

interface Job {
  canary: MirroredCanary;
  inputJson: string;
  stable: StableAnswer;
}

/** Candidate timeouts after which a runtime stops mirroring a candidate (each blocks a turn of the loop). */
const MAX_CANDIDATE_TIMEOUTS = 5;
/** How often queued candidate calls run, and for how long at most each time (callers wait no longer). */
const DRAIN_TICK_MS = 1;
const DRAIN_BUDGET_MS = 2;
/** Comparisons kept while the database is unreachable before the oldest are dropped. */
const MAX_BUFFERED = 100_000;

function answersAgree(
  stable: StableAnswer,
  candidateOk: boolean,
  candidateOutput: string | null,
  candidateError: string | null,
): boolean {
  if (stable.ok !== candidateOk) return false;
  if (!stable.ok) return stable.errorType === candidateError;
  if (stable.outputJson === candidateOutput) return true;
  return jsonEqual(JSON.parse(stable.outputJson!) as JsonValue, JSON.parse(candidateOutput!) as JsonValue);
}

/**
 * Shadow traffic for canaries. After the stable version has answered a caller, `offer` decides (one map
 * read and one random number) whether to mirror the call; a mirrored call is queued (bounded: beyond
 * `queueSize` it is dropped, never waited for) and run on the candidate on a 1 ms tick (2 ms of work at
 * most per tick), in its own sandbox, so the candidate's errors, timeouts and answers never reach a caller. Each
 * comparison (agreement, both errors and latencies; the input and both answers when they disagree) is
 * written in batches, idempotently (runtime source + sequence number), and flushed on close.
 */
export class CanaryMirror {
  /** Per tool: its running canary, null when none, absent when not read yet. */
  private readonly canaries = new Map<string, MirroredCanary | null>();
  private readonly loading = new Set<string>();
  private generation = 0;
  private readonly queue: Job[] = [];
  private drainTimer: NodeJS.Timeout | undefined;
  private readonly drainBound = () => this.drain();
  private buffer: ComparisonRow[] = [];
  private flushing: Promise<void> | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly timeouts = new Map<string, number>();
  private readonly source: string;
  private seq = 0;
  private closed = false;
  mirrored = 0;
  dropped = 0;
  written = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly sandbox: Sandbox,
    private readonly runner: SqlRunner,
    private readonly options: CanaryMirrorOptions,
  ) {
    // Unique per runtime instance, so (source, seq) identifies a comparison even across restarts.
    this.source = `${options.source}:${randomUUID().slice(0, 8)}`;
    this.timer = setInterval(() => void this.flush().catch(() => undefined), options.flushIntervalMs);
    this.timer.unref();
  }

  /** Comparisons not written yet (queued to run, or buffered to write). */
  get pending(): number {
    return this.queue.length + this.buffer.length;
  }

  /**
   * A routing notification for a tool (or every tool): read its canary again, in the background. Until
   * the fresh read lands the cached entry is kept, so no call goes unmirrored for a notification (a
   * few extra comparisons of a canary that just ended are never read by its judge).
   */
  invalidate(toolName?: string): void {
    this.generation++;
    const names = toolName === undefined ? [...this.canaries.keys()] : this.canaries.has(toolName) ? [toolName] : [];
    if (!names.length || this.closed) return;
    this.preload(names).catch((err: Error) => this.options.log(`could not read canaries again: ${err.message}`));
  }

  /** The canary of a tool as cached (undefined: not read yet). */
  canaryOf(toolName: string): MirroredCanary | null | undefined {
    return this.canaries.get(toolName);
  }

  /** Reads the running canaries of `names` (every tool when omitted) in one query. */
  async preload(names?: string[]): Promise<void> {
    let generation = this.generation;
    let rows = await runtimeCanaries.running(this.pool, names);
    // A notification arrived mid-read: read again (what was read may predate it), a few times at most.
    for (let retry = 0; generation !== this.generation && retry < 5; retry++) {
      generation = this.generation;
      rows = await runtimeCanaries.running(this.pool, names);
    }
    if (generation !== this.generation) return;
    const found = new Map(rows.map((r) => [r.tool_name, r]));
    for (const name of names ?? [...found.keys()]) {
      const r = found.get(name);
      this.canaries.set(
        name,
        r
          ? {
              toolName: r.tool_name,
              candidateId: r.candidate_id,
              codeHash: r.code_hash,
              code: r.code,
              language: r.language,
              fraction: r.mirror_fraction,
            }
          : null,
      );
    }
  }

  /**
   * The caller's path: after the stable answer. Cheap when the tool has no canary; never throws and
   * never waits.
   */
  offer(
    toolName: string,
    inputJson: string,
    versionId: string,
    ok: boolean,
    outputJson: string | null,
    errorType: string | null,
    durationMs: number,
  ): void {
    // Positional arguments and the no-canary case first: nothing is allocated unless the call is mirrored.
    const canary = this.canaries.get(toolName);
    if (canary === null) return;
    if (canary === undefined) {
      this.load(toolName);
      return;
    }
    if (canary.candidateId === versionId || this.closed) return;
    if (!(this.options.sample ? this.options.sample(canary.fraction) : Math.random() < canary.fraction)) return;
    if ((this.timeouts.get(canary.candidateId) ?? 0) >= MAX_CANDIDATE_TIMEOUTS) return;
    // A Python candidate runs only once the interpreter is loaded: a synchronous call would wait for
    // the load on the runtime's thread. Until then its mirrored calls are skipped (not counted).
    if (canary.language === 'python' && !pythonReady()) {
      void warmPython().catch((err: Error) => this.options.log(`the Python interpreter did not load: ${err.message}`));
      return;
    }
    if (this.queue.length >= this.options.queueSize) {
      this.dropped++;
      return;
    }
    this.queue.push({ canary, inputJson, stable: { versionId, ok, outputJson, errorType, durationMs } });
    // One timer per burst, not one per call: the queue drains on a 1 ms tick while it has work.
    if (!this.drainTimer) {
      this.drainTimer = setInterval(this.drainBound, DRAIN_TICK_MS);
      this.drainTimer.unref();
    }
  }

  private load(toolName: string): void {
    if (this.loading.has(toolName) || this.closed) return;
    this.loading.add(toolName);
    this.preload([toolName])
      .catch((err: Error) => this.options.log(`could not read the canary of ${toolName}: ${err.message}`))
      .finally(() => this.loading.delete(toolName));
  }

  /** Runs queued candidate calls for at most DRAIN_BUDGET_MS per tick, so callers never wait long behind them. */
  private drain(): void {
    const until = performance.now() + DRAIN_BUDGET_MS;
    while (this.queue.length && performance.now() < until) this.runCandidate(this.queue.shift()!);
    if (!this.queue.length && this.drainTimer) {
      clearInterval(this.drainTimer);
      this.drainTimer = undefined;
    }
  }

  private runCandidate(job: Job): void {
    const { canary, inputJson, stable } = job;
    const started = performance.now();
    let ok = true;
    let output: string | null = null;
    let error: string | null = null;
    try {
      output = this.sandbox.runJson(canary.codeHash, canary.code, inputJson, canary.language);
    } catch (err) {
      ok = false;
      const e = err instanceof ToolExecutionError ? err : new ToolExecutionError('thrown', String(err));
      error = e.errorType;
      if (e.kind === 'timeout') this.timeouts.set(canary.candidateId, (this.timeouts.get(canary.candidateId) ?? 0) + 1);
    }
    const candidateMs = performance.now() - started;
    const agree = answersAgree(stable, ok, output, error);
    this.mirrored++;
    this.buffer.push({
      candidateId: canary.candidateId,
      stableId: stable.versionId,
      agree,
      stableOk: stable.ok,
      candidateOk: ok,
      candidateError: error,
      stableMs: stable.durationMs,
      candidateMs,
      inputHash: inputHash(inputJson),
      inputJson: agree ? null : inputJson,
      stableOutputJson: agree ? null : (stable.outputJson ?? JSON.stringify({ error: stable.errorType })),
      candidateOutputJson: agree ? null : (output ?? JSON.stringify({ error })),
      source: this.source,
      seq: ++this.seq,
    });
    if (this.buffer.length > MAX_BUFFERED) {
      const excess = this.buffer.length - MAX_BUFFERED;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= this.options.batchSize) void this.flush().catch(() => undefined);
  }

  /** Writes the buffered comparisons (one statement per batch); a failed write keeps them for the next. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.buffer.length) return;
    const batch = this.buffer.splice(0, this.options.batchSize);
    this.flushing = runtimeCanaries
      .insert(this.runner, batch)
      .then(() => {
        this.written += batch.length;
      })
      .catch((err: Error) => {
        this.buffer.unshift(...batch);
        this.options.log(`could not write ${batch.length} canary comparison(s): ${err.message}`);
        throw err;
      })
      .finally(() => {
        this.flushing = undefined;
      });
    await this.flushing;
    if (this.buffer.length >= this.options.batchSize) await this.flush();
  }

  /** Runs what is queued and writes every comparison. */
  async flushAll(): Promise<void> {
    while (this.queue.length) this.runCandidate(this.queue.shift()!);
    clearInterval(this.drainTimer);
    this.drainTimer = undefined;
    while (this.buffer.length) await this.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    clearInterval(this.drainTimer);
    this.drainTimer = undefined;
    await this.flushAll();
  }
}
