import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { LineageStore } from '../lineage/store.js';
import { HEALTH } from '../shared/lineage-types.js';
import { DASHBOARD_METRICS } from '../shared/metric-names.js';

/**
 * The dashboard's /metrics (prom-client): its own requests by route pattern (never the path, which
 * carries tool names and version ids), the lineage's state read from the database at scrape time,
 * and the process's (Node's default metrics). Nothing from a tool's inputs, outputs or the token.
 */
export class DashboardMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly duration: Histogram<'route'>;

  constructor(store: LineageStore) {
    const registers = [this.registry];
    const m = DASHBOARD_METRICS;
    collectDefaultMetrics({ register: this.registry, prefix: 'dise_dashboard_' });
    this.requests = new Counter({
      name: m.requests.name,
      help: m.requests.help,
      labelNames: ['route', 'method', 'status'],
      registers,
    });
    this.duration = new Histogram({
      name: m.requestDuration.name,
      help: m.requestDuration.help,
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    new Gauge({
      name: m.versions.name,
      help: m.versions.help,
      labelNames: ['health'],
      registers,
      async collect() {
        const { byHealth } = await store.views.healthCounts();
        for (const health of HEALTH) this.set({ health }, byHealth.get(health) ?? 0);
      },
    });
    new Gauge({
      name: m.healRuns.name,
      help: m.healRuns.help,
      labelNames: ['status'],
      registers,
      async collect() {
        this.reset();
        for (const [status, n] of await store.healRuns.countByStatus()) this.set({ status }, n);
      },
    });
  }

  /** Counts each request under its route pattern (`/versions/:id`), the event stream included. */
  readonly middleware: MiddlewareHandler = async (c, next) => {
    const started = performance.now();
    await next();
    const matched = routePath(c, -1);
    const route = !matched || matched === '*' || matched === '/*' ? 'unmatched' : matched;
    if (route === '/metrics') return;
    this.requests.labels(route, c.req.method, String(c.res.status)).inc();
    this.duration.labels(route).observe((performance.now() - started) / 1000);
  };

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
