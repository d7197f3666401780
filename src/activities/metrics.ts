import type { Context } from '@temporalio/activity';
import type { MetricCounter, MetricHistogram, MetricMeter, MetricTags } from '@temporalio/common';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import type { LineageStore } from '../lineage/store.js';
import type { CanaryEnd } from '../shared/canary-types.js';
import { HEAL_METRICS } from '../shared/metric-names.js';
import type {
  CandidateValidation,
  HealProgress,
  HealStatus,
  HealTrigger,
  PruneResult,
  RuleResult,
} from '../shared/heal-types.js';
import { PROPAGATION_SCOPES, SEVERITIES } from '../shared/lineage-types.js';
import type { FinishHealInput } from './finish-heal.js';
import type { PromoteInput } from './promote.js';
import type { RecordFailureInput } from './record-failure.js';

type CounterKey = Exclude<keyof typeof HEAL_METRICS, 'healDuration'>;

/** The counters and the histogram of heals, created once on a Temporal metric meter. */
export class HealMetrics {
  private readonly counters: Record<CounterKey, MetricCounter>;
  private readonly duration: MetricHistogram;

  constructor(meter: MetricMeter) {
    const counter = (key: CounterKey) => meter.createCounter(HEAL_METRICS[key].name, undefined, HEAL_METRICS[key].help);
    this.counters = {
      healsStarted: counter('healsStarted'),
      healsEnded: counter('healsEnded'),
      prunes: counter('prunes'),
      taints: counter('taints'),
      rulesCreated: counter('rulesCreated'),
      rulesEnforced: counter('rulesEnforced'),
      differentialRefusals: counter('differentialRefusals'),
      canaryVerdicts: counter('canaryVerdicts'),
      wrongAnswersReported: counter('wrongAnswersReported'),
    };
    const d = HEAL_METRICS.healDuration;
    this.duration = meter.createHistogram(d.name, 'float', 'seconds', d.help);
    this.startAtZero();
  }

  /**
   * Every expected series exists from the worker's start, at 0: Prometheus' increase() and rate() see
   * a series' first event only as a step from an earlier sample, so the first heal would otherwise vanish.
   */
  private startAtZero(): void {
    const c = this.counters;
    const ended: [HealStatus, string][] = [
      ...(['revert', 'llm', 'rollback', 'none'] as const).map((s): [HealStatus, string] => ['healed', s]),
      ...(['unhealed', 'not_pruned', 'routed_to_ancestor', 'disabled', 'cancelled', 'failed'] as const).map(
        (o): [HealStatus, string] => [o, 'none'],
      ),
    ];
    for (const [outcome, strategy] of ended) c.healsEnded.add(0, { outcome, strategy });
    for (const trigger of ['report', 'monitor', 'manual', 'runtime'] satisfies HealTrigger[])
      c.healsStarted.add(0, { trigger });
    for (const verdict of ['promoted', 'refused', 'aborted']) c.canaryVerdicts.add(0, { verdict });
    for (const scope of PROPAGATION_SCOPES) c.rulesCreated.add(0, { scope });
    for (const severity of SEVERITIES) c.wrongAnswersReported.add(0, { severity });
    for (const counter of [c.prunes, c.taints, c.rulesEnforced, c.differentialRefusals]) counter.add(0);
  }

  healStarted(trigger: string, failure: RecordFailureInput['failure']): void {
    this.counters.healsStarted.add(1, { trigger });
    if (failure.detectionMethod === 'report' || failure.failureType === 'wrong_output')
      this.counters.wrongAnswersReported.add(1, { severity: failure.severity });
  }

  healEnded(progress: Pick<HealProgress, 'status' | 'strategy'>, seconds: number | null): void {
    const tags: MetricTags = { outcome: progress.status, strategy: progress.strategy ?? 'none' };
    this.counters.healsEnded.add(1, tags);
    if (seconds !== null) this.duration.record(seconds, { outcome: progress.status });
  }

  pruned(result: PruneResult): void {
    this.counters.prunes.add(result.prunedCount);
    if (result.taintedCount) this.counters.taints.add(result.taintedCount);
  }

  ruleCreated(rule: RuleResult): void {
    this.counters.rulesCreated.add(1, { scope: rule.scope });
  }

  validated(validation: Pick<CandidateValidation, 'rejections'>): void {
    const gates = validation.rejections.filter((r) => r.kind === 'gate').length;
    if (gates) this.counters.rulesEnforced.add(gates);
    if (validation.rejections.some((r) => r.kind === 'differential')) this.counters.differentialRefusals.add(1);
  }

  canaryEnded(end: CanaryEnd): void {
    this.counters.canaryVerdicts.add(1, { verdict: end.outcome });
  }
}

/**
 * Counts heals from the activities' inputs and results, after each succeeds: the workflow stays
 * free of side effects, and a step's retries are not counted twice (only its one success is).
 */
export function healMetricsInterceptor(metrics: HealMetrics, store: LineageStore): ActivityInterceptorsFactory {
  const secondsSince = async (healId: string) => {
    const started = await store.healRuns.startedAt(healId).catch(() => null);
    return started ? Math.max(0, (Date.now() - started.getTime()) / 1000) : null;
  };
  return (ctx: Context) => ({
    inbound: {
      async execute(input, next) {
        const result = await next(input);
        const arg = input.args[0];
        // A broken metric must never fail a heal step that did its work.
        try {
          switch (ctx.info.activityType) {
            case 'recordFailure': {
              const i = arg as RecordFailureInput;
              metrics.healStarted(i.trigger, i.failure);
              break;
            }
            case 'finishHeal': {
              const i = arg as FinishHealInput;
              metrics.healEnded(i.progress, await secondsSince(i.healId));
              break;
            }
            case 'promote': {
              const i = arg as PromoteInput;
              metrics.healEnded({ status: 'healed', strategy: i.strategy }, await secondsSince(i.healId));
              break;
            }
            case 'pruneBranch':
              metrics.pruned(result as PruneResult);
              break;
            case 'createAvoidanceRule':
              metrics.ruleCreated(result as RuleResult);
              break;
            case 'validateCandidate':
              metrics.validated(result as CandidateValidation);
              break;
            case 'finishCanary': {
              const end = result as CanaryEnd;
              if (end.outcome !== 'ended') metrics.canaryEnded(end);
              break;
            }
          }
        } catch {
          // The step's result stands; the metric is lost.
        }
        return result;
      },
    },
  });
}
