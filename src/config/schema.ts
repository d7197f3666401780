import { z } from 'zod';
import { REGENERATION_STRATEGIES, STRATEGY_ORDER_MODES } from '../shared/heal-types.js';

/**
 * config.yaml: the `self_healing` and `lineage_tracking` sections, plus `llm`, `sandbox` and
 * `runtime`. Every key has its documented default; unknown keys are errors (strict objects), so a typo
 * never silently falls back to a default.
 */
// A missing section means "all defaults": prefault feeds {} through the section's own defaults.
const section = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape).prefault({} as never);

export const configSchema = z.strictObject({
  self_healing: section({
    enabled: z.boolean().default(true),
    detection: section({
      test_based: z.boolean().default(true),
      runtime_monitoring: z.boolean().default(true),
      static_analysis: z.boolean().default(true),
      /** Run every new version beside its parent(s) on a corpus at registration and in heals. */
      differential: z.boolean().default(true),
    }),
    /** The differential check's corpus (see detection.differential). */
    differential: section({
      /** Most inputs a version and its parent run on (suite + recorded + generated). */
      corpus_size: z.int().min(1).max(100_000).default(1000),
      /** Of those, at most this many generated from the suite and recorded inputs. */
      generated_inputs: z.int().min(0).max(100_000).default(900),
      /** The generator's seed; null: derived from the version id (recorded with every result). */
      seed: z
        .int()
        .min(0)
        .max(2 ** 31 - 1)
        .nullable()
        .default(null),
      /** Differing inputs shrunk to their smallest form and stored per check. */
      max_differences: z.int().min(1).max(1000).default(20),
      /**
       * Most milliseconds one check spends running inputs (shrinking included), whatever the tool
       * does with them: inputs left when it is spent are not run, and the report says how many.
       */
      time_budget_ms: z.int().min(100).max(600_000).default(4_000),
    }),
    thresholds: section({
      /** Trigger healing after this many failures of a version. */
      failure_count_trigger: z.int().min(1).max(1_000_000).default(3),
      /** Error rate over the execution window that triggers investigation. */
      error_rate_threshold: z.number().gt(0).lt(1).default(0.05),
      /** Fractional fitness drop against the version's history. */
      performance_degradation: z.number().gt(0).lt(1).default(0.3),
      /** How many recent executions the error rate is computed over (100 by default). */
      execution_window: z.int().min(10).max(100_000).default(100),
    }),
    pruning: section({
      auto_prune_critical: z.boolean().default(true),
      keep_pruned_history: z.boolean().default(true),
      taint_descendants: z.boolean().default(true),
    }),
    regeneration: section({
      auto_regenerate: z.boolean().default(true),
      max_regeneration_attempts: z.int().min(1).max(10).default(3),
      require_test_validation: z.boolean().default(true),
      /**
       * The strategies a heal tries, in order; leave one out to switch it off. revert: undo the
       * culprit's change on top of the failed version (offline, keeps later features); llm: the
       * LLM rewrites the failed version without the culprit's mistake (needs a key); rollback: the
       * healthy ancestor's code as a new patch (the last resort).
       */
      strategies: z
        .array(z.enum(REGENERATION_STRATEGIES))
        .min(1)
        .refine((s) => new Set(s).size === s.length, { message: 'each strategy at most once' })
        .default(['revert', 'llm', 'rollback']),
      /**
       * fixed: try `strategies` in the configured order. learned: order them per failure context
       * (failure type, culprit's mutation type, language, whether the failed version is the culprit)
       * by Thompson sampling on what each strategy achieved in earlier heals (`dise strategies`).
       * fixed by default: a heal's order stays predictable until an operator opts in.
       */
      strategy_order: z.enum(STRATEGY_ORDER_MODES).default('fixed'),
      /** learned order: the probability that a strategy other than the best draw goes first (no strategy is starved). */
      exploration_floor: z.number().min(0).max(1).default(0.1),
      /** learned order: a promoted candidate counts as a success once it served this many calls without a new failure (or its canary promoted it). */
      survival_calls: z.int().min(0).max(100_000).default(20),
    }),
    propagation: section({
      default_scope: z.enum(['descendants', 'all_similar', 'global']).default('descendants'),
      critical_failures_global: z.boolean().default(true),
      /** pg_trgm similarity (0..1) of description + code above which tools count as similar. */
      similarity_threshold: z.number().min(0).max(1).default(0.3),
    }),
    monitoring: section({
      health_check_interval_seconds: z.int().min(1).max(86_400).default(300),
      continuous_monitoring: z.boolean().default(true),
    }),
  }),
  lineage_tracking: section({
    enabled: z.boolean().default(true),
    storage_path: z.string().min(1).default('lineage/'),
    max_history_depth: z.int().min(1).max(100_000).default(100),
    compress_old_lineage: z.boolean().default(true),
  }),
  /**
   * Safe deployment. direct: a newly routable version takes traffic at once (registration routes the
   * newest passing version, a heal routes its result). shadow: it first runs as a CANARY beside the
   * stable version (callers answered by the stable one), judged statistically, then promoted or refused.
   */
  deployment: section({
    mode: z.enum(['direct', 'shadow']).default('direct'),
    /** Healed versions under mode shadow: shadow (the same canary) or direct (routed at once). */
    heal_mode: z.enum(['shadow', 'direct']).default('shadow'),
    canary: section({
      /** Fraction of calls also run on the candidate, off the caller's path (0..1]. */
      mirror_fraction: z.number().gt(0).max(1).default(0.2),
      /** Mirrored calls the judge needs before it decides anything but a refusal. */
      min_calls: z.int().min(1).max(10_000_000).default(200),
      /** Longest a canary runs; then on_timeout is applied (and recorded). */
      max_duration_seconds: z
        .int()
        .min(1)
        .max(30 * 86_400)
        .default(3600),
      /** How often the judge looks at the comparisons. */
      check_interval_seconds: z.int().min(1).max(86_400).default(30),
      /** What happens at max_duration when the judge still lacks data. */
      on_timeout: z.enum(['promote', 'refuse']).default('refuse'),
      /** Largest share of mirrored calls that may disagree outside the accepted differences. */
      max_disagreement_rate: z.number().min(0).lt(1).default(0.01),
      /** Significance level of the error-rate (Fisher) and latency (Mann-Whitney) tests. */
      significance: z.number().gt(0).lt(1).default(0.01),
      /** A significantly slower candidate is refused only when its median is this much slower. */
      latency_tolerance: z.number().min(0).max(100).default(0.25),
      /** …and slower by at least this many milliseconds (microsecond medians are mostly timer noise). */
      latency_floor_ms: z.number().min(0).max(60_000).default(1),
      /** Mirrored calls waiting to run per runtime; more are dropped (never delaying callers). */
      queue_size: z.int().min(1).max(1_000_000).default(1000),
    }),
    /**
     * What holds a `feature_add` whose differences from its parent neither the LLM reviewer nor peers
     * decided: none (registered and routed as listed) or hold (HELD, unrouted, until `dise review`).
     */
    review: z.enum(['none', 'hold']).default('none'),
    /** Judges of a feature_add's listed differences beyond its parent (docs/feature-review.md). */
    feature_review: section({
      /** Ask the LLM (when one is configured) whether each difference is inside the mutation's intent. */
      reviewer: z.boolean().default(true),
      /** Longest the reviewer may take; past it the version is held (FAILED, with the reason). */
      reviewer_timeout_seconds: z.int().min(1).max(600).default(60),
      /** Ask healthy routed tools of the same category and language to answer the differing inputs. */
      peers: z.boolean().default(true),
      /** Peers that must side with the parent (and none with the new version) to hold a difference. */
      min_peers: z.int().min(1).max(100).default(1),
      /** Most peers asked. */
      max_peers: z.int().min(1).max(100).default(5),
    }),
  }),
  /** Connection settings: DATABASE_URL and TEMPORAL_* environment variables override these. */
  database: section({
    /** PostgreSQL URL; none means the embedded PostgreSQL under .dise/ (or the running `dise dev`'s). */
    url: z.string().min(1).nullable().default(null),
  }),
  temporal: section({
    /** Frontend host:port; none means the dev server of `dise dev`. */
    address: z.string().min(1).nullable().default(null),
    namespace: z.string().min(1).default('default'),
    /** Temporal Cloud API key (implies TLS). Prefer TEMPORAL_API_KEY over writing it here. */
    api_key: z.string().min(1).nullable().default(null),
    tls: z.boolean().default(false),
    tls_cert_path: z.string().min(1).nullable().default(null),
    tls_key_path: z.string().min(1).nullable().default(null),
    tls_ca_path: z.string().min(1).nullable().default(null),
    tls_server_name: z.string().min(1).nullable().default(null),
  }),
  llm: section({
    model: z.string().min(1).default('gpt-4o-mini'),
    /** OpenAI-compatible endpoint; OPENAI_BASE_URL overrides it. */
    base_url: z.url().nullable().default(null),
    timeout_seconds: z.number().gt(0).max(600).default(60),
    temperature: z.number().min(0).max(2).default(0.2),
  }),
  sandbox: section({
    /** Per-call time limit of tool code. */
    timeout_ms: z.int().min(1).max(60_000).default(1000),
    /** Memory limit of each tool's isolate (isolated-vm needs at least 8 MB). */
    memory_limit_mb: z.int().min(8).max(4096).default(64),
    /** Largest JSON output a tool may return. */
    max_output_bytes: z
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024),
    /**
     * How the runtime keeps calls apart: `per_call` (a fresh context per call: no call sees another's
     * state, and callers get exactly what the suite, replay and differential check judged) or
     * `shared` (one context per version: ~15 µs a call cheaper with a ready context waiting, ~0.3 ms
     * in a burst that outruns them; a tool's module-level state then persists between calls). Heal steps always run per call.
     */
    isolation: z.enum(['per_call', 'shared']).default('per_call'),
    /**
     * How Python tools are kept apart past the Python layer: `per_tool` (each version in an
     * interpreter of its own, started from a memory snapshot: no tool can change another's answers
     * even past every Python-level restriction) or `shared` (one interpreter for every Python tool).
     */
    python_isolation: z.enum(['per_tool', 'shared']).default('per_tool'),
    /**
     * Contexts kept ready per JavaScript tool under per_call isolation, each with the bootstrap and the
     * tool's top level already run on the isolate's own thread, so a call takes one instead of making
     * it (~0.3–1 ms). Each is used by one call and then freed. Fewer are kept for a tool whose context
     * is large against memory_limit_mb; 0 makes every call's context on the call path.
     */
    ready_contexts: z.int().min(0).max(64).default(4),
    /** Most Python tool interpreters alive per process under per_tool (about 50 MB each); the least recently used is retired. */
    python_interpreters: z.int().min(1).max(256).default(8),
    /**
     * The judge's runs of tool code (suite, replays, differential and canary checks) that run at once,
     * off the worker's event loop: JavaScript on isolated-vm's threads, Python on its interpreters'
     * threads. None: the cores less one.
     */
    judge_threads: z.int().min(1).max(256).nullable().default(null),
  }),
  /** How many tasks a worker process (`dise worker`, `dise dev`) takes at once. */
  worker: section({
    /**
     * `fixed`: up to max_activities activity tasks and max_workflow_tasks workflow tasks at once.
     * `resource`: Temporal's resource-based tuner hands out slots up to those maxima only while the
     * machine's memory and CPU use stay under target_memory and target_cpu (fractions of the
     * machine), so a storm of heals cannot run it out of memory.
     */
    tuner: z.enum(['fixed', 'resource']).default('fixed'),
    max_activities: z.int().min(1).max(2000).default(20),
    max_workflow_tasks: z.int().min(2).max(2000).default(20),
    target_memory: z.number().gt(0).max(1).default(0.8),
    target_cpu: z.number().gt(0).max(1).default(0.9),
  }),
  runtime: section({
    /** Execution records are written in batches of at most this many… */
    batch_size: z.int().min(1).max(100_000).default(1000),
    /** …or at least this often. */
    flush_interval_ms: z.int().min(1).max(60_000).default(200),
    /** Full routing refresh in case a notification was missed. */
    route_refresh_seconds: z.int().min(1).max(3600).default(30),
    /** Successful inputs kept per tool (reservoir sampling) for the differential corpus. */
    input_sampling: section({
      /** false: no successful input is ever kept (data that must not be stored). */
      enabled: z.boolean().default(true),
      /** Size of each tool's sample (0 keeps none). */
      per_tool: z.int().min(0).max(100_000).default(200),
      /** Tools whose inputs must never be kept, whatever `enabled` says. */
      exclude_tools: z.array(z.string().min(1)).default([]),
    }),
    /**
     * A tool whose routed version is known to answer wrongly (a heal ended unhealed on it) and that
     * has no healthy alternative: `refuse` its calls with ToolPrunedError, or `serve_with_warning`
     * (answer, say so in the result, record the warning with the execution).
     */
    known_wrong_policy: z.enum(['refuse', 'serve_with_warning']).default('refuse'),
    /**
     * Days of executions kept (day partitions; older days are dropped by the health monitor's hourly
     * maintenance after being summed into per-version hourly rollups, which are kept).
     */
    execution_retention_days: z.int().min(1).max(3650).default(30),
  }),
  /** Prometheus metrics and OpenTelemetry traces (docs/observability.md). */
  observability: section({
    metrics: section({
      /**
       * host:port where the worker process (`dise worker`, `dise dev`) serves Prometheus metrics at
       * /metrics: Temporal's own and the heals'. None: not served. Fixed (no port 0): Prometheus must know it.
       */
      worker_address: z
        .string()
        .regex(/^[^\s:]+:\d{1,5}$/, 'host:port, e.g. 127.0.0.1:9464')
        .nullable()
        .default(null),
    }),
    tracing: section({
      /** OTLP/HTTP traces endpoint (e.g. http://127.0.0.1:4318/v1/traces); none: no spans are exported. */
      otlp_endpoint: z.url().nullable().default(null),
      /** service.name of this process's spans. */
      service_name: z.string().min(1).default('dise-heal'),
    }),
  }),
  /** The dashboard (`dise ui`, and `dise dev`). */
  ui: section({
    /** Where it listens: loopback unless told otherwise. */
    host: z.string().min(1).default('127.0.0.1'),
    /** 0: any free port. */
    port: z.int().min(0).max(65_535).default(4300),
    /** Bearer token of its actions; none means one is generated at start and printed once. */
    token: z.string().min(16).nullable().default(null),
  }),
  /** Rules shared between installations (`dise rules export`, `import`, `subscribe`). */
  rules_sharing: section({
    /**
     * Local registrations an imported rule must see without a possible false positive (a match on a
     * version that passed every other check) before it enforces; until then it only reports.
     */
    promote_after: z.int().min(1).max(1_000_000).default(20),
  }),
});

export type DiseConfig = z.infer<typeof configSchema>;
export type SandboxConfig = DiseConfig['sandbox'];
export type WorkerTuningConfig = DiseConfig['worker'];
export type ThresholdsConfig = DiseConfig['self_healing']['thresholds'];
export type RuntimeConfig = DiseConfig['runtime'];
export type DeploymentConfig = DiseConfig['deployment'];
export type CanaryConfig = DeploymentConfig['canary'];
export type ObservabilityConfig = DiseConfig['observability'];

/** The defaults, as config.example.yaml documents them. */
export function defaultConfig(): DiseConfig {
  return configSchema.parse({});
}
