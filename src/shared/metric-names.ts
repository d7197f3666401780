/**
 * Every metric dise exposes, by where it is served: the worker's Temporal meter (Prometheus exporter of
 * Runtime.install, `observability.metrics.worker_address`) and prom-client registries (the dashboard's
 * /metrics, and any program that passes RuntimeMetrics to its ToolRuntime). `name` is what the code
 * creates; `exposed` is the name Prometheus sees (the Temporal exporter adds `_total` to counters and the
 * unit to histograms). Labels are bounded: enums, and the tool name where said — never a version or input.
 */
export interface MetricSpec {
  name: string;
  exposed: string;
  type: 'counter' | 'histogram' | 'gauge';
  labels: readonly string[];
  help: string;
}

const spec = <T extends Record<string, MetricSpec>>(t: T) => t;

/** The heals' metrics, counted by the worker's activity interceptor (src/activities/metrics.ts). */
export const HEAL_METRICS = spec({
  healsStarted: {
    name: 'dise_heals_started',
    exposed: 'dise_heals_started_total',
    type: 'counter',
    labels: ['trigger'],
    help: 'Heals that recorded their failure and opened a heal run, by trigger (report, monitor, manual, runtime)',
  },
  healsEnded: {
    name: 'dise_heals_ended',
    exposed: 'dise_heals_ended_total',
    type: 'counter',
    labels: ['outcome', 'strategy'],
    help: 'Heals that ended, by outcome (healed, unhealed, not_pruned, routed_to_ancestor, disabled, cancelled, failed) and strategy (revert, llm, rollback, none)',
  },
  healDuration: {
    name: 'dise_heal_duration',
    exposed: 'dise_heal_duration_seconds',
    type: 'histogram',
    labels: ['outcome'],
    help: 'Seconds from a heal run opening to its end, by outcome',
  },
  prunes: {
    name: 'dise_prunes',
    exposed: 'dise_prunes_total',
    type: 'counter',
    labels: [],
    help: 'Versions pruned by heals',
  },
  taints: {
    name: 'dise_taints',
    exposed: 'dise_taints_total',
    type: 'counter',
    labels: [],
    help: 'Descendant versions tainted (DEGRADED) by those prunes',
  },
  rulesCreated: {
    name: 'dise_rules_created',
    exposed: 'dise_rules_created_total',
    type: 'counter',
    labels: ['scope'],
    help: 'Avoidance rules created by heals, by propagation scope',
  },
  rulesEnforced: {
    name: 'dise_rules_enforced',
    exposed: 'dise_rules_enforced_total',
    type: 'counter',
    labels: [],
    help: 'Candidate versions rejected by an avoidance-rule gate',
  },
  differentialRefusals: {
    name: 'dise_differential_refusals',
    exposed: 'dise_differential_refusals_total',
    type: 'counter',
    labels: [],
    help: 'Candidate versions refused by the differential check',
  },
  canaryVerdicts: {
    name: 'dise_canary_verdicts',
    exposed: 'dise_canary_verdicts_total',
    type: 'counter',
    labels: ['verdict'],
    help: 'Canaries ended, by verdict (promoted, refused, aborted)',
  },
  wrongAnswersReported: {
    name: 'dise_wrong_answers_reported',
    exposed: 'dise_wrong_answers_reported_total',
    type: 'counter',
    labels: ['severity'],
    help: 'Heals started by a reported wrong answer, by severity',
  },
});

/** Bucket bounds of dise_heal_duration (seconds): an offline heal takes seconds, an LLM one minutes. */
export const HEAL_DURATION_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800];

