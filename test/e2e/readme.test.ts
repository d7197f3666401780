import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { PACKAGE_ROOT } from '../../src/infra/paths.js';
import type { RunningWorker } from '../../src/worker.js';
import { createTestDatabase, type TestDatabase } from '../support/database.js';
import { startTestWorker, uniqueTaskQueue } from '../support/temporal.js';

// What README.md and docs/*.md claim, checked:
// - every `$ npx dise …` line in a ```bash block (README first, then docs/*.md by name), run in order
//   against a real PostgreSQL, Temporal and worker; each line of output shown must be printed
//   (timestamps, durations, ids and ports aside). The walkthrough in docs/cli.md registers the email
//   story, so no page before it (by name) may register tools. `npm ci && npm run demo` and
//   `npm test` are covered by the demo test and by CI;
// - the README's command table names exactly the commands of `dise` (docs/cli.md names them all too);
// - the README's folder table names every folder under src/, and every folder it names exists;
// - the README is at most 400 lines with a contents list whose links are its own headings;
// - every relative link in README.md and docs/*.md points to an existing file (and heading).

const README = path.join(PACKAGE_ROOT, 'README.md');
const DOCS = path.join(PACKAGE_ROOT, 'docs');
const docPages = readdirSync(DOCS)
  .filter((f) => f.endsWith('.md'))
  .sort()
  .map((f) => path.join(DOCS, f));
const pages = [README, ...docPages];
const read = (file: string) => readFileSync(file, 'utf8');
const rel = (file: string) => path.relative(PACKAGE_ROOT, file);

