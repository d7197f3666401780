import { runCli } from '../../src/cli/main.js';
import { captureOutput } from './output.js';

/**
 * Runs a `dise` command in this process, as an installation whose settings `env` gives (its
 * database, key directory…), and returns its exit code and what it printed.
 */
export async function runCliIn(
  env: Record<string, string>,
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  Object.assign(process.env, env);
  const out = captureOutput();
  const code = await runCli(argv, out);
  return { code, stdout: out.stdout.join('\n'), stderr: out.stderr.join('\n') };
}
