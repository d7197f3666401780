/* global document, fetch, performance, Element */
// Draws a lineage laid out by the server (dagre) as SVG, with pan and zoom. Every text goes in
// through textContent: ids and notes are data, never markup.

const SVG = 'http://www.w3.org/2000/svg';
const W = 190;
const H = 44;
const STYLE = {
  healthy: ['#ffffff', '#495057', '#212529'],
  regenerated: ['#51cf66', '#2f9e44', '#102a12'],
  degraded: ['#ffd43b', '#f59f00', '#3d2e00'],
  failed: ['#ffa8a8', '#c92a2a', '#3b0a0a'],
  pruned: ['#ff6b6b', '#c92a2a', '#2b0000'],
  canary: ['#74c0fc', '#1971c2', '#04233f'],
  shadow: ['#e5dbff', '#7048e8', '#1e0f4d'],
};
const DOTTED = new Set(['regenerated', 'reverts']);

const holder = document.getElementById('lineage');
let view = null; // { x, y, k }
let layout = null;

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (parent) parent.appendChild(e);
  return e;
}

function short(text, n) {
  return text.length > n ? text.slice(0, n - 1) + '…' : text;
}

function draw(data) {
  layout = data;
  const svg = el('svg', {
    role: 'group',
    'aria-label': `Lineage of ${data.tool}: ${data.nodes.length} versions`,
    class: 'lineage-svg',
    width: '100%',
    height: '600',
  });
  const title = el('title', {}, svg);
  title.textContent = `Lineage of ${data.tool}`;
  const defs = el('defs', {}, svg);
  const marker = el(
    'marker',
    {
      id: 'arrow',
      viewBox: '0 0 10 10',
      refX: 10,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: 'auto-start-reverse',
    },
    defs,
  );
  el('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#495057' }, marker);
  const world = el('g', { class: 'world' }, svg);
  const pos = new Map(data.nodes.map((n) => [n.id, n]));
  const edges = el('g', { class: 'edges' }, world);
  for (const e of data.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const y1 = a.y + H / 2;
    const y2 = b.y - H / 2;
    const mid = (y1 + y2) / 2;
    const d =
      Math.abs(a.x - b.x) < 1 && y2 > y1
        ? `M${a.x},${y1} L${b.x},${y2}`
        : `M${a.x},${y1} C${a.x},${mid} ${b.x},${mid} ${b.x},${y2}`;
    el(
      'path',
      {
        d,
        class: `edge edge-${e.type}`,
        'stroke-dasharray': DOTTED.has(e.type) ? '5 4' : 'none',
        'stroke-width': e.type === 'merge' ? 3 : 1.5,
        'marker-end': 'url(#arrow)',
        'data-from': e.from,
        'data-to': e.to,
        'data-type': e.type,
      },
      edges,
    );
  }
  const nodes = el('g', { class: 'nodes' }, world);
  for (const n of data.nodes) {
    const [fill, stroke, text] = STYLE[n.health] ?? STYLE.healthy;
    const a = el(
      'a',
      { href: `/versions/${encodeURIComponent(n.id)}`, class: 'node', 'data-id': n.id, 'data-health': n.health },
      nodes,
    );
    el(
      'rect',
      {
        x: n.x - W / 2,
        y: n.y - H / 2,
        width: W,
        height: H,
        rx: 6,
        fill,
        stroke,
        'stroke-width': data.routed === n.id ? 3 : 1.5,
      },
      a,
    );
    const t1 = el('text', { x: n.x, y: n.y - 4, 'text-anchor': 'middle', fill: text, class: 'node-id' }, a);
    t1.textContent = short(n.id, 28);
    const t2 = el('text', { x: n.x, y: n.y + 13, 'text-anchor': 'middle', fill: text, class: 'node-note' }, a);
    t2.textContent = short(`${n.health}: ${n.note}`, 32);
  }
  holder.replaceChildren(svg);
  if (!view) fit();
  apply();
  enablePanZoom(svg);
  holder.dataset.rendered = String(data.nodes.length);
  document.documentElement.dataset.lineageRendered = String(performance.now());
}

function fit() {
  const box = holder.getBoundingClientRect();
  const k = Math.min(1, (box.width || 800) / (layout.width + 40), 600 / (layout.height + 40));
  view = { x: ((box.width || 800) - layout.width * k) / 2, y: 10, k: Math.max(k, 0.02) };
}

function apply() {
  holder.querySelector('g.world')?.setAttribute('transform', `translate(${view.x},${view.y}) scale(${view.k})`);
}

function zoomAt(factor, cx, cy) {
  const k = Math.min(4, Math.max(0.01, view.k * factor));
  view.x = cx - ((cx - view.x) * k) / view.k;
  view.y = cy - ((cy - view.y) * k) / view.k;
  view.k = k;
  apply();
}

function enablePanZoom(svg) {
  let drag = null;
  svg.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      const r = svg.getBoundingClientRect();
      zoomAt(e.deltaY < 0 ? 1.15 : 1 / 1.15, e.clientX - r.left, e.clientY - r.top);
    },
    { passive: false },
  );
  svg.addEventListener('pointerdown', (e) => {
    if (e.target instanceof Element && e.target.closest('a')) return;
    drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y };
    svg.setPointerCapture(e.pointerId);
  });
  svg.addEventListener('pointermove', (e) => {
    if (!drag) return;
    view.x = drag.vx + e.clientX - drag.x;
    view.y = drag.vy + e.clientY - drag.y;
    apply();
  });
  svg.addEventListener('pointerup', () => (drag = null));
}

document.addEventListener('click', (e) => {
  const b = e.target instanceof Element ? e.target.closest('button[data-zoom]') : null;
  if (!b || !layout) return;
  const r = holder.getBoundingClientRect();
  const z = b.getAttribute('data-zoom');
  if (z === 'fit') {
    fit();
    apply();
  } else zoomAt(z === 'in' ? 1.25 : 0.8, r.width / 2, 300);
});

async function load() {
  const res = await fetch(holder.dataset.src);
  if (!res.ok) {
    holder.textContent = `Could not load the lineage (${res.status}).`;
    return;
  }
  draw(await res.json());
}

document.addEventListener('dise:lineage-changed', () => void load());
void load();