/** The tool runtime's metrics (prom-client; opt-in, src/runtime/metrics.ts). */
export const RUNTIME_METRICS = spec({
  calls: {
    name: 'dise_runtime_calls_total',
    exposed: 'dise_runtime_calls_total',
    type: 'counter',
    labels: ['tool', 'result'],
    help: 'Tool calls the runtime ran, by tool and result (ok, error)',
  },
  errors: {
    name: 'dise_runtime_call_errors_total',
    exposed: 'dise_runtime_call_errors_total',
    type: 'counter',
    labels: ['tool', 'kind'],
    help: 'Failed or refused tool calls, by tool and typed kind (timeout, thrown, host_access…, pruned, unavailable, unknown_tool)',
  },
  duration: {
    name: 'dise_runtime_call_duration_seconds',
    exposed: 'dise_runtime_call_duration_seconds',
    type: 'histogram',
    labels: ['tool'],
    help: 'Seconds a tool call spent in the sandbox, by tool',
  },
  routeLookups: {
    name: 'dise_runtime_route_lookups_total',
    exposed: 'dise_runtime_route_lookups_total',
    type: 'counter',
    labels: ['result'],
    help: 'Routing-cache lookups of a tool name, by result (hit, miss: read from the database)',
  },
  knownWrong: {
    name: 'dise_runtime_known_wrong_calls_total',
    exposed: 'dise_runtime_known_wrong_calls_total',
    type: 'counter',
    labels: ['tool', 'action'],
    help: 'Calls of a tool whose routed version is known wrong, by action (rerouted to the alternative, served with a warning, refused)',
  },
  wrongReported: {
    name: 'dise_runtime_wrong_answers_reported_total',
    exposed: 'dise_runtime_wrong_answers_reported_total',
    type: 'counter',
    labels: ['tool', 'severity'],
    help: 'Wrong answers reported through this runtime (ToolRuntime.report, dise report), by tool and severity',
  },
  mirrored: {
    name: 'dise_runtime_canary_mirrored_calls_total',
    exposed: 'dise_runtime_canary_mirrored_calls_total',
    type: 'counter',
    labels: [],
    help: 'Calls mirrored to a running canary candidate',
  },
  mirrorDropped: {
    name: 'dise_runtime_canary_mirror_dropped_total',
    exposed: 'dise_runtime_canary_mirror_dropped_total',
    type: 'counter',
    labels: [],
    help: 'Mirrored calls dropped (queue full, or comparisons the database could not take)',
  },
});

/** Bucket bounds of dise_runtime_call_duration_seconds: most tools answer in well under a millisecond. */
export const CALL_DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1];

/** The dashboard's own /metrics: its requests, and the lineage's state read at scrape time. */
export const DASHBOARD_METRICS = spec({
  requests: {
    name: 'dise_dashboard_requests_total',
    exposed: 'dise_dashboard_requests_total',
    type: 'counter',
    labels: ['route', 'method', 'status'],
    help: 'Dashboard HTTP requests, by route pattern, method and status',
  },
  requestDuration: {
    name: 'dise_dashboard_request_duration_seconds',
    exposed: 'dise_dashboard_request_duration_seconds',
    type: 'histogram',
    labels: ['route'],
    help: 'Seconds the dashboard took to answer, by route pattern',
  },
  versions: {
    name: 'dise_versions',
    exposed: 'dise_versions',
    type: 'gauge',
    labels: ['health'],
    help: 'Tool versions in the lineage, by health (read at scrape time)',
  },
  healRuns: {
    name: 'dise_heal_runs',
    exposed: 'dise_heal_runs',
    type: 'gauge',
    labels: ['status'],
    help: 'Heal runs recorded, by status (read at scrape time)',
  },
});

export const ALL_METRICS: MetricSpec[] = [
  ...Object.values(HEAL_METRICS),
  ...Object.values(RUNTIME_METRICS),
  ...Object.values(DASHBOARD_METRICS),
];

/**
 * Temporal SDK metrics the Grafana board reads, as the worker's exporter names them (prefix temporal_,
 * `_total` counters, histograms in seconds). Temporal documents the full set:
 * https://docs.temporal.io/references/sdk-metrics
 */
export const TEMPORAL_METRICS: MetricSpec[] = [
  {
    name: 'worker_task_slots_available',
    exposed: 'temporal_worker_task_slots_available',
    type: 'gauge',
    labels: ['worker_type', 'task_queue'],
    help: 'Free task slots of the worker, by worker type (WorkflowWorker, ActivityWorker, LocalActivityWorker)',
  },
  {
    name: 'worker_task_slots_used',
    exposed: 'temporal_worker_task_slots_used',
    type: 'gauge',
    labels: ['worker_type', 'task_queue'],
    help: 'Task slots in use, by worker type',
  },
  {
    name: 'workflow_task_schedule_to_start_latency',
    exposed: 'temporal_workflow_task_schedule_to_start_latency_seconds',
    type: 'histogram',
    labels: ['task_queue'],
    help: 'Seconds a workflow task waited for a worker',
  },
  {
    name: 'activity_schedule_to_start_latency',
    exposed: 'temporal_activity_schedule_to_start_latency_seconds',
    type: 'histogram',
    labels: ['activity_type', 'task_queue'],
    help: 'Seconds an activity (a heal step) waited for a worker',
  },
  {
    name: 'request_failure',
    exposed: 'temporal_request_failure_total',
    type: 'counter',
    labels: ['operation'],
    help: "Failed requests of the worker's client to the Temporal server, by operation",
  },
];
