import type { ToolSource } from '../shared/language.js';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { serve } from '@hono/node-server';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import { streamSSE, type SSEStreamingApi } from 'hono/streaming';
import type { DiseConfig } from '../config/schema.js';
import { LineageError } from '../lineage/errors.js';
import { strategyPreferences } from '../lineage/heal-runs.js';
import type { LineageStore } from '../lineage/store.js';
import { addRulesPack } from './rules-pack.js';
import { PACKAGE_ROOT } from '../infra/paths.js';
import type { TemporalSettings } from '../infra/temporal-connection.js';
import { LayoutCache } from './layout.js';
import { LiveHub } from './live.js';
import { DashboardMetrics } from './metrics.js';
import { ActionRefused, TemporalOperations } from './operations.js';
import {
  errorPage,
  healsPage,
  healthPage,
  lineagePage,
  rulesPage,
  toolsPage,
  versionPage,
  type PageLinks,
  type ToolRow,
} from './pages.js';

// From the package root, not beside this module: the CLI runs a bundle under .dise/cache/ (bin/dise.mjs),
// where nothing sits beside the module.
const STATIC_DIR = path.join(PACKAGE_ROOT, 'src', 'ui', 'static');
const STATIC_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export interface DashboardOptions {
  store: LineageStore;
  /** For LISTEN (a connection of its own). */
  databaseUrl: string;
  temporal: TemporalSettings | null;
  /** Temporal UI base URL for deep links, when known. */
  temporalUiUrl: string | null;
  taskQueue: string;
  config: DiseConfig;
  /** Bearer token of the mutating endpoints. */
  token: string;
  /** Where this installation's rule-signing key lives (default: the state folder's rules/). */
  rulesKeyDir?: string;
}

/** A random operator token, for when config.yaml names none. */
export function generateToken(): string {
  return randomBytes(24).toString('base64url');
}

function sameToken(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Mutations need the bearer token, and are refused unless they come from this dashboard's own
 * pages (Origin, Sec-Fetch-Site) as JSON, which a cross-site form cannot send.
 */
function guardAction(token: string): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const origin = c.req.header('origin');
    const site = c.req.header('sec-fetch-site');
    if ((origin && origin !== url.origin) || (site && site !== 'same-origin' && site !== 'none')) {
      return c.json({ error: 'cross-site request refused (CSRF check)' }, 403);
    }
    if (!(c.req.header('content-type') ?? '').toLowerCase().startsWith('application/json')) {
      return c.json({ error: 'actions take application/json' }, 415);
    }
    const auth = c.req.header('authorization') ?? '';
    const m = /^Bearer (\S+)$/.exec(auth);
    if (!m || !sameToken(m[1]!, token)) {
      c.header('WWW-Authenticate', 'Bearer realm="dise"');
      return c.json({ error: 'an operator token is required (Authorization: Bearer <token>)' }, 401);
    }
    await next();
  };
}

/** Every response: a strict content security policy (scripts and styles only from /static), no sniffing, no referrer. */
const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  c.header(
    'Content-Security-Policy',
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  );
  c.header('X-Content-Type-Options', 'nosniff');
  c.header('Referrer-Policy', 'no-referrer');
};

/** An unknown version is a 404, a refused action a 409; anything else a 500 (JSON under /api/, else a page). */
function errorResponse(err: Error, c: Context): Response {
  if (err instanceof LineageError) return c.html(errorPage(404, err.message), 404);
  if (err instanceof ActionRefused) return c.json({ error: err.message }, 409);
  if (c.req.path.startsWith('/api/')) return c.json({ error: err.message.split('\n')[0] }, 500);
  return c.html(errorPage(500, err.message.split('\n')[0]!), 500);
}

