/* global document, location, sessionStorage, fetch, EventSource, DOMParser, CustomEvent, Element, setTimeout, clearTimeout */
// The dashboard's client: live updates over Server-Sent Events, and the guarded actions.
// No build step: plain modules served as they are.

const status = document.getElementById('live-status');
const result = document.getElementById('action-result');
const tokenInput = document.getElementById('token');
const TOKEN_KEY = 'dise-token';

if (tokenInput) {
  tokenInput.value = sessionStorage.getItem(TOKEN_KEY) ?? '';
  tokenInput.addEventListener('change', () => sessionStorage.setItem(TOKEN_KEY, tokenInput.value.trim()));
  document.getElementById('token-form')?.addEventListener('submit', (e) => e.preventDefault());
}

/** Replaces the page's main content with a fresh server rendering (no navigation, no reload). */
let refreshing = null;
async function refresh() {
  if (refreshing) return refreshing;
  refreshing = (async () => {
    const res = await fetch(location.href, { headers: { Accept: 'text/html' } });
    if (!res.ok) return;
    const doc = new DOMParser().parseFromString(await res.text(), 'text/html');
    const fresh = doc.getElementById('content');
    const main = document.getElementById('content');
    if (!fresh || !main) return;
    if (main.querySelector('#lineage')) {
      // The lineage page keeps its drawing (and the operator's pan and zoom): it redraws itself.
      document.dispatchEvent(new CustomEvent('dise:lineage-changed'));
      return;
    }
    main.replaceChildren(...fresh.childNodes);
    document.dispatchEvent(new CustomEvent('dise:refreshed'));
  })().finally(() => {
    setTimeout(() => (refreshing = null), 0);
  });
  return refreshing;
}

let timer = null;
function refreshSoon() {
  clearTimeout(timer);
  timer = setTimeout(() => void refresh(), 100);
}

function showProgress(p) {
  for (const cell of document.querySelectorAll('[data-progress-for]')) {
    if (cell.getAttribute('data-progress-for') !== p.versionId) continue;
    cell.textContent = `${p.step}: ${p.message}`;
    const row = cell.closest('tr');
    const attempts = row?.querySelector('.attempts');
    if (attempts) attempts.textContent = String(p.attempt);
  }
}

function connect() {
  const events = new EventSource('/events');
  events.addEventListener('ready', () => {
    if (status) status.textContent = 'live: connected';
    document.documentElement.dataset.live = 'connected';
  });
  events.addEventListener('change', (e) => {
    const event = JSON.parse(e.data);
    document.documentElement.dataset.lastEvent = event.type;
    if (event.type === 'progress') showProgress(event.data);
    else refreshSoon();
  });
  events.onerror = () => {
    if (status) status.textContent = 'live: reconnecting';
    document.documentElement.dataset.live = 'reconnecting';
  };
}
connect();

async function act(url, body) {
  const token = (tokenInput?.value ?? '').trim();
  const headers = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body ?? {}) });
  const answer = await res.json().catch(() => ({}));
  if (result) {
    result.textContent = res.ok
      ? `done: ${JSON.stringify(answer)}`
      : `refused (${res.status}): ${answer.error ?? res.statusText}`;
    result.dataset.status = String(res.status);
  }
  if (res.ok) refreshSoon();
}

document.addEventListener('click', (e) => {
  const button = e.target instanceof Element ? e.target.closest('button[data-action]') : null;
  if (!button) return;
  const action = button.getAttribute('data-action');
  const holder = button.closest('[data-version]');
  const version = holder?.getAttribute('data-version') || document.getElementById('heal-version')?.value?.trim() || '';
  const v = encodeURIComponent(version);
  if (action === 'heal') void act('/api/heals', { versionId: version });
  else if (action === 'cancel') void act(`/api/heals/${v}/cancel`);
  else if (action === 'retry') void act(`/api/heals/${v}/retry`);
  else if (action === 'pause' || action === 'resume') void act(`/api/monitor/${action}`);
  else if (action === 'canary-promote') void act(`/api/canaries/${v}/promote`);
  else if (action === 'canary-abort') void act(`/api/canaries/${v}/abort`);
  else if (action === 'review-approve' || action === 'review-refuse')
    void act(`/api/reviews/${v}/${action.slice('review-'.length)}`, {
      note: document.getElementById('review-note')?.value ?? '',
    });
});
