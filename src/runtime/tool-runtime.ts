import os from 'node:os';
import { context, propagation, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { defaultConfig, type DiseConfig } from '../config/schema.js';
import { insertFailures } from '../lineage/failures.js';
import { pgRunner } from '../lineage/sql-runner.js';
import { ToolExecutionError } from '../sandbox/errors.js';
import { pythonToolsReady, warmPythonTools } from '../sandbox/python.js';
import { Sandbox } from '../sandbox/sandbox.js';
import { looksLikeVersionId, parseVersionId } from '../shared/ids.js';
import { ROUTABLE_HEALTH, SEVERITIES, type Health, type JsonValue, type Severity } from '../shared/lineage-types.js';
import type { FailureReport } from '../shared/messages.js';
import { ToolPrunedError, ToolUnavailableError, UnknownToolError } from './errors.js';
import { CanaryMirror } from './canary-mirror.js';
import { crossesThreshold, ExecutionRecorder, type ThresholdCrossing } from './execution-recorder.js';
import { InputSampler } from './input-sampler.js';
import type { RuntimeMetrics } from './metrics.js';
import type { MonitorSignaler } from './monitor-signaler.js';
import { RoutingCache, type VersionInfo } from './routing-cache.js';

export interface ToolRuntimeOptions {
  databaseUrl: string;
  config?: DiseConfig;
  /** Where threshold crossings and critical failures are reported; none means they are only stored. */
  signaler?: MonitorSignaler;
  /** Who this runtime is, in reports (default runtime:<host>:<pid>). */
  source?: string;
  log?: (line: string) => void;
  /**
   * Listen for routing changes (LISTEN/NOTIFY) and refresh the cache periodically (default true).
   * A one-shot caller such as `dise call` turns it off: it reads routes once and is gone.
   */
  listen?: boolean;
  /** Decides which calls are mirrored to a canary (default: at random, the canary's fraction). */
  mirrorSample?: (fraction: number) => boolean;
  /** Prometheus metrics of the calls (opt-in; serve `metrics.text()` yourself). None: nothing is counted. */
  metrics?: RuntimeMetrics;
  /**
   * OpenTelemetry spans of calls, reports and the signals they send (opt-in, e.g.
   * `trace.getTracer('dise-heal')` of your provider). A report carries its trace to the monitor, and
   * the heal it starts joins it. None: no span is made.
   */
  tracer?: Tracer;
}

export interface WrongResultReport {
  input: JsonValue;
  observed: JsonValue;
  expected?: JsonValue;
  description?: string;
  severity?: Severity;
}

/** Sandbox errors that are attacks on the host, not bugs: each is critical on its own. */
const CRITICAL_KINDS = new Set(['host_access']);

function preview(value: JsonValue | undefined): string {
  const text = JSON.stringify(value) ?? 'undefined';
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * The runtime guard tool callers go through: resolves a tool name to its routed version (cached,
 * refreshed by database notifications), refuses pruned, failed or tainted versions, runs the code in
 * the sandbox, keeps a bounded sample of successful inputs per tool (the differential corpus),
 * records every execution in batches and reports failures to the health monitor —
 * once per threshold crossing, and at once for critical failures.
 */
export class ToolRuntime {
  readonly sandbox: Sandbox;
  readonly routing: RoutingCache;
  readonly recorder: ExecutionRecorder;
  /** Successful inputs kept per tool for the differential check; null when sampling is off. */
  readonly sampler: InputSampler | null;
  /** Shadow traffic to running canaries: the candidate runs after the caller is answered. */
  readonly mirror: CanaryMirror;
  /** The candidates' own sandbox, so their isolates never evict (or slow) the stable versions'. */
  private readonly shadowSandbox: Sandbox;
  private readonly pool: pg.Pool;
  private readonly config: DiseConfig;
  private readonly source: string;
  private readonly pendingSignals = new Set<Promise<void>>();
  private readonly log: (line: string) => void;
  /** Reports not yet delivered (Temporal unreachable); retried in the background and on close. */
  private undelivered: FailureReport[] = [];
  private retryTimer: NodeJS.Timeout | undefined;
  signalsSent = 0;
  private readonly metrics: RuntimeMetrics | undefined;
  private readonly tracer: Tracer | undefined;
  /** The trace of each version's last failed call: a threshold crossing found later reports under it. */
  private readonly failureTraces = new Map<string, Context>();

  private constructor(private readonly options: ToolRuntimeOptions) {
    this.metrics = options.metrics;
    this.tracer = options.tracer;
    this.config = options.config ?? defaultConfig();
    this.log = options.log ?? (() => undefined);
    this.source = options.source ?? `runtime:${os.hostname()}:${process.pid}`;
    this.pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4 });
    this.pool.on('error', (err) => this.log(`database connection error: ${err.message}`));
    this.sandbox = new Sandbox(this.config.sandbox, { isolation: this.config.sandbox.isolation });
    this.routing = new RoutingCache(
      this.pool,
      options.databaseUrl,
      this.config.runtime.route_refresh_seconds,
      this.log,
    );
    this.recorder = new ExecutionRecorder(this.pool, {
      batchSize: this.config.runtime.batch_size,
      flushIntervalMs: this.config.runtime.flush_interval_ms,
      failureCountTrigger: this.config.self_healing.thresholds.failure_count_trigger,
      onCrossing: (c) => this.onCrossing(c),
      log: this.log,
    });
    this.shadowSandbox = new Sandbox(this.config.sandbox, { isolation: this.config.sandbox.isolation });
    this.mirror = new CanaryMirror(this.pool, this.shadowSandbox, pgRunner(this.pool), {
      queueSize: this.config.deployment.canary.queue_size,
      flushIntervalMs: this.config.runtime.flush_interval_ms,
      batchSize: this.config.runtime.batch_size,
      source: this.source,
      log: this.log,
      sample: options.mirrorSample,
    });
    this.routing.onInvalidate = (name) => this.mirror.invalidate(name);
    this.metrics?.watchMirror(this.mirror);
    const sampling = this.config.runtime.input_sampling;
    this.sampler =
      sampling.enabled && sampling.per_tool > 0
        ? new InputSampler(this.pool, {
            perTool: sampling.per_tool,
            excludeTools: sampling.exclude_tools,
            flushIntervalMs: this.config.runtime.flush_interval_ms,
            log: this.log,
          })
        : null;
  }

  /** Connects to the database and starts listening for routing changes. */
  static async create(options: ToolRuntimeOptions): Promise<ToolRuntime> {
    const runtime = new ToolRuntime(options);
    try {
      if (options.listen !== false) await runtime.routing.start();
    } catch (err) {
      await runtime.close();
      throw err;
    }
    return runtime;
  }

  /** Executions recorded in memory and not yet written. */
  get pendingExecutions(): number {
    return this.recorder.pending;
  }

  /**
   * Warms the routing cache: the routes of `names` (every tool when omitted) and their versions, in
   * one query. Optional; without it each tool is read on its first call.
   */
  async preload(names?: string[]): Promise<number> {
    const [routes] = await Promise.all([this.routing.preload(names), this.mirror.preload(names)]);
    return routes;
  }

  /**
   * Resolves a tool name (its routed version) or a version id, refusing versions callers must not
   * use. A tool whose routed version is pruned or known wrong is answered by the healthy
   * alternative named on its route (the seed's find_healthy_alternative); without one, a known-wrong
   * version is refused with ToolPrunedError or served with a warning (runtime.known_wrong_policy).
   */
  async resolve(nameOrId: string): Promise<ResolvedVersion> {
    const metrics = this.metrics;
    if (looksLikeVersionId(nameOrId)) {
      const versionId = parseVersionId(nameOrId).id;
      const info = this.routing.versionSync(versionId) ?? (await this.routing.version(versionId));
      if (!info) {
        metrics?.failed('', 'unknown_tool');
        throw new UnknownToolError(nameOrId);
      }
      if (!ROUTABLE_HEALTH.includes(info.health)) {
        metrics?.failed(info.name, 'unavailable');
        const routed = await this.routing.route(info.name);
        throw new ToolUnavailableError(info.id, info.health, routed && routed !== info.id ? routed : null);
      }
      return info;
    }
    let route = this.routing.routeEntrySync(nameOrId);
    metrics?.routeLookup(route != null);
    route ??= await this.routing.routeEntry(nameOrId);
    const info = route && (this.routing.versionSync(route.versionId) ?? (await this.routing.version(route.versionId)));
    if (!route || !info) {
      // The name is the caller's: counted under tool="" so callers cannot grow the label set.
      metrics?.failed('', 'unknown_tool');
      throw new UnknownToolError(nameOrId);
    }
    const routable = ROUTABLE_HEALTH.includes(info.health);
    if (routable && !route.knownWrong) return info;
    if (route.alternativeId) {
      const alternative =
        this.routing.versionSync(route.alternativeId) ?? (await this.routing.version(route.alternativeId));
      if (alternative && ROUTABLE_HEALTH.includes(alternative.health)) {
        if (route.knownWrong) metrics?.knownWrongCall(info.name, 'rerouted');
        return { ...alternative, alternativeFor: info.id };
      }
    }
    if (!routable) {
      metrics?.failed(info.name, 'pruned');
      throw new ToolPrunedError(nameOrId, info.id, info.health, describeHealth(info.health));
    }
    if (this.config.runtime.known_wrong_policy === 'refuse') {
      metrics?.failed(info.name, 'pruned');
      metrics?.knownWrongCall(info.name, 'refused');
      throw new ToolPrunedError(nameOrId, info.id, info.health, `is known to answer wrongly (${route.knownWrong})`);
    }
    metrics?.knownWrongCall(info.name, 'served');
    return {
      ...info,
      warning: `${info.id} is known to answer wrongly and no healthy alternative exists: ${route.knownWrong}`,
    };
  }

  /** Calls a tool through the guard; resolves with its output or rejects with a typed error. */
  async call(nameOrId: string, input: JsonValue): Promise<JsonValue> {
    return (await this.callDetailed(nameOrId, input)).output;
  }

  /** Like call(), also telling which version answered and how long it took. */
  callDetailed(nameOrId: string, input: JsonValue): Promise<CallResult> {
    if (!this.tracer) return this.run(nameOrId, input);
    // The span names the tool and the version, never the input or the output.
    return this.tracer.startActiveSpan('dise.tool.call', { attributes: { 'dise.tool': nameOrId } }, async (span) => {
      try {
        const result = await this.run(nameOrId, input);
        span.setAttribute('dise.version', result.versionId);
        return result;
      } catch (err) {
        const version = (err as ToolExecutionError).version?.id;
        if (version) {
          span.setAttribute('dise.version', version);
          if (this.failureTraces.size > 10_000) this.failureTraces.clear();
          this.failureTraces.set(version, context.active());
        }
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).name });
        throw err;
      } finally {
        span.end();
      }
    });
  }

  private async run(nameOrId: string, input: JsonValue): Promise<CallResult> {
    const info = await this.resolve(nameOrId);
    let inputJson: string | undefined;
    try {
      inputJson = JSON.stringify(input);
    } catch {
      inputJson = undefined;
    }
    if (inputJson === undefined) {
      this.metrics?.failed(info.name, 'invalid_input');
      throw new ToolExecutionError('invalid_input', 'input is not a JSON value');
    }
    // The interpreter loads once per process; its cold start is waited for off the call's clock. A call
    // needs only the one that runs tools (the analysis interpreter loads when something is judged).
    if (info.language === 'python' && !pythonToolsReady()) await warmPythonTools();
    const started = performance.now();
    try {
      const outputJson = this.sandbox.runJson(info.codeHash, info.code, inputJson, info.language);
      const output = parseOutput(outputJson);
      const durationMs = performance.now() - started;
      this.metrics?.called(info.name, true, durationMs / 1000);
      this.sampler?.offer(info.name, inputJson);
      this.mirror.offer(info.name, inputJson, info.id, true, outputJson, null, durationMs);
      // A known-wrong answer served on purpose is recorded as a warning: ok, with its reason.
      const warning = info.warning ?? null;
      const full = this.recorder.record({
        versionId: info.id,
        ok: true,
        errorType: warning ? KNOWN_WRONG_WARNING : null,
        errorMessage: warning,
        durationMs,
        inputJson,
      });
      if (full) await full;
      return {
        output,
        versionId: info.id,
        health: info.health,
        durationMs,
        ...(info.alternativeFor ? { alternativeFor: info.alternativeFor } : {}),
        ...(warning ? { warning } : {}),
      };
    } catch (err) {
      const e = err instanceof ToolExecutionError ? err : new ToolExecutionError('thrown', String(err));
      e.version = { id: info.id, health: info.health };
      const durationMs = performance.now() - started;
      if (this.metrics) {
        this.metrics.called(info.name, false, durationMs / 1000);
        this.metrics.failed(info.name, e.kind);
      }
      this.mirror.offer(info.name, inputJson, info.id, false, null, e.errorType, durationMs);
      const full = this.recorder.record({
        versionId: info.id,
        ok: false,
        errorType: e.errorType,
        errorMessage: e.message,
        durationMs,
        inputJson,
      });
      if (full) await full;
      if (CRITICAL_KINDS.has(e.kind)) {
        const failureId = await this.storeFailure(info.id, {
          failureType: 'security_vulnerability',
          description: e.message,
          severity: 'critical',
          detectionMethod: 'runtime',
          stackTrace: e.toolStack,
          evidence: { input: JSON.parse(inputJson) as JsonValue, errorType: e.errorType },
        });
        void this.send({
          versionId: info.id,
          toolName: info.name,
          kind: 'critical',
          failureCount: failureId.failureCount,
          severity: 'critical',
          failureType: 'security_vulnerability',
          description: e.message,
          failureId: failureId.id,
          reportedAt: new Date().toISOString(),
          source: this.source,
        });
      }
      throw e;
    }
  }

  /**
   * Records a wrong result observed outside the runtime (e.g. the email validator's "Accepted 'user@@domain.com'").
   * Counts as a failure of the version; a critical one is reported to the monitor at once.
   */
  async report(
    versionInput: string,
    wrong: WrongResultReport,
  ): Promise<{ failureId: number; failureCount: number; signalled: boolean }> {
    if (!this.tracer) return this.storeReport(versionInput, wrong);
    return this.tracer.startActiveSpan('dise.report', { attributes: { 'dise.version': versionInput } }, (span) =>
      this.storeReport(versionInput, wrong).finally(() => span.end()),
    );
  }

  private async storeReport(
    versionInput: string,
    wrong: WrongResultReport,
  ): Promise<{ failureId: number; failureCount: number; signalled: boolean }> {
    const versionId = parseVersionId(versionInput).id;
    const severity = wrong.severity ?? 'high';
    if (!SEVERITIES.includes(severity))
      throw new Error(`severity: "${severity}" is not one of ${SEVERITIES.join(', ')}`);
    const info = await this.routing.version(versionId);
    if (!info) throw new UnknownToolError(versionInput);
    const description =
      wrong.description ??
      `wrong result for input ${preview(wrong.input)}: returned ${preview(wrong.observed)}` +
        (wrong.expected !== undefined ? `, expected ${preview(wrong.expected)}` : '');
    const stored = await this.storeFailure(versionId, {
      failureType: 'wrong_output',
      description,
      severity,
      detectionMethod: 'report',
      stackTrace: null,
      evidence: {
        input: wrong.input,
        observed: wrong.observed,
        ...(wrong.expected !== undefined ? { expected: wrong.expected } : {}),
      },
    });
    this.metrics?.wrongAnswerReported(info.name, severity);
    const trigger = this.config.self_healing.thresholds.failure_count_trigger;
    const crossed = crossesThreshold(stored.failureCount - 1, stored.failureCount, trigger);
    const signalled = severity === 'critical' || crossed;
    if (signalled) {
      void this.send({
        versionId,
        toolName: info.name,
        kind: severity === 'critical' ? 'critical' : 'threshold',
        failureCount: stored.failureCount,
        severity,
        failureType: 'wrong_output',
        description,
        failureId: stored.id,
        reportedAt: new Date().toISOString(),
        source: this.source,
      });
    }
    return { failureId: stored.id, failureCount: stored.failureCount, signalled };
  }

  /** Inserts a failure row and bumps failure_count atomically; returns the new count. */
  private async storeFailure(
    versionId: string,
    f: {
      failureType: string;
      description: string;
      severity: Severity;
      detectionMethod: string;
      stackTrace: string | null;
      evidence: JsonValue;
    },
  ): Promise<{ id: number; failureCount: number }> {
    const { ids, failureCount } = await insertFailures(pgRunner(this.pool), versionId, [f]);
    return { id: ids[0]!, failureCount };
  }

  private onCrossing(c: ThresholdCrossing): void {
    // Found when the batch was written, after the calls: reported under the last failed call's trace.
    const traced = this.failureTraces.get(c.versionId);
    if (traced) {
      this.failureTraces.delete(c.versionId);
      context.with(traced, () => this.onCrossing(c));
      return;
    }
    void this.send({
      versionId: c.versionId,
      toolName: c.toolName,
      kind: 'threshold',
      failureCount: c.failureCount,
      severity: 'high',
      failureType: c.errorType ?? 'runtime_errors',
      description: `${c.failureCount} failed calls (threshold ${this.config.self_healing.thresholds.failure_count_trigger})${c.errorMessage ? `; last: ${c.errorMessage}` : ''}`,
      reportedAt: new Date().toISOString(),
      source: this.source,
    });
  }

  private send(report: FailureReport): Promise<void> | undefined {
    const signaler = this.options.signaler;
    if (!signaler) return undefined;
    if (this.tracer && !report.traceparent) {
      // The report's span parents the signal (its client span) and, through the traceparent it
      // carries, the heal the monitor starts for it.
      const span = this.tracer.startSpan('dise.failure_report', {
        attributes: { 'dise.version': report.versionId, 'dise.report.kind': report.kind },
      });
      const spanContext = trace.setSpan(context.active(), span);
      const carrier: Record<string, string> = {};
      propagation.inject(spanContext, carrier);
      const sent = context.with(spanContext, () => this.send({ ...report, traceparent: carrier.traceparent }));
      void sent?.finally(() => span.end());
      return sent;
    }
    const p = signaler
      .failureReported(report)
      .then(() => {
        this.signalsSent++;
      })
      .catch((err: Error) => {
        this.log(`could not signal the health monitor (${err.message}); will retry`);
        this.undelivered.push(report);
        this.scheduleRetry();
      })
      .finally(() => this.pendingSignals.delete(p));
    this.pendingSignals.add(p);
    return p;
  }

  private scheduleRetry(): void {
    if (this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      const retry = this.undelivered.splice(0);
      retry.forEach((r) => this.send(r));
    }, 1000);
    this.retryTimer.unref();
  }

  /** Writes buffered executions and waits for signals in flight. */
  async flush(): Promise<void> {
    await this.recorder.flushAll();
    await this.sampler?.flush();
    await this.mirror.flushAll();
    while (this.pendingSignals.size) await Promise.allSettled([...this.pendingSignals]);
  }

  /** Clean stop: flushes every execution and report, then releases the sandbox and connections. */
  async close(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.recorder.close();
        break;
      } catch (err) {
        if (attempt >= 20) {
          this.log(`giving up on ${this.recorder.pending} unrecorded execution(s): ${(err as Error).message}`);
          break;
        }
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 2000)));
      }
    }
    await this.sampler
      ?.close()
      .catch((err: Error) => this.log(`lost ${this.sampler?.pendingSlots ?? 0} sampled input(s): ${err.message}`));
    for (let attempt = 0; ; attempt++) {
      try {
        await this.mirror.close();
        break;
      } catch (err) {
        if (attempt >= 20) {
          this.log(`giving up on ${this.mirror.pending} unrecorded canary comparison(s): ${(err as Error).message}`);
          break;
        }
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** attempt, 2000)));
      }
    }
    while (this.pendingSignals.size) await Promise.allSettled([...this.pendingSignals]);
    if (this.undelivered.length && this.options.signaler) {
      clearTimeout(this.retryTimer);
      const retry = this.undelivered.splice(0);
      for (const r of retry)
        await this.options.signaler
          .failureReported(r)
          .catch((err: Error) => this.log(`lost report for ${r.versionId}: ${err.message}`));
    }
    this.metrics?.unwatchMirror(this.mirror);
    await this.routing.close();
    this.sandbox.close();
    this.shadowSandbox.close();
    await this.pool.end();
  }
}

