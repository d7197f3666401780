import { describe, expect, it } from 'vitest';
import { html, jsonForScript, trusted } from '../../src/ui/html.js';
import { LayoutCache, layoutLineage, NODE_HEIGHT } from '../../src/ui/layout.js';
import { sideBySide, versionPanels } from '../../src/ui/pages.js';
import type { ToolLineage } from '../../src/shared/lineage-types.js';
import type { PictureEdge, PictureNode } from '../../src/lineage/views.js';

describe('the dashboard renders untrusted text as text', () => {
  it('escapes every interpolated value, and only trusted markup passes', () => {
    const hostile = `<script>alert("x")</script><img src=x onerror='y'>&`;
    expect(html`<td>${hostile}</td>`.value).toBe(
      '<td>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&lt;img src=x onerror=&#39;y&#39;&gt;&amp;</td>',
    );
    expect(html`<a title="${'" onmouseover="x'}">`.value).toBe('<a title="&quot; onmouseover=&quot;x">');
    expect(html`${[hostile, html`<b>${hostile}</b>`]}`.value).not.toContain('<script>');
    expect(html`${trusted('<b>ok</b>')}`.value).toBe('<b>ok</b>');
    expect(jsonForScript({ code: '</script><script>x()</script>' }).value).not.toContain('</script>');
  });

  it('diffs code side by side with both sides escaped', () => {
    const table = sideBySide('function run(i) {\n  return i < 1;\n}', 'function run(i) {\n  return "<b>";\n}').value;
    expect(table).toContain(
      '<td class="del">  return i &lt; 1;</td><td class="add">  return &quot;&lt;b&gt;&quot;;</td>',
    );
    expect(table).not.toContain('<b>');
  });
});

describe('the differential evidence on the version page', () => {
  it('shows the verdict, the corpus and each difference with every answer, escaped', () => {
    const panel = versionPanels.find((p) => p.id === 'differential')!;
    const differential = {
      versionId: 't@2.0.0',
      parents: ['t@1.0.0'],
      mutationType: 'optimization',
      judgedAs: 'optimization',
      verdict: 'refused',
      seed: 7,
      inputs: 600,
      unjudged: 0,
      sources: { suite: 3, recorded: 1, generated: 596 },
      differing: 1,
      message: 'optimization changed behaviour',
      durationMs: 12.5,
      differences: [
        {
          input: '<b>@',
          originalInput: 'x<b>@y',
          source: 'generated',
          output: { output: true, error: null },
          parents: [{ id: 't@1.0.0', output: { output: false, error: null } }],
          criticalTest: null,
        },
      ],
    };
    const out = panel.render({ id: 't@2.0.0', differential } as unknown as ToolLineage)!.value;
    expect(out).toContain('REFUSED');
    expect(out).toContain('600 inputs (3 suite, 1 recorded, 596 generated; random seed 7)');
    expect(out).toContain('&quot;&lt;b&gt;@&quot;');
    expect(out).not.toContain('<b>@');
    expect(panel.render({ id: 'x@1.0.0', differential: null } as unknown as ToolLineage)!.value).toContain(
      'No differential check',
    );
  });
});

describe('the canary on the version page', () => {
  it('shows its progress and the judge, with promote and abort only while it runs', () => {
    const panel = versionPanels.find((p) => p.id === 'canary')!;
    const canary = {
      status: 'running',
      stableId: 't@1.0.0',
      mirrored: 37,
      agreement: 1,
      verdict: 'not enough data',
      reasons: ['37 of 200 mirrored calls'],
      minCalls: 200,
      decision: null,
    };
    const running = panel.render({ id: 't@1.1.0', canary } as unknown as ToolLineage)!.value;
    expect(running).toContain('37 of at least 200');
    expect(running).toContain('not enough data');
    expect(running).toContain('data-action="canary-promote"');
    expect(running).toContain('data-action="canary-abort"');
    const ended = panel.render({
      id: 't@1.1.0',
      canary: { ...canary, status: 'promoted', decision: 'promoted by the judge' },
    } as unknown as ToolLineage)!.value;
    expect(ended).not.toContain('data-action');
    expect(panel.render({ id: 't@1.0.0', canary: null } as unknown as ToolLineage)!.value).toContain('No canary');
  });
});

describe('the lineage layout', () => {
  const chain = (n: number, name = 'v'): { nodes: PictureNode[]; edges: PictureEdge[] } => ({
    nodes: Array.from({ length: n }, (_, i) => ({ id: `${name}@${i}.0.0`, health: 'healthy' as const, note: '' })),
    edges: Array.from({ length: n - 1 }, (_, i) => ({
      from: `${name}@${i}.0.0`,
      to: `${name}@${i + 1}.0.0`,
      type: 'direct' as const,
    })),
  });

  it('stacks a chain in one column, top to bottom, as one box for dagre', () => {
    const { nodes, edges } = chain(50);
    const l = layoutLineage(nodes, edges);
    expect(l.laidOut).toBe(1);
    expect(new Set(l.nodes.map((n) => n.x)).size).toBe(1);
    for (let i = 1; i < l.nodes.length; i++)
      expect(l.nodes[i]!.y - l.nodes[i - 1]!.y).toBeGreaterThanOrEqual(NODE_HEIGHT);
  });

  it('places a fork side by side below its parent, a merge below both, and a heal below the pruned version', () => {
    const nodes: PictureNode[] = ['a', 'b', 'c', 'd', 'e'].map((id) => ({
      id,
      health: id === 'b' ? 'pruned' : id === 'e' ? 'regenerated' : 'healthy',
      note: '',
    }));
    const edges: PictureEdge[] = [
      { from: 'a', to: 'b', type: 'direct' },
      { from: 'a', to: 'c', type: 'direct' },
      { from: 'b', to: 'd', type: 'merge' },
      { from: 'c', to: 'd', type: 'merge' },
      { from: 'b', to: 'e', type: 'regenerated' },
    ];
    const at = new Map(layoutLineage(nodes, edges).nodes.map((n) => [n.id, n]));
    expect(at.get('b')!.y).toBeGreaterThan(at.get('a')!.y);
    expect(at.get('b')!.y).toBe(at.get('c')!.y);
    expect(at.get('b')!.x).not.toBe(at.get('c')!.x);
    expect(at.get('d')!.y).toBeGreaterThan(at.get('b')!.y);
    expect(at.get('e')!.y).toBeGreaterThan(at.get('b')!.y);
  });

  it('reuses a layout while the shape is unchanged, with fresh healths', () => {
    const cache = new LayoutCache();
    const { nodes, edges } = chain(3);
    expect(cache.layout('v', nodes, edges).cached).toBe(false);
    const recoloured = nodes.map((n, i) => (i === 1 ? { ...n, health: 'pruned' as const } : n));
    const again = cache.layout('v', recoloured, edges);
    expect(again.cached).toBe(true);
    expect(again.nodes[1]!.health).toBe('pruned');
    const grown = chain(4);
    expect(cache.layout('v', grown.nodes, grown.edges).cached).toBe(false);
  });
});
