import type { Hono } from 'hono';
import type { LineageStore } from '../lineage/store.js';
import { installationIdentity, rulesKeyDir } from '../rules/keys.js';
import { buildPack } from '../rules/pack.js';

/**
 * `GET /rules/pack`: this installation's signed pack, for peers subscribed with `dise rules subscribe`.
 * Read-only and open (no token): a pack holds rules and their examples, and its signature, not any
 * secret; `?since=` and `?tool=` filter it as `dise rules export` does.
 */
export function addRulesPack(app: Hono, store: LineageStore, keyDir: string = rulesKeyDir()): void {
  app.get('/rules/pack', async (c) => {
    const since = c.req.query('since');
    const sinceDate = since ? new Date(since) : undefined;
    if (sinceDate && Number.isNaN(sinceDate.getTime())) return c.json({ error: `since: not a time: ${since}` }, 400);
    const identity = installationIdentity(keyDir);
    const docs = await store.shared.exportDocuments(
      { since: sinceDate, tool: c.req.query('tool') || undefined },
      identity.installationId,
    );
    c.header('Cache-Control', 'no-store');
    return c.json(buildPack(docs, identity));
  });
}