/** The sandbox serialises with built-ins the tool cannot touch; a parse failure is still typed. */
function parseOutput(json: string): JsonValue {
  try {
    return JSON.parse(json) as JsonValue;
  } catch (err) {
    throw new ToolExecutionError('non_json_result', `result is not JSON text: ${(err as Error).message}`);
  }
}

/** The error type recorded with an answer served from a version known wrong (ok, but a warning). */
export const KNOWN_WRONG_WARNING = 'known_wrong';

/** A version the runtime will run: the routed one, or the alternative answering for it. */
export type ResolvedVersion = VersionInfo & {
  /** The known-wrong or pruned version this alternative answers for. */
  alternativeFor?: string;
  /** Set when a version known wrong is served anyway (runtime.known_wrong_policy: serve_with_warning). */
  warning?: string;
};

export interface CallResult {
  output: JsonValue;
  /** The version that answered (the alternative, when one answered for a known-wrong version). */
  versionId: string;
  /** Its health when it answered. */
  health: Health;
  durationMs: number;
  alternativeFor?: string;
  warning?: string;
}

function describeHealth(health: string): string {
  return health === 'pruned'
    ? 'has been pruned due to a critical bug'
    : health === 'failed'
      ? 'has known failures'
      : health === 'degraded'
        ? 'is tainted by a pruned ancestor'
        : `is not routable (${health})`;
}
