import type { ToolLanguage } from '../shared/language.js';
import pg from 'pg';
import type { Health } from '../shared/lineage-types.js';
import { runtimeRouting, type RouteEntry } from '../lineage/runtime-routing.js';

export type { RouteEntry } from '../lineage/runtime-routing.js';

export interface VersionInfo {
  id: string;
  name: string;
  health: Health;
  code: string;
  language: ToolLanguage;
  codeHash: string;
}

export const ROUTING_CHANNEL = 'dise_routing';

/**
 * Routes and version health, cached in memory and invalidated by PostgreSQL notifications
 * (LISTEN dise_routing, sent by triggers when a route moves or a health changes), with a periodic
 * full refresh as a safety net for missed notifications.
 */
export class RoutingCache {
  private readonly routes = new Map<string, RouteEntry | null>();
  private readonly versions = new Map<string, VersionInfo>();
  private listener: pg.Client | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /**
   * Bumped by every invalidation (per tool, and all at once): a read that started before one must
   * not store what it read, or a notification arriving mid-query would be lost.
   */
  private readonly stamps = new Map<string, number>();
  private allStamp = 0;
  /** The listener was lost: notifications may have been missed since. */
  private deaf = false;
  private closed = false;
  /** Told of every invalidation (a tool's name, or undefined for all): the canary mirror's cache follows it. */
  onInvalidate: ((toolName?: string) => void) | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly databaseUrl: string,
    private readonly refreshSeconds: number,
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  async start(): Promise<void> {
    await this.listen();
    this.refreshTimer = setInterval(() => {
      // Read again everything cached, in one query, rather than one query per tool on next use.
      const names = [...this.routes.keys()];
      this.invalidateAll();
      this.preload(names).catch((err: Error) => this.log(`routing refresh failed: ${err.message}`));
    }, this.refreshSeconds * 1000);
    this.refreshTimer.unref();
  }

  private async listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.databaseUrl });
    client.on('notification', (msg) => {
      if (msg.channel === ROUTING_CHANNEL && msg.payload) this.invalidateTool(msg.payload);
    });
    client.on('error', (err) => {
      this.log(`routing listener lost its connection (${err.message}); reconnecting`);
      this.scheduleReconnect();
    });
    client.on('end', () => this.scheduleReconnect());
    await client.connect();
    await client.query(`LISTEN ${ROUTING_CHANNEL}`);
    if (this.deaf) {
      // Whatever changed while we could not hear it must be read again.
      this.deaf = false;
      this.invalidateAll();
    }
    this.listener = client;
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return;
    this.listener = undefined;
    // Keep answering from the cache until the listener is back (during a database outage nothing can
    // change, and the cache is what keeps tools answering); the reconnect then drops it.
    this.deaf = true;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      if (this.closed) return;
      this.listen().catch((err: Error) => {
        this.log(`routing listener reconnect failed: ${err.message}`);
        this.scheduleReconnect();
      });
    }, 500);
    this.reconnectTimer.unref();
  }

  private stamp(name: string): string {
    return `${this.allStamp}:${this.stamps.get(name) ?? 0}`;
  }

  invalidateTool(name: string): void {
    this.stamps.set(name, (this.stamps.get(name) ?? 0) + 1);
    this.routes.delete(name);
    for (const [id, info] of this.versions) if (info.name === name) this.versions.delete(id);
    this.onInvalidate?.(name);
  }

  invalidateAll(): void {
    this.allStamp++;
    this.routes.clear();
    this.versions.clear();
    this.onInvalidate?.();
  }

  /** The routed version id of a tool, or null when it has no route. */
  async route(name: string): Promise<string | null> {
    return (await this.routeEntry(name))?.versionId ?? null;
  }

  /** The route of a tool with what is known about its version, or null when it has no route. */
  async routeEntry(name: string): Promise<RouteEntry | null> {
    const cached = this.routes.get(name);
    if (cached !== undefined) return cached;
    const stamp = this.stamp(name);
    const entry = await runtimeRouting.routeOf(this.pool, name);
    if (this.stamp(name) === stamp) this.routes.set(name, entry);
    return entry;
  }

  routeSync(name: string): string | null | undefined {
    const entry = this.routes.get(name);
    return entry === undefined ? undefined : (entry?.versionId ?? null);
  }

  routeEntrySync(name: string): RouteEntry | null | undefined {
    return this.routes.get(name);
  }

  versionSync(id: string): VersionInfo | undefined {
    return this.versions.get(id);
  }

  async version(id: string): Promise<VersionInfo | undefined> {
    const cached = this.versions.get(id);
    if (cached) return cached;
    const stamp = this.stamp(id.slice(0, id.indexOf('@')));
    const row = await runtimeRouting.version(this.pool, id);
    if (!row) return undefined;
    const info: VersionInfo = {
      id: row.tool_id,
      name: row.tool_name,
      health: row.health_status,
      code: row.code,
      language: row.language,
      codeHash: row.code_hash,
    };
    if (this.stamp(row.tool_name) === stamp) this.versions.set(id, info);
    return info;
  }

  /**
   * Reads the routes of `names` (every tool when omitted) and their routed versions in one query,
   * so a runtime serving many tools starts warm. Returns how many routes it cached.
   */
  async preload(names?: string[]): Promise<number> {
    const before = { all: this.allStamp, tools: new Map(this.stamps) };
    const fresh = (name: string) =>
      this.allStamp === before.all && (this.stamps.get(name) ?? 0) === (before.tools.get(name) ?? 0);
    const rows = await runtimeRouting.routedVersions(this.pool, names);
    let cached = 0;
    for (const row of rows) {
      if (!fresh(row.tool_name)) continue;
      this.routes.set(row.tool_name, {
        versionId: row.tool_id,
        knownWrong: row.known_wrong,
        alternativeId: row.alternative_id,
      });
      this.versions.set(row.tool_id, {
        id: row.tool_id,
        name: row.tool_name,
        health: row.health_status,
        code: row.code,
        language: row.language,
        codeHash: row.code_hash,
      });
      cached++;
    }
    return cached;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.refreshTimer);
    clearTimeout(this.reconnectTimer);
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      listener.removeAllListeners('end');
      await listener.end().catch(() => undefined);
    }
  }
}
