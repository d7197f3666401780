import { createHash } from 'node:crypto';
import dagre from '@dagrejs/dagre';
import type { PictureEdge, PictureNode } from '../lineage/views.js';

export const NODE_WIDTH = 190;
export const NODE_HEIGHT = 44;
const CHAIN_GAP = 26;

export interface PlacedNode extends PictureNode {
  /** Centre of the node. */
  x: number;
  y: number;
}

export interface LineageLayout {
  nodes: PlacedNode[];
  edges: PictureEdge[];
  width: number;
  height: number;
  /** How many boxes the layout library placed (chains count once). */
  laidOut: number;
}

/**
 * Lays a lineage out top-down with dagre (a Sugiyama layout: ranks, crossing reduction, coordinates).
 * Lineages are mostly long chains (each version the only child of its parent), so every maximal
 * chain is given to dagre as one tall box and its versions are stacked inside it: dagre places the
 * branches, forks and merges, and a 1,000-version lineage costs it tens of boxes, not 1,000.
 */
export function layoutLineage(nodes: PictureNode[], edges: PictureEdge[]): LineageLayout {
  const ids = new Set(nodes.map((n) => n.id));
  const inside = edges.filter((e) => ids.has(e.from) && ids.has(e.to) && e.from !== e.to);
  const outs = new Map<string, PictureEdge[]>();
  const ins = new Map<string, PictureEdge[]>();
  for (const e of inside) {
    (outs.get(e.from) ?? outs.set(e.from, []).get(e.from)!).push(e);
    (ins.get(e.to) ?? ins.set(e.to, []).get(e.to)!).push(e);
  }
  // v continues u's chain when u → v (direct) is u's only way out and v's only way in.
  const next = new Map<string, string>();
  const continues = new Set<string>();
  for (const e of inside) {
    if (e.type === 'direct' && outs.get(e.from)!.length === 1 && ins.get(e.to)!.length === 1) {
      next.set(e.from, e.to);
      continues.add(e.to);
    }
  }
  const chainOf = new Map<string, number>();
  const chains: string[][] = [];
  const startChain = (start: string) => {
    const chain = [start];
    chainOf.set(start, chains.length);
    for (let v = next.get(start); v !== undefined && !chainOf.has(v); v = next.get(v)) {
      chain.push(v);
      chainOf.set(v, chains.length);
    }
    chains.push(chain);
  };
  for (const n of nodes) if (!continues.has(n.id) && !chainOf.has(n.id)) startChain(n.id);
  for (const n of nodes) if (!chainOf.has(n.id)) startChain(n.id); // a cycle of continuations (never in a DAG)

  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: 30, ranksep: 46, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  chains.forEach((chain, i) =>
    g.setNode(String(i), { width: NODE_WIDTH, height: chain.length * NODE_HEIGHT + (chain.length - 1) * CHAIN_GAP }),
  );
  for (const e of inside) {
    const a = chainOf.get(e.from)!;
    const b = chainOf.get(e.to)!;
    if (a !== b) g.setEdge(String(a), String(b));
  }
  dagre.layout(g);

  const position = new Map<string, { x: number; y: number }>();
  chains.forEach((chain, i) => {
    const box = g.node(String(i));
    const top = box.y - box.height / 2;
    chain.forEach((id, k) => position.set(id, { x: box.x, y: top + k * (NODE_HEIGHT + CHAIN_GAP) + NODE_HEIGHT / 2 }));
  });
  const graph = g.graph();
  return {
    nodes: nodes.map((n) => ({ ...n, ...position.get(n.id)! })),
    edges: inside,
    width: Math.ceil(graph.width ?? NODE_WIDTH),
    height: Math.ceil(graph.height ?? NODE_HEIGHT),
    laidOut: chains.length,
  };
}

/**
 * Layouts by tool, reused while the lineage's shape (its versions and edges) is unchanged: a heal,
 * a route or a health change recolours nodes but moves none, so only new versions or edges cost a
 * new layout.
 */
export class LayoutCache {
  private readonly byTool = new Map<string, { shape: string; layout: LineageLayout }>();

  constructor(private readonly maxTools = 50) {}

  layout(tool: string, nodes: PictureNode[], edges: PictureEdge[]): LineageLayout & { cached: boolean } {
    const shape = createHash('sha1')
      .update(nodes.map((n) => n.id).join('\n'))
      .update('\0')
      .update(edges.map((e) => `${e.from}>${e.to}:${e.type}`).join('\n'))
      .digest('hex');
    const hit = this.byTool.get(tool);
    if (hit && hit.shape === shape) {
      const fresh = new Map(nodes.map((n) => [n.id, n]));
      return {
        ...hit.layout,
        nodes: hit.layout.nodes.map((p) => ({ ...p, ...fresh.get(p.id)!, x: p.x, y: p.y })),
        cached: true,
      };
    }
    const layout = layoutLineage(nodes, edges);
    this.byTool.delete(tool);
    this.byTool.set(tool, { shape, layout });
    if (this.byTool.size > this.maxTools) this.byTool.delete(this.byTool.keys().next().value!);
    return { ...layout, cached: false };
  }
}
