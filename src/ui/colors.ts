import type { Health } from '../shared/lineage-types.js';

/**
 * How a version's state is drawn, the same colours as the CLI's mermaid and dot output
 * (src/cli/format/lineage-graph.ts): pruned red, regenerated green, degraded amber, failed pale red.
 * States beyond the five healths (a canary in progress, a version refused by the differential
 * check) are added here when they land; pages and the lineage SVG read only this map.
 */
export type VersionState = Health | 'canary' | 'shadow';

export interface StateStyle {
  fill: string;
  stroke: string;
  /** Text colour on `fill` (contrast checked against WCAG AA). */
  text: string;
  label: string;
}

export const STATE_STYLE: Record<VersionState, StateStyle> = {
  healthy: { fill: '#ffffff', stroke: '#495057', text: '#212529', label: 'healthy' },
  regenerated: { fill: '#51cf66', stroke: '#2f9e44', text: '#102a12', label: 'regenerated' },
  degraded: { fill: '#ffd43b', stroke: '#f59f00', text: '#3d2e00', label: 'degraded' },
  failed: { fill: '#ffa8a8', stroke: '#c92a2a', text: '#3b0a0a', label: 'failed' },
  pruned: { fill: '#ff6b6b', stroke: '#c92a2a', text: '#2b0000', label: 'pruned' },
  canary: { fill: '#74c0fc', stroke: '#1971c2', text: '#04233f', label: 'canary' },
  shadow: { fill: '#e5dbff', stroke: '#7048e8', text: '#1e0f4d', label: 'shadow' },
  held: { fill: '#e9ecef', stroke: '#868e96', text: '#212529', label: 'held for review' },
};

export function styleOf(state: string): StateStyle {
  return STATE_STYLE[state as VersionState] ?? STATE_STYLE.healthy;
}

/** Edges drawn dotted: a heal's (failed → regenerated) and a revert's. */
export const DOTTED_EDGES = new Set(['regenerated', 'reverts']);
