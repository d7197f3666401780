import { createHash } from 'node:crypto';
import type pg from 'pg';

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
  onCrossing: (crossing: ThresholdCrossing) => void;
  log?: (line: string) => void;
}

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
 * Writes executions in batches: one INSERT of the rows and one set-based UPDATE of the per-version
 * counters per batch, in one transaction. The counter update returns the new failure counts, so the
 * process whose batch crosses the threshold — and only that one, row locks serialise the updates —
 * reports the crossing. Records survive a database outage in memory and are flushed on close.
 */
export class ExecutionRecorder {
  private buffer: ExecutionRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private immediate = false;
  private closed = false;
  dropped = 0;
  written = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: RecorderOptions,
  ) {
    this.timer = setInterval(() => void this.flush().catch(() => undefined), options.flushIntervalMs);
    this.timer.unref();
  }

  get pending(): number {
    return this.buffer.length;
  }

  record(record: ExecutionRecord): void {
    if (this.closed) throw new Error('the execution recorder is closed');
    this.buffer.push(record);
    const max = this.options.maxBuffered ?? 1_000_000;
    if (this.buffer.length > max) {
      const excess = this.buffer.length - max;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= this.options.batchSize && !this.immediate) {
      this.immediate = true;
      setImmediate(() => {
        this.immediate = false;
        void this.flush().catch(() => undefined);
      });
    }
  }

  /** Writes everything buffered so far (one flush at a time). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (!this.buffer.length) return;
    this.flushing = this.drain().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length) {
      const batch = this.buffer.splice(0, this.options.batchSize);
      try {
        await this.write(batch);
        this.written += batch.length;
      } catch (err) {
        this.buffer.unshift(...batch);
        this.options.log?.(`could not record ${batch.length} execution(s), will retry: ${(err as Error).message}`);
        throw err;
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
    const client = await this.pool.connect();
    let crossings: ThresholdCrossing[] = [];
    try {
      await client.query('BEGIN');
      await client.query(
        `INSERT INTO executions (tool_id, ok, error_type, error_message, duration_ms, input_hash, input)
         SELECT * FROM unnest($1::varchar[], $2::bool[], $3::varchar[], $4::text[], $5::float8[], $6::varchar[], $7::jsonb[])`,
        [
          batch.map((r) => r.versionId),
          batch.map((r) => r.ok),
          batch.map((r) => r.errorType),
          batch.map((r) => r.errorMessage),
          batch.map((r) => r.durationMs),
          batch.map((r) => inputHash(r.inputJson)),
          batch.map((r) => (r.ok ? null : r.inputJson)),
        ],
      );
      const ids = [...perVersion.keys()].sort(); // a stable lock order avoids deadlocks between runtimes
      const { rows } = await client.query<{ tool_id: string; tool_name: string; after: number; fails: number }>(
        `UPDATE tool_lineage t
         SET execution_count = t.execution_count + v.calls,
             failure_count = t.failure_count + v.fails,
             success_rate = (t.success_rate * t.execution_count + (v.calls - v.fails)) / (t.execution_count + v.calls),
             last_executed = now()
         FROM unnest($1::varchar[], $2::int[], $3::int[]) AS v(id, calls, fails)
         WHERE t.tool_id = v.id
         RETURNING t.tool_id, t.tool_name, t.failure_count AS after, v.fails`,
        [ids, ids.map((id) => perVersion.get(id)!.calls), ids.map((id) => perVersion.get(id)!.fails)],
      );
      await client.query('COMMIT');
      crossings = rows
        .filter((r) => r.fails > 0 && crossesThreshold(r.after - r.fails, r.after, this.options.failureCountTrigger))
        .map((r) => {
          const last = perVersion.get(r.tool_id)!.last;
          return { versionId: r.tool_id, toolName: r.tool_name, failureCount: r.after, errorType: last?.errorType ?? null, errorMessage: last?.errorMessage ?? null };
        });
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    for (const c of crossings) this.options.onCrossing(c);
  }

  /** Flushes what is left and stops the timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
    this.closed = true;
  }
}
