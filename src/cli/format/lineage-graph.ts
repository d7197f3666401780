import type { Health, RelationshipType } from '../../shared/lineage-types.js';

export interface GraphNode {
  id: string;
  health: Health;
  /** A short note shown under the id, e.g. the mutation. */
  note: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  type: RelationshipType;
}

/** Colours as in the README's lineage diagrams: pruned red, regenerated green, degraded amber. */
const STYLE: Partial<Record<Health, { fill: string; stroke: string }>> = {
  pruned: { fill: '#ff6b6b', stroke: '#c92a2a' },
  failed: { fill: '#ffa8a8', stroke: '#c92a2a' },
  regenerated: { fill: '#51cf66', stroke: '#2f9e44' },
  degraded: { fill: '#ffd43b', stroke: '#f59f00' },
  canary: { fill: '#74c0fc', stroke: '#1971c2' },
  held: { fill: '#e9ecef', stroke: '#868e96' },
};

const MARK: Record<Health, string> = {
  healthy: '',
  regenerated: '✅ ',
  degraded: '⚠️ ',
  failed: '✗ ',
  pruned: '💥 ',
  canary: '🐤 ',
  held: '⏸ ',
};

function safeId(id: string): string {
  return id.replace(/[^a-zA-Z0-9_]/g, '_');
}

function escapeLabel(s: string): string {
  return s.replace(/"/g, "'").replace(/[<>]/g, '');
}

const HEALING_LABEL: Partial<Record<RelationshipType, string>> = { regenerated: 'healed', reverts: 'reverted' };

/** A mermaid `graph TD` of the lineage; healing edges (failed → regenerated, pruned → revert) are dotted. */
export function renderMermaid(nodes: GraphNode[], edges: GraphEdge[]): string {
  const lines = ['graph TD'];
  for (const n of nodes)
    lines.push(`    ${safeId(n.id)}["${escapeLabel(n.id)}<br/>${MARK[n.health]}${escapeLabel(n.note)}"]`);
  for (const e of edges) {
    const label = HEALING_LABEL[e.type];
    lines.push(
      label
        ? `    ${safeId(e.from)} -.-> |${label}| ${safeId(e.to)}`
        : `    ${safeId(e.from)} ${e.type === 'merge' ? '==>' : '-->'} ${safeId(e.to)}`,
    );
  }
  for (const n of nodes) {
    const style = STYLE[n.health];
    if (style) lines.push(`    style ${safeId(n.id)} fill:${style.fill},stroke:${style.stroke}`);
  }
  return lines.join('\n');
}

/** The same picture in Graphviz dot. */
export function renderDot(nodes: GraphNode[], edges: GraphEdge[]): string {
  const lines = [
    'digraph lineage {',
    '  rankdir=TB;',
    '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica"];',
  ];
  for (const n of nodes) {
    const style = STYLE[n.health];
    const color = style ? `, fillcolor="${style.fill}", color="${style.stroke}"` : '';
    lines.push(
      `  "${n.id}" [label="${escapeLabel(n.id)}\\n${escapeLabel(n.health.toUpperCase())}: ${escapeLabel(n.note)}"${color}];`,
    );
  }
  for (const e of edges) {
    const label = HEALING_LABEL[e.type];
    lines.push(
      label
        ? `  "${e.from}" -> "${e.to}" [style=dotted, label="${label}"];`
        : `  "${e.from}" -> "${e.to}"${e.type === 'merge' ? ' [penwidth=2, label="merge"]' : ''};`,
    );
  }
  lines.push('}');
  return lines.join('\n');
}
