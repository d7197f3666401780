import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';

function commands(c: Command, prefix = ''): [string, Command][] {
  return c.commands.flatMap((sub) => [
    [`${prefix}${sub.name()}`, sub] as [string, Command],
    ...commands(sub, `${prefix}${sub.name()} `),
  ]);
}

const program = buildProgram({ info: () => undefined, result: () => undefined });
const all = commands(program).filter(([name]) => name !== 'help');

describe('the dise command line', () => {
  it.each(all)('`dise %s --help` describes it and gives an example', (_name, command) => {
    let help = '';
    command.configureOutput({ writeOut: (s) => (help += s) });
    command.outputHelp();
    expect(command.description().length).toBeGreaterThan(10);
    expect(help).toMatch(/Examples?:\n\s+\$ .*(dise|npm run demo)/);
  });

  it('offers --json on every listing', () => {
    const listings = [
      'tool list',
      'lineage',
      'pruned',
      'strategies',
      // `dise rules --json` is `dise rules list --json`: list is the group's default.
      'rules list',
      'health',
      'heal-status',
      'migrate',
      'tool add',
      'call',
      'report',
      'heal',
    ];
    for (const name of listings) {
      const command = all.find(([n]) => n === name)![1];
      expect(
        command.options.map((o) => o.long),
        name,
      ).toContain('--json');
    }
  });
});

// Users meet the product's own words (the email-validator story, the legacy `name_vX.Y.Z` id
// spelling, the System Health Report), never the name of the document the project grew from.
describe('the words users see', () => {
  // The origin document, not a generator's random seed (the differential check records its own).
  const SEED = /\bthe seed\b|\bseed's\b|\bseed (story|lineage|spelling|tables?|values?|view)\b/i;

  it('`dise --help` and every command\'s --help never say "seed"', () => {
    const texts: [string, string][] = [['dise', ''], ...all.map(([name]) => [name, ''] as [string, string])];
    program.configureOutput({ writeOut: (s) => (texts[0]![1] += s) });
    program.outputHelp();
    all.forEach(([, command], i) => {
      command.configureOutput({ writeOut: (s) => (texts[i + 1]![1] += s) });
      command.outputHelp();
    });
    for (const [name, help] of texts) {
      expect(help.length, name).toBeGreaterThan(0);
      expect(help, `dise ${name} --help`).not.toMatch(SEED);
    }
  });

  it('the demo, the health report and the CLI views never say "seed"', () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const files = [
      'src/cli/commands/demo.ts',
      'src/cli/commands/health.ts',
      'src/cli/main.ts',
      ...readdirSync(path.join(root, 'src/demo')).map((f) => `src/demo/${f}`),
      ...readdirSync(path.join(root, 'src/cli/format')).map((f) => `src/cli/format/${f}`),
    ];
    for (const file of files) expect(readFileSync(path.join(root, file), 'utf8'), file).not.toMatch(SEED);
  });
});
