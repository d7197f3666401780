import type { DiseConfig } from '../../config/schema.js';
import { HEALTH_MONITOR_WORKFLOW_ID } from '../../shared/constants.js';
import { HEALTH, type Health } from '../../shared/lineage-types.js';
import { monitorStatusQuery, type MonitorStatus } from '../../shared/messages.js';
import { withDatabase, type Output } from '../context.js';
import { colorEnabled, HEALTH_LABEL, paint, stamp, titleCase } from '../format/style.js';
import { connectTemporal } from '../temporal-client.js';

export interface HealthReport {
  tools: number;
  versions: number;
  byHealth: Record<Health, { count: number; percent: number }>;
  recentFailures: { at: string; versionId: string; failureType: string; severity: string; description: string; heal: { status: string; newVersionId: string | null } | null }[];
  healing: { events: number; successes: number; failures: number; running: number; averageRecoverySeconds: number | null };
  monitor: (MonitorStatus & { reachable: true }) | { reachable: false; reason: string };
}

/** `dise health`: the System Health Report, from the database and the monitor's `status` query. */
export async function health(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  const report: HealthReport = await withDatabase(out, async ({ prisma }): Promise<HealthReport> => {
    const counts = await prisma.$queryRaw<{ health_status: Health; n: number }[]>`SELECT health_status, count(*)::int AS n FROM tool_lineage GROUP BY health_status`;
    const [totals] = await prisma.$queryRaw<{ tools: number; versions: number }[]>`SELECT count(DISTINCT tool_name)::int AS tools, count(*)::int AS versions FROM tool_lineage`;
    const versions = totals?.versions ?? 0;
    const byHealth = Object.fromEntries(
      HEALTH.map((h) => {
        const n = counts.find((c) => c.health_status === h)?.n ?? 0;
        return [h, { count: n, percent: versions ? (100 * n) / versions : 0 }];
      }),
    ) as HealthReport['byHealth'];
    const failures = await prisma.$queryRaw<{ at: Date; tool_id: string; failure_type: string; severity: string; description: string; heal_status: string | null; new_version: string | null }[]>`
      SELECT f.timestamp AS at, f.tool_id, f.failure_type, f.severity, f.description, h.status AS heal_status, h.result->>'newVersionId' AS new_version
      FROM failures f
      LEFT JOIN LATERAL (SELECT status, result FROM heal_runs WHERE tool_id = f.tool_id ORDER BY started_at DESC LIMIT 1) h ON true
      WHERE f.failure_type <> 'manual'
      ORDER BY f.id DESC LIMIT 10`;
    const [stats] = await prisma.$queryRaw<{ events: number; successes: number; failures: number; running: number; avg_seconds: number | null }[]>`
      SELECT count(*)::int AS events,
             count(*) FILTER (WHERE status = 'healed')::int AS successes,
             count(*) FILTER (WHERE status IN ('unhealed', 'failed'))::int AS failures,
             count(*) FILTER (WHERE status = 'running')::int AS running,
             avg(EXTRACT(EPOCH FROM finished_at - started_at)) FILTER (WHERE status = 'healed')::float8 AS avg_seconds
      FROM heal_runs`;
    return {
      tools: totals?.tools ?? 0,
      versions,
      byHealth,
      recentFailures: failures.map((f) => ({
        at: f.at.toISOString(),
        versionId: f.tool_id,
        failureType: f.failure_type,
        severity: f.severity,
        description: f.description,
        heal: f.heal_status ? { status: f.heal_status, newVersionId: f.new_version } : null,
      })),
      healing: {
        events: stats?.events ?? 0,
        successes: stats?.successes ?? 0,
        failures: stats?.failures ?? 0,
        running: stats?.running ?? 0,
        averageRecoverySeconds: stats?.avg_seconds ?? null,
      },
      monitor: { reachable: false, reason: 'not asked yet' },
    };
  }, config);

  try {
    const temporal = await connectTemporal(config);
    try {
      const status = await temporal.client.workflow.getHandle(HEALTH_MONITOR_WORKFLOW_ID).query(monitorStatusQuery);
      report.monitor = { ...status, reachable: true };
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
  const lines = [paint('System Health Report', 'bold', color), '', `Versions: ${report.versions} across ${report.tools} tool(s)`];
  for (const h of HEALTH) {
    const l = HEALTH_LABEL[h];
    const { count, percent } = report.byHealth[h];
    lines.push(`  ${paint(l.mark, l.color, color)} ${titleCase(h).padEnd(12)} ${String(count).padStart(6)}  (${percent.toFixed(1)}%)`);
  }
  lines.push('', 'Recent Failures:');
  if (!report.recentFailures.length) lines.push('  none');
  for (const f of report.recentFailures) {
    const heal = f.heal ? `heal: ${f.heal.status}${f.heal.newVersionId ? ` → ${f.heal.newVersionId}` : ''}` : 'heal: none';
    lines.push(`  [${stamp(f.at)}] ${f.versionId}  ${titleCase(f.failureType)} (${f.severity}): ${f.description}  — ${heal}`);
  }
  const s = report.healing;
  lines.push('', 'Auto-Healing:');
  lines.push(
    `  Heal events: ${s.events}   Successes: ${s.successes}   Failures: ${s.failures}   Running: ${s.running}   Average recovery time: ${s.averageRecoverySeconds === null ? '-' : `${s.averageRecoverySeconds.toFixed(2)} s`}`,
  );
  lines.push('');
  if (report.monitor.reachable) {
    const m = report.monitor;
    lines.push(`Health Monitor: ${m.paused ? 'PAUSED' : 'running'}; ${m.checks} check(s), last ${stamp(m.lastCheckAt)}; ${m.findings.length} finding(s) in the last check; ${m.healsStarted.length} heal(s) started`);
  } else {
    lines.push(`Health Monitor: not reachable (${report.monitor.reason})`);
  }
  out.result(lines.join('\n'));
}
