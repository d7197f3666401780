import { diffLines } from 'diff';
import type { HealStats, StrategyPreference } from '../lineage/heal-runs.js';
import type { ExecutionBucket, FitnessPoint, HealRunListing, IntroducedTest } from '../lineage/activity.js';
import type { RuleListing } from '../lineage/rules.js';
import type { RecentFailure } from '../lineage/views.js';
import type {
  AvoidanceRuleRecord,
  DifferentialOutcome,
  DifferentialReport,
  Health,
  ToolLineage,
} from '../shared/lineage-types.js';
import { immunityLine } from '../shared/immunity-types.js';
import { corpusSourcesText, HEALTH } from '../shared/lineage-types.js';
import type { MonitorStatus } from '../shared/messages.js';
import { styleOf } from './colors.js';
import { html, type Html } from './html.js';

export interface PageLinks {
  workflow(workflowId: string): string | null;
  toolHeals(toolName: string): string | null;
}

const NAV = [
  ['/', 'Tools'],
  ['/health', 'Health'],
  ['/heals', 'Heals'],
  ['/rules', 'Rules'],
] as const;

/** The page shell: navigation, the live-update status, the operator token field for actions. */
export function page(title: string, current: string, body: Html, options: { scripts?: string[] } = {}): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · dise</title>
<link rel="stylesheet" href="/static/app.css">
</head>
<body>
<header class="top">
  <a class="brand" href="/">dise</a>
  <nav aria-label="Main">
    <ul>${NAV.map(([href, label]) => html`<li><a href="${href}"${current === href ? html` aria-current="page"` : ''}>${label}</a></li>`)}</ul>
  </nav>
  <p class="live" id="live-status" role="status">live: connecting</p>
</header>
<main id="content">
${body}
</main>
<footer>
  <form id="token-form" class="token">
    <label for="token">Operator token (for actions)</label>
    <input id="token" name="token" type="password" autocomplete="off">
  </form>
  <p id="action-result" role="status" aria-live="polite"></p>
</footer>
<script src="/static/app.js" type="module"></script>
${(options.scripts ?? []).map((s) => html`<script src="${s}" type="module"></script>`)}
</body>
</html>`.value;
}

export function healthBadge(health: string | null): Html {
  if (!health) return html`<span class="badge">-</span>`;
  return html`<span class="badge state-${styleOf(health).label}">${health}</span>`;
}

function versionLink(id: string | null): Html {
  return id ? html`<a href="/versions/${encodeURIComponent(id)}">${id}</a>` : html`-`;
}

function percent(x: number | null): string {
  return x === null ? '-' : `${(100 * x).toFixed(1)}%`;
}

function json(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? 'null';
}

export interface ToolRow {
  name: string;
  versions: number;
  routedVersion: string | null;
  health: Health | null;
  description: string | null;
  errorRate: number | null;
  calls: number;
  /** The routed version's mutation score (`dise immunity`), 0..1, null when never measured. */
  mutationScore: number | null;
}

export function toolsPage(tools: ToolRow[], window: number): string {
  const body = html`<h1>Tools</h1>
<p>Each tool with its routed version, that version's health and its error rate over its last ${window} calls.</p>
${
  tools.length
    ? html`<table class="grid" id="tools">
<thead><tr><th scope="col">Tool</th><th scope="col">Description</th><th scope="col">Routed version</th><th scope="col">Health</th><th scope="col">Versions</th><th scope="col">Recent error rate</th><th scope="col">Mutation score</th></tr></thead>
<tbody>${tools.map(
        (t) => html`<tr data-tool="${t.name}">
<td><a href="/tools/${encodeURIComponent(t.name)}">${t.name}</a></td>
<td class="description">${t.description ?? ''}</td>
<td>${versionLink(t.routedVersion)}</td>
<td>${healthBadge(t.health)}</td>
<td class="num">${t.versions}</td>
<td class="num">${t.calls ? html`${percent(t.errorRate)} <span class="muted">of ${t.calls}</span>` : 'no calls'}</td>
<td class="num mutation-score">${t.mutationScore === null ? html`<span class="muted">not measured</span>` : percent(t.mutationScore)}</td>
</tr>`,
      )}</tbody></table>`
    : html`<p>No tools registered yet (<code>dise tool add &lt;manifest&gt;</code>).</p>`
}`;
  return page('Tools', '/', body);
}

export function lineagePage(tool: string, routed: string | null, links: PageLinks): string {
  const healsLink = links.toolHeals(tool);
  const body = html`<h1>Lineage of ${tool}</h1>
