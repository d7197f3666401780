/// <reference lib="dom" />
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const require = createRequire(import.meta.url);
const SPARTICUZ_ENTRY = require.resolve('@sparticuz/chromium');
const SPARTICUZ_MANIFEST = path.join(path.dirname(SPARTICUZ_ENTRY), '..', 'package.json');
const SPARTICUZ_VERSION = (JSON.parse(readFileSync(SPARTICUZ_MANIFEST, 'utf8')) as { version: string }).version;

/**
 * Where the Chromium of `@sparticuz/chromium` (a devDependency: the browser comes from npm, like
 * everything else the tests need) is unpacked, one folder per package version.
 */
export const CHROMIUM_DIR = path.join(os.tmpdir(), `dise-chromium-${SPARTICUZ_VERSION}`);

/**
 * Unpacks the packaged Chromium once and returns its executable. The package itself unpacks into
 * os.tmpdir() (/tmp/chromium, /tmp/fonts, the swiftshader libraries beside them) and trusts whatever
 * /tmp/chromium it finds there, which other checkouts and versions share. So it unpacks in a child
 * process whose TMPDIR is a fresh folder, renamed into place whole: concurrent test files or
 * checkouts never run a half-written binary, and a version bump gets its own folder.
 */
function unpackChromium(): string {
  const executable = path.join(CHROMIUM_DIR, 'chromium');
  if (existsSync(executable)) return executable;
  const staging = mkdtempSync(`${CHROMIUM_DIR}.tmp-`);
  const entry = JSON.stringify(pathToFileURL(SPARTICUZ_ENTRY).href);
  const script = `const { default: c } = await import(${entry}); process.stdout.write(await c.executablePath());`;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, TMPDIR: staging },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (result.status !== 0 || result.stdout !== path.join(staging, 'chromium')) {
    rmSync(staging, { recursive: true, force: true });
    const output = result.stderr || result.stdout || result.error?.message;
    throw new Error(`@sparticuz/chromium did not unpack Chromium into ${staging} (exit ${result.status}): ${output}`);
  }
  // The package's fonts.conf names /tmp/fonts; point fontconfig at this folder's fonts, after the
  // system's own configuration when there is one.
  const fontsConf = [
    '<?xml version="1.0"?>',
    '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
    '<fontconfig>',
    '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>',
    `  <dir>${CHROMIUM_DIR}/fonts/fonts</dir>`,
    `  <cachedir>${CHROMIUM_DIR}/fonts-cache</cachedir>`,
    '</fontconfig>',
  ];
  writeFileSync(path.join(staging, 'fonts', 'fonts.conf'), fontsConf.join('\n') + '\n');
  try {
    renameSync(staging, CHROMIUM_DIR);
  } catch {
    rmSync(staging, { recursive: true, force: true }); // another process unpacked it first
  }
  return executable;
}

/**
 * The package's recommended flags, less the ones that would make this browser unlike a user's:
 * no same-origin policy, mixed content allowed, site isolation off. `--single-process` goes too:
 * it is for Lambda's sandbox, and several pages at once are steadier in separate processes.
 */
async function chromiumArgs(): Promise<string[]> {
  const { default: packaged } = (await import('@sparticuz/chromium')) as { default: { args: string[] } };
  const unlike = new Set([
    '--disable-web-security',
    '--allow-running-insecure-content',
    '--disable-site-isolation-trials',
    '--single-process',
  ]);
  // No network here besides package registries: nothing in the background should try to reach one.
  const quiet = [
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
  ];
  return [...packaged.args.filter((a) => !unlike.has(a)), ...quiet];
}

export interface TestBrowser {
  context: BrowserContext;
  /** The Chromium binary this browser runs. */
  executable: string;
  close(): Promise<void>;
}

/**
 * Launches headless Chromium with a fresh profile. DISE_CHROMIUM names another Chromium binary, for
 * machines @sparticuz/chromium has no build for (it ships Linux x64 and arm64 only); it is never
 * picked up unless set.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const override = process.env.DISE_CHROMIUM;
  if (!override && (process.platform !== 'linux' || !['x64', 'arm64'].includes(process.arch))) {
    throw new Error(
      `@sparticuz/chromium has no Chromium for ${process.platform}/${process.arch}: set DISE_CHROMIUM to a Chromium or Chrome binary to run the browser tests`,
    );
  }
  const executable = override || unpackChromium();
  const profile = mkdtempSync(path.join(os.tmpdir(), 'dise-chromium-profile-'));
  // A fresh --user-data-dir: Playwright passes it for a persistent context.
  // bypassCSP: the accessibility check injects axe-core into pages whose CSP allows no inline script.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: executable,
    args: await chromiumArgs(),
    env: override ? process.env : { ...process.env, FONTCONFIG_FILE: path.join(CHROMIUM_DIR, 'fonts', 'fonts.conf') },
    viewport: { width: 1280, height: 900 },
    bypassCSP: true,
  });
  // The browser that runs is the one named: a system Chromium (Debian's /usr/bin/chromium) is never used unnoticed.
  const running = runningChildExecutables();
  if (running && !running.includes(realpathSync(executable))) {
    await context.close();
    throw new Error(`launched ${executable}, but the browser processes run ${running.join(', ') || 'nothing'}`);
  }
  return {
    context,
    executable,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The executables of this process's child processes (Linux /proc), or undefined elsewhere. */
function runningChildExecutables(): string[] | undefined {
  if (!existsSync('/proc/self/stat')) return undefined;
  const found = new Set<string>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      // Field 4 of stat is the parent pid; the command name (field 2) may hold spaces, so split after its ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid)
        found.add(realpathSync(`/proc/${pid}/exe`));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return [...found];
}

const AXE = require.resolve('axe-core/axe.min.js');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: string[] }[];
}

/** Runs axe-core in the page; returns the serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (
      window as unknown as { axe: { run(ctx: Document, options: object): Promise<{ violations: AxeViolation[] }> } }
    ).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
  return violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}
