import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../src/cli/main.js';

function commands(c: Command, prefix = ''): [string, Command][] {
  return c.commands.flatMap((sub) => [[`${prefix}${sub.name()}`, sub] as [string, Command], ...commands(sub, `${prefix}${sub.name()} `)]);
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
    const listings = ['tool list', 'lineage', 'pruned', 'rules', 'health', 'heal-status', 'migrate', 'tool add', 'call', 'report', 'heal'];
    for (const name of listings) {
      const command = all.find(([n]) => n === name)![1];
      expect(command.options.map((o) => o.long), name).toContain('--json');
    }
  });
});
