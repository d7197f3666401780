import type { DiseConfig } from '../../config/schema.js';
import { readLiveDevState } from '../../infra/dev-state.js';
import { redactUrl } from '../../infra/database.js';
import { migrate } from '../../infra/migrator.js';
import { startEmbeddedPostgres } from '../../infra/postgres.js';
import type { Output } from '../context.js';

/** `dise migrate`: apply pending migrations to DATABASE_URL, the running dev stack, or the embedded database. */
export async function migrateCommand(options: { json: boolean }, config: DiseConfig, out: Output): Promise<void> {
  let url = process.env.DATABASE_URL || config.database.url || readLiveDevState()?.database;
  const embedded = url ? undefined : await startEmbeddedPostgres();
  url ??= embedded!.url;
  try {
    const report = await migrate(url, { log: out.info });
    if (options.json) out.result(JSON.stringify({ database: redactUrl(url), ...report }, null, 2));
    else if (report.applied.length) out.result(`applied ${report.applied.join(', ')} to ${redactUrl(url)}`);
    else out.result(`up to date: ${report.alreadyApplied.length} migration(s) already applied to ${redactUrl(url)}`);
  } finally {
    await embedded?.stop();
  }
}