/** What the dashboard's routes read from and link to. */
interface DashboardDeps {
  store: LineageStore;
  temporal: TemporalOperations;
  live: LiveHub;
  links: PageLinks;
  /** How many recent calls an error rate is over (self_healing.thresholds.execution_window). */
  window: number;
  layouts: LayoutCache;
  /** The heal strategies' order settings (self_healing.regeneration), for the health page. */
  regeneration: DiseConfig['self_healing']['regeneration'];
}

/** The dashboard's routes: pages, the lineage layout as JSON, the event stream, guarded actions. */
export function createDashboardApp(options: DashboardOptions): {
  app: Hono;
  live: LiveHub;
  temporal: TemporalOperations;
} {
  const { store, config } = options;
  const temporal = new TemporalOperations(options.temporal, options.taskQueue, options.temporalUiUrl);
  const live = new LiveHub(options.databaseUrl, store, temporal);
  const links: PageLinks = { workflow: (id) => temporal.workflowLink(id), toolHeals: (t) => temporal.toolHealsLink(t) };
  const deps: DashboardDeps = {
    store,
    temporal,
    live,
    links,
    window: config.self_healing.thresholds.execution_window,
    layouts: new LayoutCache(),
    regeneration: config.self_healing.regeneration,
  };
  const app = new Hono();
  const metrics = new DashboardMetrics(store);

  app.use('*', metrics.middleware);
  app.use('*', securityHeaders);
  app.onError(errorResponse);
  app.notFound((c) => c.html(errorPage(404, `nothing at ${c.req.path}`), 404));

  app.get('/static/:file', (c) => {
    const file = c.req.param('file');
    const type = STATIC_TYPES[path.extname(file)];
    if (!type || file.includes('/') || file.startsWith('.')) return c.notFound();
    try {
      return c.body(readFileSync(path.join(STATIC_DIR, file)), 200, {
        'Content-Type': type,
        'Cache-Control': 'no-cache',
      });
    } catch {
      return c.notFound();
    }
  });

  // Prometheus' scrape: unauthenticated like every page (read-only, no inputs, outputs or token in it).
  app.get('/metrics', async (c) => c.body(await metrics.text(), 200, { 'Content-Type': metrics.registry.contentType }));

  addToolPages(app, deps);
  addVersionPage(app, deps);
  addSystemPages(app, deps);
  addEventStream(app, deps);
  addActions(app, deps, options.token);
  addRulesPack(app, store, options.rulesKeyDir);

  return { app, live, temporal };
}

/** The tools page, a tool's lineage page, and the lineage's layout as JSON for that page to draw. */
function addToolPages(app: Hono, { store, window, links, layouts }: DashboardDeps): void {
  app.get('/', async (c) => {
    const tools = await store.listTools();
    const routed = tools.flatMap((t) => (t.routedVersion ? [t.routedVersion] : []));
    const [rates, descriptions] = await Promise.all([
      store.activity.errorRates(routed, window),
      store.activity.descriptions(routed),
    ]);
    const rows: ToolRow[] = tools.map((t) => {
      const r = t.routedVersion ? rates.get(t.routedVersion) : undefined;
      return {
        ...t,
        description: t.routedVersion ? (descriptions.get(t.routedVersion) ?? null) : null,
        errorRate: r?.rate ?? null,
        calls: r?.calls ?? 0,
      };
    });
    return c.html(toolsPage(rows, window));
  });

  app.get('/tools/:name', async (c) => {
    const tool = c.req.param('name');
    const { routed } = await anyVersionOf(store, tool);
    return c.html(lineagePage(tool, routed, links));
  });

  app.get('/api/tools/:name/lineage', async (c) => {
    const tool = c.req.param('name');
    const { routed, any } = await anyVersionOf(store, tool);
    const t0 = performance.now();
    const { nodes, edges } = await store.views.picture(any);
    const t1 = performance.now();
    const layout = layouts.layout(tool, nodes, edges);
    c.header(
      'Server-Timing',
      `query;dur=${(t1 - t0).toFixed(1)}, layout;dur=${(performance.now() - t1).toFixed(1)};desc="${layout.cached ? 'reused' : 'fresh'}"`,
    );
    return c.json({ tool, routed, ...layout });
  });
}