interface Example {
  where: string;
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

function examplesOf(file: string): Example[] {
  const examples: Example[] = [];
  let inBash = false;
  let current: Example | undefined;
  read(file)
    .split('\n')
    .forEach((raw, i) => {
      if (raw.startsWith('```')) {
        inBash = !inBash && raw.startsWith('```bash');
        current = undefined;
        return;
      }
      if (!inBash) return;
      if (raw.startsWith('$ npx dise ')) {
        current = { where: `${rel(file)}:${i + 1}`, argv: shellWords(raw.slice('$ npx dise '.length)), expected: [] };
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
  return (
    line
      // eslint-disable-next-line no-control-regex -- ANSI colour codes
      .replace(/\u001b\[\d+m/g, '')
      .replace(/\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/g, '<time>')
      .replace(/\d+\.\d+ ms/g, '<n> ms')
      .replace(/#\d+/g, '#<n>')
      .replace(/avoid_[0-9a-f]{8}/g, 'avoid_<id>')
      .replace(/ — http:\/\/\S+/g, '')
      .trimEnd()
  );
}

/** The text outside fenced code blocks. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const m of prose(read(file)).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function linksOf(file: string): string[] {
  return [...prose(read(file)).matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
}

/** The section of a markdown text under the `## title` heading, up to the next `## `. */
function section(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) return '';
  const end = text.indexOf('\n## ', start + 1);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Command paths named in the first cell of a markdown table (`dise tool add <file>` → "tool add"). */
function commandsInTable(text: string): Set<string> {
  const names = new Set<string>();
  for (const row of text.split('\n').filter((l) => l.startsWith('| `dise '))) {
    const firstCell = row.split(/(?<!\\)\|/)[1] ?? '';
    for (const m of firstCell.matchAll(/`dise ([a-z][a-z-]*(?: [a-z][a-z-]*)*)/g)) names.add(m[1]!);
  }
  return names;
}

/** Commands listed under "Commands:" in `dise … --help`. */
async function helpCommands(argv: string[]): Promise<string[]> {
  const printed: string[] = [];
  await runCli([...argv, '--help'], {
    info: (l) => printed.push(...l.split('\n')),
    result: (t) => printed.push(...t.split('\n')),
  });
  const start = printed.indexOf('Commands:');
  if (start < 0) return [];
  const names: string[] = [];
  for (const line of printed.slice(start + 1)) {
    if (!line.trim()) break;
    const m = /^ {2}([a-z][a-z-]*)/.exec(line);
    if (m && m[1] !== 'help') names.push(m[1]!);
  }
  return names;
}

/** Every command of the `dise` program, as paths ("tool add", "heal"); groups stand for their commands. */
async function programCommands(prefix: string[] = []): Promise<string[]> {
  const all: string[] = [];
  for (const name of await helpCommands(prefix)) {
    const sub = await programCommands([...prefix, name]);
    if (sub.length) all.push(...sub);
    else all.push([...prefix, name].join(' '));
  }
  return all;
}

describe('README.md and docs/*.md, without services', () => {
  const readme = read(README);

  it('the README is at most 400 lines, with a contents list of its own headings', () => {
    expect(readme.split('\n').length).toBeLessThanOrEqual(400);
    const contents = section(readme, 'Contents');
    const targets = [...contents.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
    expect(targets.length, 'a "## Contents" section with links to the sections').toBeGreaterThanOrEqual(4);
    const anchors = anchorsOf(README);
    for (const t of targets) expect(anchors.has(t), `contents link #${t} is not a heading of README.md`).toBe(true);
  });

  it('every relative link in README.md and docs/*.md points to an existing file and heading', () => {
    const broken: string[] = [];
    for (const page of pages) {
      for (const link of linksOf(page)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
        const [target = '', fragment] = link.split('#');
        const file = target ? path.resolve(path.dirname(page), decodeURIComponent(target)) : page;
        if (!existsSync(file)) {
          broken.push(`${rel(page)}: ${link} (no such file)`);
        } else if (fragment && file.endsWith('.md') && !anchorsOf(file).has(fragment)) {
          broken.push(`${rel(page)}: ${link} (no such heading in ${rel(file)})`);
        }
      }
    }
    expect(broken).toEqual([]);
  });

  it('the README links to every page of docs/', () => {
    const linked = new Set(linksOf(README).map((l) => l.split('#')[0]));
    for (const page of docPages) expect(linked.has(rel(page)), `README.md does not link ${rel(page)}`).toBe(true);
  });

  it("the README's command table names exactly the commands of dise, and docs/cli.md names them all", async () => {
    const program = (await programCommands()).sort();
    expect(program.length).toBeGreaterThanOrEqual(20);
    expect([...commandsInTable(section(readme, 'The `dise` command'))].sort()).toEqual(program);
    const cli = commandsInTable(read(path.join(DOCS, 'cli.md')));
    for (const c of program) expect(cli.has(c), `docs/cli.md does not describe dise ${c}`).toBe(true);
  });

  it("the README's folder table names every folder under src/, and only folders that exist", () => {
    const table = section(readme, 'Architecture');
    const named = [...table.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!);
    for (const entry of named)
      expect(existsSync(path.join(PACKAGE_ROOT, entry)), `README names ${entry}, which does not exist`).toBe(true);
    const srcFolders = readdirSync(path.join(PACKAGE_ROOT, 'src')).filter((f) =>
      statSync(path.join(PACKAGE_ROOT, 'src', f)).isDirectory(),
    );
    for (const folder of srcFolders)
      expect(named, `README's folder table lacks src/${folder}`).toContain(`src/${folder}`);
    for (const folder of ['prisma', 'test', 'bench', 'scripts', 'bin', 'docs', 'examples'])
      expect(named).toContain(folder);
  });
});

describe('README.md and docs/*.md examples, on a real stack', () => {
  let db: TestDatabase;
  let worker: RunningWorker;
  const cwd = process.cwd();
  const saved = { ...process.env };

  beforeAll(async () => {
    db = await createTestDatabase();
    const taskQueue = uniqueTaskQueue('readme');
    Object.assign(process.env, {
      DATABASE_URL: db.url,
      TEMPORAL_ADDRESS: inject('temporalAddress'),
      DISE_TASK_QUEUE: taskQueue,
      DISE_SIGNAL_MONITOR: '0',
      NO_COLOR: '1',
    });
    worker = await startTestWorker(db, { taskQueue });
    process.chdir(PACKAGE_ROOT);
  });
  afterAll(async () => {
    process.chdir(cwd);
    for (const k of ['DATABASE_URL', 'TEMPORAL_ADDRESS', 'DISE_TASK_QUEUE', 'DISE_SIGNAL_MONITOR', 'NO_COLOR']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await worker?.shutdown();
    await db?.drop();
  });

  const examples = pages.flatMap(examplesOf);

  it('has examples to check', () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
  });

  it('every `npx dise` example prints what the page shows', async () => {
    for (const ex of examples) {
      const printed: string[] = [];
      const code = await runCli(ex.argv, {
        info: (l) => printed.push(...l.split('\n')),
        result: (t) => printed.push(...t.split('\n')),
      });
      const actual = new Set(printed.map(normalize));
      const errorShown = ex.expected.some((l) => l.startsWith('error: '));
      expect(
        code === 0 || errorShown || ex.argv[0] === 'tool',
        `${ex.where}: dise ${ex.argv.join(' ')} exited ${code}\n${printed.join('\n')}`,
      ).toBe(true);
      for (const line of ex.expected) {
        expect(
          actual.has(normalize(line)),
          `${ex.where}: "${line}" not printed by dise ${ex.argv.join(' ')}:\n${printed.join('\n')}`,
        ).toBe(true);
      }
    }
  }, 120_000);
});
