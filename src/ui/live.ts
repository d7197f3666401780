import pg from 'pg';
import type { LineageStore } from '../lineage/store.js';
import type { TemporalOperations } from './operations.js';

/** Channels the database notifies on: routes and healths (routing_notify), heal runs (dashboard_notify). */
export const LIVE_CHANNELS = { routing: 'dise_routing', heals: 'dise_heals' } as const;

export interface LiveEvent {
  /** `route`: a route or a version's health changed (payload: tool name); `heal`: a heal run opened, moved or ended (payload: version id); `progress`: a running heal's progress query answered something new. */
  type: 'route' | 'heal' | 'progress';
  data: Record<string, unknown>;
}

/**
 * Fans database notifications (LISTEN) and running heals' progress out to the open pages' event
 * streams. It listens only while a page is open, and asks running heals for their progress every
 * `progressIntervalMs` only while one runs.
 */
export class LiveHub {
  private readonly subscribers = new Set<(e: LiveEvent) => void>();
  private client: pg.Client | null = null;
  private connecting: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly lastProgress = new Map<string, string>();
  private closed = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly store: LineageStore,
    private readonly temporal: TemporalOperations,
    private readonly progressIntervalMs = 400,
  ) {}

  /** Subscribes to events; resolves once the database listens, returns the unsubscribe function. */
  async subscribe(fn: (e: LiveEvent) => void): Promise<() => void> {
    this.subscribers.add(fn);
    await this.listen();
    this.timer ??= setInterval(() => void this.pollProgress(), this.progressIntervalMs);
    return () => {
      this.subscribers.delete(fn);
      if (!this.subscribers.size && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  private emit(e: LiveEvent): void {
    for (const fn of this.subscribers) fn(e);
  }

  private listen(): Promise<void> {
    if (this.client) return Promise.resolve();
    this.connecting ??= (async () => {
      const client = new pg.Client({ connectionString: this.databaseUrl });
      client.on('notification', (msg) => {
        const payload = msg.payload ?? '';
        if (msg.channel === LIVE_CHANNELS.routing) this.emit({ type: 'route', data: { tool: payload } });
        if (msg.channel === LIVE_CHANNELS.heals) this.emit({ type: 'heal', data: { versionId: payload } });
      });
      client.on('error', () => {
        // Lost: the next subscriber reconnects; pages reconnect their streams by themselves.
        this.client = null;
        client.end().catch(() => undefined);
      });
      await client.connect();
      await client.query(`LISTEN ${LIVE_CHANNELS.routing}`);
      await client.query(`LISTEN ${LIVE_CHANNELS.heals}`);
      if (this.closed) await client.end();
      else this.client = client;
    })().finally(() => (this.connecting = null));
    return this.connecting;
  }

  private polling = false;
  private async pollProgress(): Promise<void> {
    if (this.polling || !this.subscribers.size) return;
    this.polling = true;
    try {
      const running = await this.store.healRuns.running();
      const progress = await this.temporal.progress([...new Set(running.map((r) => r.toolId))]).catch(() => new Map());
      for (const [versionId, p] of progress) {
        const data = {
          versionId,
          step: p.step,
          status: p.status,
          attempt: p.attempt,
          maxAttempts: p.maxAttempts,
          message: p.message,
        };
        const key = JSON.stringify(data);
        if (this.lastProgress.get(versionId) !== key) {
          this.lastProgress.set(versionId, key);
          this.emit({ type: 'progress', data });
        }
      }
    } catch {
      // The database or Temporal is away for a moment: the next tick tries again.
    } finally {
      this.polling = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.subscribers.clear();
    await this.connecting?.catch(() => undefined);
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}
