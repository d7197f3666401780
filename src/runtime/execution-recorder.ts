import { createHash } from 'node:crypto';
import type pg from 'pg';
import { addExecutionCounts, insertExecutions } from '../lineage/executions.js';

export interface ExecutionRecord {
  versionId: string;
  ok: boolean;
  errorType: string | null;
  errorMessage: string | null;
  durationMs: number;
  /** The input as JSON text: hashed for every call, stored only for failed calls. */
  inputJson: string;
}

/** failure_count of a version reached failure_count_trigger. */
export interface ThresholdCrossing {
  versionId: string;
  toolName: string;
  failureCount: number;
  errorType: string | null;
  errorMessage: string | null;
}

export interface RecorderOptions {
  batchSize: number;
  flushIntervalMs: number;
  failureCountTrigger: number;
  /** Records kept while the database is unreachable before the oldest are dropped. */
  maxBuffered?: number;
  /**
   * While the database takes writes, callers wait (record() returns the flush) once this many
   * records are pending, so a runtime never makes executions faster than it can store them.
   * Default 20 batches.
   */
  highWater?: number;
  onCrossing: (crossing: ThresholdCrossing) => void;
  log?: (line: string) => void;
}

const BATCHES_PER_TRANSACTION = 10;

/** deadlock_detected, serialization_failure. */
const TRANSIENT_SQLSTATES = new Set(['40P01', '40001']);

export function inputHash(inputJson: string): string {
  return createHash('sha256').update(inputJson).digest('hex');
}

/**
 * True when going from `before` to `after` failures reaches `trigger`: once per version, however the
 * failures are batched. Versions that stay over it are found by the monitor's periodic check.
 */
export function crossesThreshold(before: number, after: number, trigger: number): boolean {
  return before < trigger && after >= trigger;
}

/**
 * Writes executions in batches: INSERTs of the rows and set-based UPDATEs of the per-version
 * counters, in one transaction per up to ten batches. Versions with failures in the batch are
 * counted in that transaction, waiting for their rows: the update returns the new failure counts, so
 * the process whose batch crosses the threshold — and only that one — reports the crossing. Versions
 * without failures are counted in the same transaction only if no other runtime holds their rows
 * (SKIP LOCKED); otherwise their calls are carried to the next write, so runtimes never queue behind
 * each other on a popular version. Records survive a database outage in memory and are flushed, with
 * anything carried, on close. Callers wait (backpressure) when records pile up faster than they can
 * be written.
 */
