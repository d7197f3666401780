import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import type { RunningWorker } from '../../src/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startTestWorker, uniqueTaskQueue } from '../support/temporal.js';

// Every `$ npx dise …` line of README.md, run in order against a real PostgreSQL, Temporal and
// worker; each line of output the README shows must be printed (timestamps, durations, ids and
// ports aside). `npm ci && npm run demo` and `npm test` are covered by the demo test and by CI.

interface Example {
  line: number;
  argv: string[];
  expected: string[];
}

/** Splits a shell command line (single and double quotes, no expansions). */
function shellWords(command: string): string[] {
  const words: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (const m of command.matchAll(re)) words.push(m[1] ?? m[2]?.replace(/\\(.)/g, '$1') ?? m[3]!);
  return words;
}

function readmeExamples(text: string): Example[] {
  const examples: Example[] = [];
  let inBash = false;
  let current: Example | undefined;
  text.split('\n').forEach((raw, i) => {
    if (raw.startsWith('```')) {
      inBash = !inBash && raw.startsWith('```bash');
      current = undefined;
      return;
    }
    if (!inBash) return;
    if (raw.startsWith('$ npx dise ')) {
      current = { line: i + 1, argv: shellWords(raw.slice('$ npx dise '.length)), expected: [] };
      examples.push(current);
    } else if (!raw.trim() || raw.startsWith('$ ')) {
      current = undefined;
    } else {
      current?.expected.push(raw);
    }
  });
  return examples;
}

function normalize(line: string): string {
  return line
    // eslint-disable-next-line no-control-regex -- ANSI colour codes
    .replace(/\u001b\[\d+m/g, '')
    .replace(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/g, '<time>')
    .replace(/\d+\.\d+ ms/g, '<n> ms')
    .replace(/#\d+/g, '#<n>')
    .replace(/avoid_[0-9a-f]{8}/g, 'avoid_<id>')
    .replace(/ — http:\/\/\S+/g, '')
    .trimEnd();
}

let db: TestDatabase;
let worker: RunningWorker;
const cwd = process.cwd();
const saved = { ...process.env };

beforeAll(async () => {
  db = await createTestDatabase();
  const taskQueue = uniqueTaskQueue('readme');
  Object.assign(process.env, { DATABASE_URL: db.url, TEMPORAL_ADDRESS: inject('temporalAddress'), DISE_TASK_QUEUE: taskQueue, DISE_SIGNAL_MONITOR: '0', NO_COLOR: '1' });
  worker = await startTestWorker(db, { taskQueue });
  process.chdir(PACKAGE_ROOT);
});
afterAll(async () => {
  process.chdir(cwd);
  for (const k of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'DISE_TASK_QUEUE', 'DISE_SIGNAL_MONITOR', 'NO_COLOR']) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
  await worker.shutdown();
  await db.drop();
});

describe('README.md', () => {
  const examples = readmeExamples(readFileSync(path.join(PACKAGE_ROOT, 'README.md'), 'utf8'));

  it('has examples to check', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
  });

  it('every `npx dise` example prints what the README shows', async () => {
    for (const ex of examples) {
      const printed: string[] = [];
      const code = await runCli(ex.argv, { info: (l) => printed.push(...l.split('\n')), result: (t) => printed.push(...t.split('\n')) });
      const actual = new Set(printed.map(normalize));
      const errorShown = ex.expected.some((l) => l.startsWith('error: '));
      expect(code === 0 || errorShown || ex.argv[0] === 'tool', `README line ${ex.line}: dise ${ex.argv.join(' ')} exited ${code}\n${printed.join('\n')}`).toBe(true);
      for (const line of ex.expected) {
        expect(actual.has(normalize(line)), `README line ${ex.line}: "${line}" not printed by dise ${ex.argv.join(' ')}:\n${printed.join('\n')}`).toBe(true);
      }
    }
  }, 120_000);
});