/** A version of the tool, to draw its whole picture from (the routed one, else any). */
async function anyVersionOf(store: LineageStore, tool: string): Promise<{ routed: string | null; any: string }> {
  const routed = await store.routing.routeOf(tool);
  const any = routed ?? (await store.routing.newestRoutable(tool)) ?? (await store.resolve(tool).catch(() => null));
  if (!any) throw new LineageError('UNKNOWN_VERSION', `unknown tool ${tool}`, 'id', [tool]);
  return { routed, any };
}

/** A version's page: its lineage, its parent's code to diff against, rules, tests, calls, fitness and heals. */
function addVersionPage(app: Hono, { store, links }: DashboardDeps): void {
  app.get('/versions/:id', async (c) => {
    const l = await store.getLineage(c.req.param('id'));
    const parent =
      l.parentEdges.find((e) => e.type === 'direct' || e.type === 'merge' || e.type === 'fork')?.id ??
      l.regeneratedFrom;
    const [codes, inherited, tests, executions, fitness, heals] = await Promise.all([
      parent ? store.graph.codes([parent]) : Promise.resolve(new Map<string, ToolSource>()),
      store.rules.byIds(l.inheritedRules.filter((id) => !l.avoidanceRules.some((r) => r.ruleId === id))),
      store.activity.testsIntroducedBy(l.id),
      store.activity.executionSeries(l.id),
      store.activity.fitnessSeries(l.id),
      store.activity.healRuns(50, l.name),
    ]);
    const parentCode = parent && codes.has(parent) ? { id: parent, code: codes.get(parent)!.code } : null;
    return c.html(
      versionPage(
        {
          lineage: l,
          parentCode,
          inherited,
          tests,
          executions,
          fitness,
          heals: heals.filter((h) => h.versionId === l.id),
        },
        links,
      ),
    );
  });
}

/** The system's health, its heals and its avoidance rules. */
function addSystemPages(app: Hono, { store, temporal, links, regeneration }: DashboardDeps): void {
  app.get('/health', async (c) => {
    const [counts, recentFailures, healing, records, monitor] = await Promise.all([
      store.views.healthCounts(),
      store.views.recentFailures(10),
      store.healRuns.stats(),
      store.healRuns.strategyRecords(regeneration.survival_calls),
      temporal.monitorStatus(),
    ]);
    const strategies = { mode: regeneration.strategy_order, contexts: strategyPreferences(records) };
    return c.html(healthPage({ ...counts, recentFailures, healing, strategies, monitor }));
  });

  app.get('/heals', async (c) => {
    const tool = c.req.query('tool') || null;
    const [heals, tools] = await Promise.all([store.activity.healRuns(200, tool ?? undefined), store.listTools()]);
    return c.html(healsPage(heals, tool ? [tool] : tools.map((t) => t.name), links, tool));
  });

  app.get('/rules', async (c) => {
    const rules = await store.rules.list();
    return c.html(rulesPage(rules, await store.activity.ruleHolders(rules.map((r) => r.ruleId))));
  });
}

/** `/events`: every change in the lineage, as server-sent events, for the pages to refresh live. */
function addEventStream(app: Hono, { live }: DashboardDeps): void {
  app.get('/events', (c) => streamSSE(c, (stream) => streamChanges(stream, live)));
}

