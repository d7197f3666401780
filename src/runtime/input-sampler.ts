import type pg from 'pg';
import { upsertInputSamples, type InputSampleRow } from '../lineage/input-samples.js';
import { inputHash } from './execution-recorder.js';

export interface InputSamplerOptions {
  /** Slots per tool; 0 keeps nothing. */
  perTool: number;
  /** Tools whose inputs must never be kept. */
  excludeTools: string[];
  flushIntervalMs: number;
  /** Random numbers in [0, 1) (injectable for tests). */
  random?: () => number;
  log?: (line: string) => void;
}

/**
 * Reservoir sampling (Algorithm R) of successful call inputs, per tool: after n calls of a tool,
 * each of them is in its sample with probability k/n, and the sample never holds more than k. On
 * the call path it is a counter, one random number and, for the few calls kept, a map entry; the
 * slots that changed are written in one statement per flush, away from the call.
 */
export class InputSampler {
  private readonly seen = new Map<string, number>();
  private pending = new Map<string, { toolName: string; slot: number; inputJson: string }>();
  private readonly excluded: Set<string>;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  kept = 0;

  constructor(
    private readonly pool: pg.Pool,
    private readonly options: InputSamplerOptions,
  ) {
    this.excluded = new Set(options.excludeTools);
    this.random = options.random ?? Math.random;
    this.timer = setInterval(
      () => void this.flush().catch((err: Error) => options.log?.(`could not store sampled inputs: ${err.message}`)),
      options.flushIntervalMs,
    );
    this.timer.unref();
  }

  /** Offers one successful call's input (JSON text) of a tool to its sample. */
  offer(toolName: string, inputJson: string): void {
    const k = this.options.perTool;
    if (k <= 0 || this.excluded.has(toolName)) return;
    const n = (this.seen.get(toolName) ?? 0) + 1;
    this.seen.set(toolName, n);
    const slot = n <= k ? n - 1 : Math.floor(this.random() * n);
    if (slot >= k) return;
    this.pending.set(`${slot}\u0000${toolName}`, { toolName, slot, inputJson });
    this.kept++;
  }

  /** Slots changed and not yet written. */
  get pendingSlots(): number {
    return this.pending.size;
  }

  /** Writes the changed slots (one write at a time; a failed write keeps them for the next). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
    if (!this.pending.size) return;
    const batch = this.pending;
    this.pending = new Map();
    const rows: InputSampleRow[] = [...batch.values()].map((r) => ({ ...r, inputHash: inputHash(r.inputJson) }));
    this.writing = upsertInputSamples(this.pool, rows)
      .catch((err: unknown) => {
        // Newer inputs offered meanwhile win their slots.
        for (const [key, row] of batch) if (!this.pending.has(key)) this.pending.set(key, row);
        throw err;
      })
      .finally(() => {
        this.writing = undefined;
      });
    await this.writing;
  }

  /** Stops the timer and writes what is left. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
