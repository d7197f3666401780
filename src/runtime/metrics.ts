import { Counter, Registry, type Metric } from 'prom-client';
import { CALL_DURATION_BUCKETS, RUNTIME_METRICS } from '../shared/metric-names.js';

/** What the runtime's metrics read at scrape time instead of counting on the call path. */
export interface MirrorCounts {
  mirrored: number;
  dropped: number;
}

/** A tool's calls as counted on the call path: plain numbers, turned into samples when scraped. */
interface ToolCounts {
  ok: number;
  error: number;
  seconds: number;
  /** Calls per bucket of CALL_DURATION_BUCKETS (not cumulative), the last one +Inf. */
  buckets: number[];
}

/**
 * The tool runtime's Prometheus metrics (prom-client), opt-in: pass one to ToolRuntime.create
 * (`metrics`) and serve `text()` where the program serves its own. Labels are the tool name and
 * bounded enums; an unknown tool name (caller input) is counted under tool="" so callers cannot grow
 * the label set. A call only adds to plain numbers (prom-client's labelled increments hash their labels
 * each time, a third of a shared-isolate call); the registry reads them when scraped.
 */
export class RuntimeMetrics {
  readonly registry: Registry;
  private readonly errors: Counter<'tool' | 'kind'>;
  private readonly knownWrong: Counter<'tool' | 'action'>;
  private readonly wrongReported: Counter<'tool' | 'severity'>;
  private readonly byTool = new Map<string, ToolCounts>();
  private readonly mirrors = new Set<MirrorCounts>();
  private hits = 0;
  private misses = 0;

  constructor(options: { registry?: Registry } = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    const m = RUNTIME_METRICS;
    const byTool = this.byTool;
    new Counter({
      name: m.calls.name,
      help: m.calls.help,
      labelNames: ['tool', 'result'],
      registers,
      collect() {
        this.reset();
        for (const [tool, c] of byTool) {
          if (c.ok) this.inc({ tool, result: 'ok' }, c.ok);
          if (c.error) this.inc({ tool, result: 'error' }, c.error);
        }
      },
    });
    this.registry.registerMetric(callDurationMetric(byTool) as unknown as Metric);
    this.errors = new Counter({ name: m.errors.name, help: m.errors.help, labelNames: ['tool', 'kind'], registers });
    const lookups = () => ({ hit: this.hits, miss: this.misses });
    new Counter({
      name: m.routeLookups.name,
      help: m.routeLookups.help,
      labelNames: ['result'],
      registers,
      collect() {
        this.reset();
        for (const [result, n] of Object.entries(lookups())) if (n) this.inc({ result }, n);
      },
    });
    this.knownWrong = new Counter({
      name: m.knownWrong.name,
      help: m.knownWrong.help,
      labelNames: ['tool', 'action'],
      registers,
    });
    this.wrongReported = new Counter({
      name: m.wrongReported.name,
      help: m.wrongReported.help,
      labelNames: ['tool', 'severity'],
      registers,
    });
    // The mirror counts its own work; these read it when scraped, adding nothing to a call.
    const mirrors = this.mirrors;
    const sum = (key: keyof MirrorCounts) => [...mirrors].reduce((n, c) => n + c[key], 0);
    new Counter({
      name: m.mirrored.name,
      help: m.mirrored.help,
      registers,
      collect() {
        this.reset();
        this.inc(sum('mirrored'));
      },
    });
    new Counter({
      name: m.mirrorDropped.name,
      help: m.mirrorDropped.help,
      registers,
      collect() {
        this.reset();
        this.inc(sum('dropped'));
      },
    });
  }

  /** Counts a runtime's canary mirror (its mirrored and dropped calls) at scrape time. */
  watchMirror(mirror: MirrorCounts): void {
    this.mirrors.add(mirror);
  }

  unwatchMirror(mirror: MirrorCounts): void {
    this.mirrors.delete(mirror);
  }

  /** A call the sandbox ran: its result and seconds. */
  called(tool: string, ok: boolean, seconds: number): void {
    let c = this.byTool.get(tool);
    if (!c) {
      c = { ok: 0, error: 0, seconds: 0, buckets: new Array<number>(CALL_DURATION_BUCKETS.length + 1).fill(0) };
      this.byTool.set(tool, c);
    }
    if (ok) c.ok++;
    else c.error++;
    c.seconds += seconds;
    let i = 0;
    while (i < CALL_DURATION_BUCKETS.length && seconds > CALL_DURATION_BUCKETS[i]!) i++;
    c.buckets[i]!++;
  }

  /** A failed or refused call, by its typed kind; tool "" when the name is not a known tool. */
  failed(tool: string, kind: string): void {
    this.errors.labels(tool, kind).inc();
  }

  routeLookup(hit: boolean): void {
    if (hit) this.hits++;
    else this.misses++;
  }

  knownWrongCall(tool: string, action: 'rerouted' | 'served' | 'refused'): void {
    this.knownWrong.labels(tool, action).inc();
  }

  wrongAnswerReported(tool: string, severity: string): void {
    this.wrongReported.labels(tool, severity).inc();
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/** dise_runtime_call_duration_seconds as a histogram family built from the per-tool bucket counts. */
function callDurationMetric(byTool: Map<string, ToolCounts>) {
  const spec = RUNTIME_METRICS.duration;
  const metric = {
    name: spec.name,
    help: spec.help,
    type: 'histogram',
    aggregator: 'sum',
    /** Registry.resetMetrics(): the counts are the runtime's since it started, as Prometheus expects. */
    reset() {},
    get() {
      const values: { labels: Record<string, string | number>; value: number; metricName: string }[] = [];
      for (const [tool, c] of byTool) {
        let cumulative = 0;
        c.buckets.forEach((n, i) => {
          cumulative += n;
          const le = i < CALL_DURATION_BUCKETS.length ? CALL_DURATION_BUCKETS[i]! : '+Inf';
          values.push({ labels: { tool, le }, value: cumulative, metricName: `${spec.name}_bucket` });
        });
        values.push({ labels: { tool }, value: c.seconds, metricName: `${spec.name}_sum` });
        values.push({ labels: { tool }, value: cumulative, metricName: `${spec.name}_count` });
      }
      return Promise.resolve({ ...metric, values });
    },
  };
  return metric;
}