<p>Routed version: ${versionLink(routed)}. ${healsLink ? html`<a href="${healsLink}" rel="noopener">Heals of ${tool} in the Temporal UI</a>.` : ''}
Drag to pan, use the wheel or the buttons to zoom; select a version to open it.</p>
<ul class="legend" aria-label="Legend">
${(['healthy', 'regenerated', 'degraded', 'failed', 'pruned', 'canary'] as const).map((h) => html`<li>${healthBadge(h)}</li>`)}
<li><span class="edge-key dotted" aria-hidden="true"></span> heal or revert</li>
<li><span class="edge-key merge" aria-hidden="true"></span> merge</li>
</ul>
<div class="zoom" role="group" aria-label="Zoom">
<button type="button" data-zoom="in">Zoom in</button><button type="button" data-zoom="out">Zoom out</button><button type="button" data-zoom="fit">Fit</button>
</div>
<div id="lineage" class="lineage" data-tool="${tool}" data-src="/api/tools/${encodeURIComponent(tool)}/lineage"><p>Drawing the lineage…</p></div>`;
  return page(`Lineage of ${tool}`, '', body, { scripts: ['/static/lineage.js'] });
}

/** A side-by-side line diff of two codes: removed lines left, added lines right. */
export function sideBySide(before: string, after: string): Html {
  const rows: Html[] = [];
  let left: string[] = [];
  let right: string[] = [];
  const flush = () => {
    for (let i = 0; i < Math.max(left.length, right.length); i++) {
      const l = left[i];
      const r = right[i];
      rows.push(
        html`<tr><td class="${l === undefined ? 'empty' : 'del'}">${l ?? ''}</td><td class="${r === undefined ? 'empty' : 'add'}">${r ?? ''}</td></tr>`,
      );
    }
    left = [];
    right = [];
  };
  for (const part of diffLines(before, after)) {
    const lines = part.value.replace(/\n$/, '').split('\n');
    if (part.removed) left.push(...lines);
    else if (part.added) right.push(...lines);
    else {
      flush();
      for (const l of lines) rows.push(html`<tr><td>${l}</td><td>${l}</td></tr>`);
    }
  }
  flush();
  return html`<table class="diff"><thead><tr><th scope="col">Parent</th><th scope="col">This version</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Calls per bucket (bars, failures stacked in red) and fitness scores (a line), as one SVG. */
export function activityChart(executions: ExecutionBucket[], fitness: FitnessPoint[]): Html {
  if (!executions.length && !fitness.length) return html`<p>No executions or fitness scores recorded yet.</p>`;
  const W = 640;
  const H = 160;
  const maxCalls = Math.max(1, ...executions.map((b) => b.calls));
  const bw = executions.length ? W / executions.length : W;
  const bars = executions.map((b, i) => {
    const h = (b.calls / maxCalls) * (H - 20);
    const fh = (b.failures / maxCalls) * (H - 20);
    return html`<rect class="calls" x="${(i * bw + 1).toFixed(1)}" y="${(H - h).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${h.toFixed(1)}"><title>${b.at}: ${b.calls} calls, ${b.failures} failed</title></rect>${
      fh
        ? html`<rect class="fails" x="${(i * bw + 1).toFixed(1)}" y="${(H - fh).toFixed(1)}" width="${Math.max(1, bw - 2).toFixed(1)}" height="${fh.toFixed(1)}"></rect>`
        : ''
    }`;
  });
  const step = fitness.length > 1 ? W / (fitness.length - 1) : 0;
  const points = fitness.map((f, i) => `${(i * step).toFixed(1)},${(H - f.score * (H - 20)).toFixed(1)}`).join(' ');
  const summary = `${executions.reduce((s, b) => s + b.calls, 0)} calls (${executions.reduce((s, b) => s + b.failures, 0)} failed) in ${executions.length} time slices; ${fitness.length} fitness scores${fitness.length ? `, last ${fitness.at(-1)!.score.toFixed(2)}` : ''}`;
  return html`<figure class="chart">
<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${summary}">
${bars}
${fitness.length ? html`<polyline class="fitness" points="${points}"></polyline>` : ''}
</svg>
<figcaption>${summary}. Bars: calls per time slice (failed part in red); line: fitness score (0 to 1).</figcaption>
</figure>`;
}