/** Writes each change the hub reports until the client goes away, with a keep-alive comment every 15 s of quiet. */
async function streamChanges(stream: SSEStreamingApi, live: LiveHub): Promise<void> {
  let id = 0;
  const queue: string[] = [];
  let wake: (() => void) | null = null;
  const unsubscribe = await live.subscribe((e) => {
    queue.push(JSON.stringify(e));
    wake?.();
  });
  stream.onAbort(() => {
    unsubscribe();
    wake?.();
  });
  await stream.writeSSE({ event: 'ready', data: '{}', id: String(id++) });
  while (!stream.aborted && !stream.closed) {
    if (!queue.length) {
      let keepAlive: NodeJS.Timeout | undefined;
      await new Promise<void>((r) => {
        wake = r;
        // unref: a stream still waiting here must not hold the process open once the server is closed (Ctrl-C).
        keepAlive = setTimeout(r, 15_000).unref();
      });
      clearTimeout(keepAlive);
      wake = null;
      if (!queue.length && !stream.aborted) await stream.write(': keep-alive\n\n');
      continue;
    }
    const data = queue.shift()!;
    await stream.writeSSE({ event: 'change', data, id: String(id++) });
  }
  unsubscribe();
}

/** The guarded actions: start, retry and cancel a heal, promote or abort a canary, pause or resume the monitor. */
function addActions(app: Hono, { store, temporal }: DashboardDeps, token: string): void {
  const guard = guardAction(token);
  const versionOf = async (c: Context) => store.resolve(c.req.param('id') ?? '');
  app.post('/api/heals', guard, async (c) => {
    const body = (await c.req.json().catch(() => ({}))) as { versionId?: unknown; reason?: unknown };
    if (typeof body.versionId !== 'string' || !body.versionId) return c.json({ error: 'versionId is required' }, 400);
    const versionId = await store.resolve(body.versionId);
    return c.json(
      await temporal.startHeal(versionId, typeof body.reason === 'string' ? body.reason : undefined, false),
      202,
    );
  });
  app.post('/api/heals/:id/retry', guard, async (c) =>
    c.json(await temporal.startHeal(await versionOf(c), undefined, true), 202),
  );
  app.post('/api/heals/:id/cancel', guard, async (c) =>
    c.json({ workflowId: await temporal.cancelHeal(await versionOf(c)), cancelRequested: true }, 202),
  );
  app.post('/api/canaries/:id/:action{promote|abort}', guard, async (c) => {
    const action = c.req.param('action') as 'promote' | 'abort';
    return c.json(
      {
        workflowId: await temporal.signalCanary(await versionOf(c), action),
        [action === 'promote' ? 'promoteRequested' : 'abortRequested']: true,
      },
      202,
    );
  });
  app.post('/api/reviews/:id/:action{approve|refuse}', guard, async (c) => {
    const action = c.req.param('action') as 'approve' | 'refuse';
    const versionId = await versionOf(c);
    const version = await store.graph.version(versionId);
    if (version?.health !== 'held')
      throw new ActionRefused(
        `${versionId} is ${String(version?.health ?? 'unknown').toUpperCase()}, not HELD for review`,
      );
    const body = (await c.req.json().catch(() => ({}))) as { note?: unknown };
    const note = typeof body.note === 'string' && body.note.trim() ? body.note.trim() : null;
    return c.json({ workflowId: await temporal.signalReview(versionId, action, note), decision: action }, 202);
  });
  app.post('/api/monitor/:action{pause|resume}', guard, async (c) => {
    const action = c.req.param('action') as 'pause' | 'resume';
    await temporal.signalMonitor(action);
    return c.json({ monitor: action === 'pause' ? 'paused' : 'resumed' }, 202);
  });
}

export interface RunningDashboard {
  url: string;
  token: string;
  close(): Promise<void>;
}

/** Serves the dashboard on host:port (port 0: any free one). */
export async function startDashboard(
  options: DashboardOptions & { host: string; port: number },
): Promise<RunningDashboard> {
  const { app, live, temporal } = createDashboardApp(options);
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, hostname: options.host, port: options.port }, () => resolve(s));
    s.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    token: options.token,
    async close() {
      await live.close();
      await temporal.close();
      await new Promise<void>((resolve) => {
        (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      });
    },
  };
}
