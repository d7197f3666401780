/**
 * A tool runtime in its own process, for tests of cross-process behaviour. Calls `tool` every
 * `intervalMs` and prints one JSON line per call: {at, version} or {at, error}. Stops on SIGTERM.
 */
import { ToolRuntime } from '../../src/runtime/index.js';

const [databaseUrl, tool, intervalMs = '20'] = process.argv.slice(2);
const runtime = await ToolRuntime.create({ databaseUrl: databaseUrl!, log: (l) => process.stderr.write(l + '\n') });
let stopping = false;
process.on('SIGTERM', () => {
  stopping = true;
});
process.stdout.write(JSON.stringify({ ready: true }) + '\n');
let n = 0;
while (!stopping) {
  const at = Date.now();
  try {
    const r = await runtime.callDetailed(tool!, n++);
    process.stdout.write(JSON.stringify({ at, version: r.versionId }) + '\n');
  } catch (err) {
    process.stdout.write(JSON.stringify({ at, error: (err as Error).name }) + '\n');
  }
  await new Promise((r) => setTimeout(r, Number(intervalMs)));
}
await runtime.close();
process.exit(0);
