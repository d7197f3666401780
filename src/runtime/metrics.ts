import { Counter, Histogram, Registry } from 'prom-client';
import { CALL_DURATION_BUCKETS, RUNTIME_METRICS } from '../shared/metric-names.js';

/** What the runtime's metrics read at scrape time instead of counting on the call path. */
export interface MirrorCounts {
  mirrored: number;
  dropped: number;
}

type ToolChildren = {
  ok: Counter.Internal;
  error: Counter.Internal;
  duration: Histogram.Internal<'tool'>;
};

/**
 * The tool runtime's Prometheus metrics (prom-client), opt-in: pass one to ToolRuntime.create
 * (`metrics`) and serve `registry.metrics()` where the program serves its own. Labels are the tool name
 * and bounded enums; an unknown tool name (caller input) is counted under tool="" so callers cannot
 * grow the label set. Each tool's label children are looked up once, so a call costs two increments
 * and one histogram observation.
 */
export class RuntimeMetrics {
  readonly registry: Registry;
  private readonly calls: Counter<'tool' | 'result'>;
  private readonly errors: Counter<'tool' | 'kind'>;
  private readonly duration: Histogram<'tool'>;
  private readonly routeLookups: Counter<'result'>;
  private readonly knownWrong: Counter<'tool' | 'action'>;
  private readonly wrongReported: Counter<'tool' | 'severity'>;
  private readonly byTool = new Map<string, ToolChildren>();
  private readonly mirrors = new Set<MirrorCounts>();
  private readonly hits: Counter.Internal;
  private readonly misses: Counter.Internal;

  constructor(options: { registry?: Registry } = {}) {
    this.registry = options.registry ?? new Registry();
    const registers = [this.registry];
    const m = RUNTIME_METRICS;
    this.calls = new Counter({ name: m.calls.name, help: m.calls.help, labelNames: ['tool', 'result'], registers });
    this.errors = new Counter({ name: m.errors.name, help: m.errors.help, labelNames: ['tool', 'kind'], registers });
    this.duration = new Histogram({
      name: m.duration.name,
      help: m.duration.help,
      labelNames: ['tool'],
      buckets: CALL_DURATION_BUCKETS,
      registers,
    });
    this.routeLookups = new Counter({
      name: m.routeLookups.name,
      help: m.routeLookups.help,
      labelNames: ['result'],
      registers,
    });
    this.hits = this.routeLookups.labels('hit');
    this.misses = this.routeLookups.labels('miss');
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

  private tool(tool: string): ToolChildren {
    let children = this.byTool.get(tool);
    if (!children) {
      children = {
        ok: this.calls.labels(tool, 'ok'),
        error: this.calls.labels(tool, 'error'),
        duration: this.duration.labels(tool),
      };
      this.byTool.set(tool, children);
    }
    return children;
  }

  /** A call the sandbox ran: its result and seconds. */
  called(tool: string, ok: boolean, seconds: number): void {
    const children = this.tool(tool);
    (ok ? children.ok : children.error).inc();
    children.duration.observe(seconds);
  }

  /** A failed or refused call, by its typed kind; tool "" when the name is not a known tool. */
  failed(tool: string, kind: string): void {
    this.errors.labels(tool, kind).inc();
  }

  routeLookup(hit: boolean): void {
    (hit ? this.hits : this.misses).inc();
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
