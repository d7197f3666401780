import type { DiseConfig } from '../../config/schema.js';
import { strategyPreferences, type HealStats, type StrategyPreference } from '../../lineage/heal-runs.js';
import type { RecentFailure } from '../../lineage/views.js';
import { askMonitorStatus, type MonitorReachability } from '../../client/monitor-client.js';
import { HEALTH, type Health } from '../../shared/lineage-types.js';
import { withDatabase, type Output } from '../context.js';
import { colorEnabled, HEALTH_LABEL, paint, stamp, titleCase } from '../format/style.js';
import { connectTemporal } from '../temporal-client.js';

export interface HealthReport {
  tools: number;
  versions: number;
  byHealth: Record<Health, { count: number; percent: number }>;
  recentFailures: RecentFailure[];
  healing: HealStats;
  /** The heal strategies' record per failure context (`dise strategies`), most heals first. */
  strategies: { mode: string; contexts: StrategyPreference[] };
  monitor: MonitorReachability;
}

/** `dise health`: the System Health Report, from the database and the monitor's `status` query. */
export async function health(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  const report: HealthReport = await withDatabase(
    out,
    async ({ store }): Promise<HealthReport> => {
      const counts = await store.views.healthCounts();
      const byHealth = Object.fromEntries(
        HEALTH.map((h) => {
          const n = counts.byHealth.get(h) ?? 0;
          return [h, { count: n, percent: counts.versions ? (100 * n) / counts.versions : 0 }];
        }),
      ) as HealthReport['byHealth'];
      return {
        tools: counts.tools,
        versions: counts.versions,
        byHealth,
        recentFailures: await store.views.recentFailures(10),
        healing: await store.healRuns.stats(),
        strategies: {
          mode: config.self_healing.regeneration.strategy_order,
          contexts: strategyPreferences(
            await store.healRuns.strategyRecords(config.self_healing.regeneration.survival_calls),
          ),
        },
        monitor: { reachable: false, reason: 'not asked yet' },
      };
    },
    config,
  );

  try {
    const temporal = await connectTemporal(config);
    try {
      report.monitor = await askMonitorStatus(temporal.client);
    } finally {
      await temporal.close();
    }
  } catch (err) {
    report.monitor = { reachable: false, reason: (err as Error).message.split('\n')[0]! };
  }

  if (options.json) {
    out.result(JSON.stringify(report, null, 2));
    return;
  }
  const color = colorEnabled();
  const lines = [
    paint('System Health Report', 'bold', color),
    '',
    `Versions: ${report.versions} across ${report.tools} tool(s)`,
  ];
  for (const h of HEALTH) {
    const l = HEALTH_LABEL[h];
    const { count, percent } = report.byHealth[h];
    lines.push(
      `  ${paint(l.mark, l.color, color)} ${titleCase(h).padEnd(12)} ${String(count).padStart(6)}  (${percent.toFixed(1)}%)`,
    );
  }
  lines.push('', 'Recent Failures:');
  if (!report.recentFailures.length) lines.push('  none');
  for (const f of report.recentFailures) {
    const heal = f.heal
      ? `heal: ${f.heal.status}${f.heal.newVersionId ? ` → ${f.heal.newVersionId}` : ''}`
      : 'heal: none';
    lines.push(
      `  [${stamp(f.at)}] ${f.versionId}  ${titleCase(f.failureType)} (${f.severity}): ${f.description}  — ${heal}`,
    );
  }
  const s = report.healing;
  lines.push('', 'Auto-Healing:');
  lines.push(
    `  Heal events: ${s.events}   Successes: ${s.successes}   Failures: ${s.failures}   Running: ${s.running}   Average recovery time: ${s.averageRecoverySeconds === null ? '-' : `${s.averageRecoverySeconds.toFixed(2)} s`}`,
  );
  const contexts = report.strategies.contexts;
  lines.push(
    `  Strategy order: ${report.strategies.mode}${contexts.length ? '' : ' (no heal recorded its choice yet)'}`,
  );
  for (const c of contexts.slice(0, 5))
    lines.push(
      `    ${c.context}: prefers ${c.preferred.join(' > ') || '-'} (${c.strategies.map((x) => `${x.strategy} ${x.successes}/${x.successes + x.failures}`).join(', ')})`,
    );
  if (contexts.length > 5) lines.push(`    … ${contexts.length - 5} more context(s): dise strategies`);
  lines.push('');
  if (report.monitor.reachable) {
    const m = report.monitor;
    lines.push(
      `Health Monitor: ${m.paused ? 'PAUSED' : 'running'}; ${m.checks} check(s), last ${stamp(m.lastCheckAt)}; ${m.findings.length} finding(s) in the last check; ${m.healsStarted.length} heal(s) started`,
    );
  } else {
    lines.push(`Health Monitor: not reachable (${report.monitor.reason})`);
  }
  out.result(lines.join('\n'));
}