function ruleItem(r: AvoidanceRuleRecord): Html {
  return html`<li><strong>${r.ruleId}</strong> [${r.propagationScope}] ${r.description}<br><span class="muted">Pattern (${r.patternKind}):</span> <code>${r.patternToAvoid}</code></li>`;
}

export interface VersionPageData {
  lineage: ToolLineage;
  parentCode: { id: string; code: string } | null;
  inherited: AvoidanceRuleRecord[];
  tests: IntroducedTest[];
  executions: ExecutionBucket[];
  fitness: FitnessPoint[];
  heals: HealRunListing[];
}

const DIFF_VERDICT: Record<DifferentialReport['verdict'], string> = {
  same: 'same behaviour',
  refused: 'REFUSED',
  listed: 'differences listed for review',
};

function differentialAnswer(o: DifferentialOutcome): string {
  return o.error !== null ? `error ${o.error}` : JSON.stringify(o.output);
}

/** The differential check beside the parent(s): verdict, corpus, and the smallest differing inputs with every answer. */
function differentialPanel(l: ToolLineage): Html {
  const d = l.differential;
  if (!d) return html`<p class="muted">No differential check recorded for this version.</p>`;
  const rows = d.differences.slice(0, 20);
  return html`<p><strong class="verdict-${d.verdict}">${DIFF_VERDICT[d.verdict]}</strong> against ${d.parents.join(' + ')} — ${d.message}</p>
<p class="muted">Corpus: ${d.inputs} inputs (${corpusSourcesText(d.sources)}; random seed ${d.seed}), ${d.differing} differing, ${d.durationMs.toFixed(1)} ms.</p>
${
  rows.length
    ? html`<table class="grid differential"><thead><tr><th scope="col">Input (shrunk)</th><th scope="col">${l.id}</th>${d.parents.map((p) => html`<th scope="col">${p}</th>`)}<th scope="col">Found from</th></tr></thead><tbody>
${rows.map((x) => html`<tr><td><code>${JSON.stringify(x.input)}</code></td><td><code>${differentialAnswer(x.output)}</code></td>${x.parents.map((p) => html`<td><code>${differentialAnswer(p.output)}</code></td>`)}<td>${x.source}${JSON.stringify(x.originalInput) !== JSON.stringify(x.input) ? html` (shrunk from <code>${JSON.stringify(x.originalInput)}</code>)` : ''}</td></tr>`)}
</tbody></table>`
    : ''
}`;
}

/** The version's shadow canary: status, calls mirrored, agreement, the judge's verdict, and its actions. */
function canaryPanel(l: ToolLineage): Html {
  const c = l.canary;
  if (!c) return html`<p class="muted">No canary for this version.</p>`;
  const running = c.status === 'running';
  return html`<dl class="facts">
<dt>Status</dt><dd class="canary-status">${c.status}${c.decision ? ` (${c.decision})` : ''}</dd>
<dt>Beside</dt><dd>${versionLink(c.stableId)}</dd>
<dt>Calls mirrored</dt><dd>${c.mirrored}${c.minCalls !== null ? ` of at least ${c.minCalls}` : ''}</dd>
<dt>Agreement</dt><dd>${c.agreement === null ? '-' : percent(c.agreement)}</dd>
<dt>Judge</dt><dd>${c.verdict ?? '-'}${c.reasons.length ? html`: ${c.reasons.join('; ')}` : ''}</dd>
</dl>
${running ? html`<div class="actions" data-version="${l.id}"><button type="button" data-action="canary-promote">Promote now</button> <button type="button" data-action="canary-abort">Abort canary</button></div>` : ''}`;
}