export class ExecutionRecorder {
  private buffer: ExecutionRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private immediate = false;
  private closed = false;
  /** The last write failed: records pile up (to maxBuffered) instead of stalling callers. */
  private failing = false;
  /** Records taken from the buffer by the write in progress. */
  private inFlight = 0;
  /** Calls of versions whose counters were busy at the last write, per version, to add later. */
  private carried = new Map<string, number>();
  dropped = 0;
  written = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: RecorderOptions,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), options.flushIntervalMs);
    this.timer.unref();
  }

  /** Records not written yet: buffered, or in a write that has not committed. */
  get pending(): number {
    return this.buffer.length + this.inFlight;
  }

  /**
   * Buffers one execution. Returns a promise to wait on when too many records are pending while the
   * database takes writes (backpressure: the flush in progress), null otherwise.
   */
  record(record: ExecutionRecord): Promise<void> | null {
    if (this.closed) throw new Error('the execution recorder is closed');
    this.buffer.push(record);
    const max = this.options.maxBuffered ?? 1_000_000;
    if (this.buffer.length > max) {
      const excess = this.buffer.length - max;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= (this.options.highWater ?? this.options.batchSize * 20) && !this.failing) {
      return this.flush().catch(() => undefined);
    }
    if (this.buffer.length >= this.options.batchSize && !this.immediate) {
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        void this.flush().catch(() => undefined);
      });
    }
    return null;
  }

  /** Writes everything buffered so far (one flush at a time). */
  async flush(): Promise<void> {
    await this.exclusive(() => this.drain());
  }

  /** Writes everything buffered and every carried count, waiting for busy versions. */
  async flushAll(): Promise<void> {
    await this.exclusive(async () => {
      await this.drain();
      await this.writeCarried();
    });
  }

  /** One writer at a time: the carried counts must not be written by two at once. */
  private async exclusive(work: () => Promise<void>): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.buffer.length && !this.carried.size) return;
    this.flushing = work().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async drain(): Promise<void> {
    let conflicts = 0;
    while (this.buffer.length) {
      // Up to BATCHES_PER_TRANSACTION batches share one transaction and one counter update: under
      // load, the counters (hot rows every runtime updates) are touched once per 10 batches.
      const batch = this.buffer.splice(0, this.options.batchSize * BATCHES_PER_TRANSACTION);
      this.inFlight = batch.length;
      try {
        await this.write(batch);
        this.written += batch.length;
        this.failing = false;
      } catch (err) {
        this.buffer.unshift(...batch);
        // A deadlock or serialization failure is another writer's bad timing: write again now.
        if (TRANSIENT_SQLSTATES.has((err as { code?: string }).code ?? '') && ++conflicts <= 10) continue;
        this.failing = true;
        this.options.log?.(`could not record ${batch.length} execution(s), will retry: ${(err as Error).message}`);
        throw err;
      } finally {
        this.inFlight = 0;
      }
    }
  }

  private async write(batch: ExecutionRecord[]): Promise<void> {
    const perVersion = new Map<string, { calls: number; fails: number; last: ExecutionRecord | null }>();
    for (const r of batch) {
      const v = perVersion.get(r.versionId) ?? { calls: 0, fails: 0, last: null };
      v.calls++;
      if (!r.ok) {
        v.fails++;
        v.last = r;
      }
      perVersion.set(r.versionId, v);
    }
    // Versions with failures in this batch are counted now (the threshold decision needs it);
    // versions without are counted when their rows are free, with what earlier batches carried.
    const failing = [...perVersion.keys()].filter((id) => perVersion.get(id)!.fails > 0).sort();
    const passing = new Map(this.carried);
    for (const [id, v] of perVersion) if (!v.fails) passing.set(id, (passing.get(id) ?? 0) + v.calls);
    const { rows, counted } = await this.transaction(async (client) => {
      for (let i = 0; i < batch.length; i += this.options.batchSize) {
        const chunk = batch.slice(i, i + this.options.batchSize);
        await insertExecutions(
          client,
          chunk.map((r) => ({
            versionId: r.versionId,
            ok: r.ok,
            errorType: r.errorType,
            errorMessage: r.errorMessage,
            durationMs: r.durationMs,
            inputHash: inputHash(r.inputJson),
            inputJson: r.ok ? null : r.inputJson,
          })),
        );
      }
      const passingIds = [...passing.keys()].sort();
      return {
        rows: await this.addCounts(
          client,
          failing,
          failing.map((id) => perVersion.get(id)!.calls),
          failing.map((id) => perVersion.get(id)!.fails),
          false,
        ),
        counted: await this.addCounts(
          client,
          passingIds,
          passingIds.map((id) => passing.get(id)!),
          passingIds.map(() => 0),
          true,
        ),
      };
    });
    for (const r of counted) passing.delete(r.tool_id);
    this.carried = passing;
    const crossings = rows
      .filter((r) => r.fails > 0 && crossesThreshold(r.after - r.fails, r.after, this.options.failureCountTrigger))
      .map((r) => {
        const last = perVersion.get(r.tool_id)!.last;
        return {
          versionId: r.tool_id,
          toolName: r.tool_name,
          failureCount: r.after,
          errorType: last?.errorType ?? null,
          errorMessage: last?.errorMessage ?? null,
        };
      });
    for (const c of crossings) this.options.onCrossing(c);
  }

  /** Adds calls and failures to the versions' counters (see addExecutionCounts). */
  private addCounts(client: pg.PoolClient, ids: string[], calls: number[], fails: number[], skipLocked: boolean) {
    return addExecutionCounts(client, ids, calls, fails, skipLocked);
  }

  /** Counts carried over because their versions were busy, written waiting for them. */
  private async writeCarried(): Promise<void> {
    if (!this.carried.size) return;
    const ids = [...this.carried.keys()].sort();
    await this.transaction((client) =>
      this.addCounts(
        client,
        ids,
        ids.map((id) => this.carried.get(id)!),
        ids.map(() => 0),
        false,
      ),
    );
    this.carried = new Map();
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  /** Flushes what is left and stops the timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flushAll();
    this.closed = true;
  }
}