/** A feature_add HELD for a person's review: its decision, sent as a signal to its review workflow. */
function reviewPanel(l: ToolLineage): Html | null {
  if (l.health !== 'held') return null;
  return html`<p>Held for review: its listed differences (above) wait for a person's decision, a signal to the workflow <code>review:${l.id}</code> (or <code>dise review ${l.id} --approve|--refuse</code>).</p>
<div class="actions" data-version="${l.id}"><label>Note <input type="text" id="review-note" name="note"></label> <button type="button" data-action="review-approve">Approve and route</button> <button type="button" data-action="review-refuse">Refuse</button></div>`;
}

/**
 * Panels other features add to the version page (the differential check's evidence, a canary's
 * state) once they land: each renders its section, or null to stay out.
 */
export type VersionPanel = (l: ToolLineage) => Html | null;
export const versionPanels: { id: string; title: string; render: VersionPanel }[] = [
  { id: 'differential', title: 'Differential evidence', render: differentialPanel },
  { id: 'canary', title: 'Canary', render: canaryPanel },
  { id: 'review', title: 'Review', render: reviewPanel },
];

export function versionPage(d: VersionPageData, links: PageLinks): string {
  const l = d.lineage;
  const ev = (l.pruneEvidence ?? null) as {
    analysis?: { reason?: string; verdict?: string; culpritId?: string; lastGoodId?: string };
  } | null;
  const body = html`<h1>${l.id} ${healthBadge(l.health)}</h1>
<p class="description">${l.description}</p>
<dl class="facts">
<dt>Tool</dt><dd><a href="/tools/${encodeURIComponent(l.name)}">${l.name}</a> (lineage)</dd>
<dt>Routed</dt><dd>${l.route.routed ? 'yes: callers use this version' : html`no; the tool routes to ${versionLink(l.route.toolRoutedTo)}`}</dd>
<dt>Language</dt><dd>${l.language}</dd>
${l.immunity ? html`<dt>Mutation score</dt><dd class="mutation-score">${immunityLine(l.immunity)}</dd>` : ''}
<dt>Generation</dt><dd>${l.generation}</dd>
<dt>Parents</dt><dd>${l.parentEdges.length ? l.parentEdges.map((p, i) => html`${i ? ', ' : ''}${versionLink(p.id)} (${p.type})`) : 'none (a root)'}</dd>
<dt>Children</dt><dd>${l.children.length ? l.children.map((c, i) => html`${i ? ', ' : ''}${versionLink(c)}`) : 'none'}</dd>
${l.regeneratedFrom ? html`<dt>Regenerated from</dt><dd>${versionLink(l.regeneratedFrom)}</dd>` : ''}
${l.regeneratedAs.length ? html`<dt>Healed as</dt><dd>${l.regeneratedAs.map((c, i) => html`${i ? ', ' : ''}${versionLink(c)}`)}</dd>` : ''}
${l.reverts ? html`<dt>Reverts</dt><dd>${versionLink(l.reverts)}</dd>` : ''}
${l.healedBy ? html`<dt>Made by heal</dt><dd>${l.healedBy.healId}: strategy ${l.healedBy.strategy ?? '-'}${l.healedBy.features ? `, kept ${l.healedBy.features.kept} of ${l.healedBy.features.total} later feature(s)` : ''}${l.healedBy.setAside.length ? `, set aside ${l.healedBy.setAside.map((t) => t.name).join(', ')}` : ''}</dd>` : ''}
<dt>Executions</dt><dd>${l.executionCount} (success rate ${percent(l.successRate)})</dd>
<dt>Created</dt><dd>${l.createdAt}</dd>
</dl>
<section aria-labelledby="h-actions"><h2 id="h-actions">Actions</h2>
<div class="actions" data-version="${l.id}">
<button type="button" data-action="heal">Start heal</button>
<button type="button" data-action="cancel">Cancel heal</button>
<button type="button" data-action="retry">Retry heal</button>
</div></section>

<section aria-labelledby="h-failures"><h2 id="h-failures">Failures</h2>
${
  l.failures.length
    ? html`<table class="grid" id="failures"><thead><tr><th scope="col">When</th><th scope="col">Type</th><th scope="col">Severity</th><th scope="col">Detected by</th><th scope="col">Description and evidence</th></tr></thead><tbody>
${l.failures.map((f) => html`<tr><td>${f.timestamp}</td><td>${f.failureType}</td><td>${f.severity}</td><td>${f.detectionMethod}</td><td>${f.description}${f.testCaseFailed ? html`<br><span class="muted">Test:</span> ${f.testCaseFailed}` : ''}${f.stackTrace ? html`<pre>${f.stackTrace}</pre>` : ''}</td></tr>`)}
</tbody></table>`
    : html`<p>No failures recorded.</p>`
}
${
  l.prunedAt
    ? html`<div id="prune-decision" class="decision"><h3>Prune decision</h3><p>Pruned at ${l.prunedAt}${ev?.analysis?.verdict ? `; verdict ${ev.analysis.verdict}` : ''}${ev?.analysis?.culpritId ? `; culprit ${ev.analysis.culpritId}` : ''}${ev?.analysis?.lastGoodId ? `; last good ${ev.analysis.lastGoodId}` : ''}.</p>
${ev?.analysis?.reason ? html`<p>Why: ${ev.analysis.reason}</p>` : ''}
<details><summary>Evidence (as recorded)</summary><pre>${json(l.pruneEvidence)}</pre></details></div>`
    : ''
}
</section>

<section aria-labelledby="h-mutations"><h2 id="h-mutations">Mutations</h2>
${l.mutations.length ? html`<ul>${l.mutations.map((m) => html`<li>${m.mutationType}: ${m.description}${m.fitnessBefore !== null || m.fitnessAfter !== null ? ` (fitness ${m.fitnessBefore ?? '-'} → ${m.fitnessAfter ?? '-'})` : ''}</li>`)}</ul>` : html`<p>None: a root version.</p>`}
${d.parentCode ? html`<h3>Code against ${d.parentCode.id}</h3>${sideBySide(d.parentCode.code, l.code)}` : html`<h3>Code</h3><pre class="code">${l.code}</pre>`}
</section>

<section aria-labelledby="h-rules"><h2 id="h-rules">Rules</h2>
<h3>Created by this version's failures</h3>
${l.avoidanceRules.length ? html`<ul>${l.avoidanceRules.map(ruleItem)}</ul>` : html`<p>None.</p>`}
<h3>Inherited</h3>
${d.inherited.length ? html`<ul>${d.inherited.map(ruleItem)}</ul>` : html`<p>None.</p>`}
</section>

<section aria-labelledby="h-tests"><h2 id="h-tests">Tests introduced by this version</h2>
${
  d.tests.length
    ? html`<table class="grid" id="tests"><thead><tr><th scope="col">Name</th><th scope="col">Origin</th><th scope="col">Input</th><th scope="col">Expected</th><th scope="col">Critical</th></tr></thead><tbody>
${d.tests.map((t) => html`<tr><td>${t.name}</td><td>${t.origin}${t.sourceFailureId !== null ? ` (failure #${t.sourceFailureId})` : ''}</td><td><code>${JSON.stringify(t.input)}</code></td><td><code>${JSON.stringify(t.expected)}</code></td><td>${t.critical ? 'yes' : 'no'}</td></tr>`)}
</tbody></table>`
    : html`<p>None.</p>`
}
</section>

<section aria-labelledby="h-activity"><h2 id="h-activity">Executions and fitness over time</h2>
${activityChart(d.executions, d.fitness)}
</section>

<section aria-labelledby="h-heals"><h2 id="h-heals">Heals of this version</h2>
${healTable(d.heals, links)}
</section>

${versionPanels.map((p) => {
  const content = p.render(l);
  return content
    ? html`<section id="${p.id}" aria-labelledby="h-${p.id}"><h2 id="h-${p.id}">${p.title}</h2>${content}</section>`
    : '';
})}`;
  return page(l.id, '', body);
}

function healTable(heals: HealRunListing[], links: PageLinks): Html {
  if (!heals.length) return html`<p>No heals.</p>`;
  return html`<table class="grid heals"><thead><tr><th scope="col">Version</th><th scope="col">Status</th><th scope="col">Step</th><th scope="col">Attempts</th><th scope="col">Trigger</th><th scope="col">Started</th><th scope="col">Ended</th><th scope="col">New version</th><th scope="col">Temporal</th></tr></thead><tbody>
${heals.map((h) => {
  const link = links.workflow(h.workflowId);
  return html`<tr data-heal="${h.versionId}" data-status="${h.status}"><td>${versionLink(h.versionId)}</td><td class="status">${h.status}</td><td class="step" data-progress-for="${h.status === 'running' ? h.versionId : ''}">${h.step ?? (h.status === 'running' ? 'starting' : '-')}</td><td class="num attempts">${h.attempt ?? '-'}</td><td>${h.trigger}</td><td>${h.startedAt}</td><td>${h.finishedAt ?? '-'}</td><td>${versionLink(h.newVersionId)}</td><td>${link ? html`<a class="temporal-link" href="${link}" rel="noopener">workflow ${h.workflowId}</a>` : 'no UI known'}</td></tr>`;
})}</tbody></table>`;
}

export function healsPage(heals: HealRunListing[], tools: string[], links: PageLinks, tool: string | null): string {
  const running = heals.filter((h) => h.status === 'running');
  const body = html`<h1>Heals${tool ? html` of ${tool}` : ''}</h1>
<p>${running.length} running, ${heals.length - running.length} ended. Running heals show their live step from the workflow's progress query.</p>
${
  tools.length
    ? html`<p>In the Temporal UI, by tool (search attribute DiseTool): ${tools.map((t, i) => {
        const link = links.toolHeals(t);
        return html`${i ? ', ' : ''}${link ? html`<a class="tool-heals-link" href="${link}" rel="noopener">${t}</a>` : t}`;
      })}</p>`
    : ''
}
<div class="actions" data-version="">
<label for="heal-version">Version to heal</label> <input id="heal-version" name="version" placeholder="email_validator@2.0.0">
<button type="button" data-action="heal">Start heal</button>
</div>
${healTable(heals, links)}`;
  return page('Heals', '/heals', body);
}

export interface HealthPageData {
  tools: number;
  versions: number;
  byHealth: Map<Health, number>;
  recentFailures: RecentFailure[];
  healing: HealStats;
  /** The heal strategies' record per failure context and the configured order mode (self_healing.regeneration.strategy_order). */
  strategies: { mode: string; contexts: StrategyPreference[] };
  monitor: ({ reachable: true } & MonitorStatus) | { reachable: false; reason: string };
}

export function healthPage(d: HealthPageData): string {
  const s = d.healing;
  const m = d.monitor;
  const body = html`<h1>System Health Report</h1>
<p>Versions: ${d.versions} across ${d.tools} tool(s).</p>
<table class="grid" id="by-health"><thead><tr><th scope="col">Health</th><th scope="col">Versions</th><th scope="col">Share</th></tr></thead><tbody>
${HEALTH.map((h) => {
  const n = d.byHealth.get(h) ?? 0;
  const share = d.versions ? n / d.versions : 0;
  return html`<tr><td>${healthBadge(h)}</td><td class="num">${n}</td><td class="num"><meter min="0" max="1" value="${share.toFixed(4)}" aria-label="${h} share">${percent(share)}</meter> ${percent(share)}</td></tr>`;
})}
</tbody></table>
<h2>Auto-healing</h2>
<dl class="facts" id="healing"><dt>Heal events</dt><dd>${s.events}</dd><dt>Successes</dt><dd>${s.successes}</dd><dt>Failures</dt><dd>${s.failures}</dd><dt>Running</dt><dd>${s.running}</dd><dt>Success rate</dt><dd>${s.events - s.running ? percent(s.successes / (s.events - s.running)) : '-'}</dd><dt>Average recovery time</dt><dd>${s.averageRecoverySeconds === null ? '-' : `${s.averageRecoverySeconds.toFixed(2)} s`}</dd></dl>
<h2>Heal strategies</h2>
<p>Order: ${d.strategies.mode}. A strategy succeeds when its candidate was promoted and survived (<code>dise strategies</code>).</p>
${
  d.strategies.contexts.length
    ? html`<table class="grid" id="strategies"><thead><tr><th scope="col">Failure context</th><th scope="col">Heals</th><th scope="col">Prefers</th><th scope="col">Record (survived/candidates)</th></tr></thead><tbody>
${d.strategies.contexts.map((c) => html`<tr><td><code>${c.context}</code></td><td class="num">${c.heals}</td><td>${c.preferred.join(' > ') || '-'}</td><td>${c.strategies.map((x, i) => html`${i ? ', ' : ''}${x.strategy} ${x.successes}/${x.successes + x.failures}`)}</td></tr>`)}</tbody></table>`
    : html`<p id="strategies">No heal has recorded its strategy choice yet.</p>`
}
<h2>Health monitor</h2>
${
  m.reachable
    ? html`<p id="monitor">${m.paused ? 'PAUSED' : 'running'}; ${m.checks} check(s), last ${m.lastCheckAt ?? 'never'}; ${m.findings.length} finding(s) in the last check; ${m.healsStarted.length} heal(s) started; ${m.pendingReports} report(s) pending.</p>`
    : html`<p id="monitor">not reachable (${m.reason})</p>`
}
<div class="actions"><button type="button" data-action="pause">Pause monitor</button> <button type="button" data-action="resume">Resume monitor</button></div>
<h2>Recent failures</h2>
${
  d.recentFailures.length
    ? html`<ul>${d.recentFailures.map((f) => html`<li>[${f.at}] ${versionLink(f.versionId)} ${f.failureType} (${f.severity}): ${f.description} — heal: ${f.heal ? html`${f.heal.status}${f.heal.newVersionId ? html` → ${versionLink(f.heal.newVersionId)}` : ''}` : 'none'}</li>`)}</ul>`
    : html`<p>None.</p>`
}`;
  return page('Health', '/health', body);
}

export function rulesPage(rules: RuleListing[], holders: Map<string, string[]>): string {
  const body = html`<h1>Avoidance rules</h1>
${
  rules.length
    ? html`<table class="grid" id="rules"><thead><tr><th scope="col">Rule</th><th scope="col">Scope</th><th scope="col">Pattern</th><th scope="col">Description</th><th scope="col">Source</th><th scope="col">Affects</th></tr></thead><tbody>
${rules.map((r) => {
  const held = holders.get(r.ruleId) ?? [];
  return html`<tr><td>${r.ruleId}</td><td>${r.scope}</td><td><span class="muted">${r.patternKind}:</span> <code>${r.pattern}</code></td><td>${r.description}</td><td>${versionLink(r.source)}</td><td>${r.scope === 'global' ? 'all tools; ' : ''}${r.affects} version(s)${held.length ? html`: ${held.map((id, i) => html`${i ? ', ' : ''}${versionLink(id)}`)}${r.affects > held.length ? ', …' : ''}` : ''}</td></tr>`;
})}</tbody></table>`
    : html`<p>No avoidance rules yet.</p>`
}`;
  return page('Rules', '/rules', body);
}

export function errorPage(status: number, message: string): string {
  return page(`Error ${status}`, '', html`<h1>${status === 404 ? 'Not found' : 'Error'}</h1><p>${message}</p>`);
}
