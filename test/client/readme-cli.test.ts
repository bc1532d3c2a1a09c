/**
 * The README's CLI section matches `--help`: every command the CLI has is in the section, and
 * every long option of every command appears there too. A command or flag added without its
 * README line fails here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/client/main';

const readme = readFileSync(join(__dirname, '../../README.md'), 'utf8');
const start = readme.indexOf('## CLI');
const block = readme.slice(start, readme.indexOf('Global options', start));

/** [command path, long flags] for every command below the root, subcommands included. */
function commands(cmd: Command, prefix: string[] = []): Array<[string, string[]]> {
  return cmd.commands
    .filter((c) => c.name() !== 'help')
    .flatMap((c) => {
      const path = [...prefix, c.name()];
      const flags = c.options.map((o) => o.long).filter((f): f is string => f !== undefined);
      return [[path.join(' '), flags] as [string, string[]], ...commands(c, path)];
    });
}

const all = commands(buildProgram());

test('the section exists and the CLI has commands to compare', () => {
  expect(start).toBeGreaterThan(0);
  expect(all.length).toBeGreaterThan(15);
});

test.each(all)('driftless %s: named in the README with each of its options', (path, flags) => {
  const top = path.split(' ')[0]!;
  expect(block).toContain(`driftless ${top}`);
  // A subcommand (catalog update, pool down, codec serve) is named beside its parent.
  if (path.includes(' '))
    expect(block).toMatch(new RegExp(`driftless ${top}\\b[^\\n]*\\b${path.split(' ')[1]}\\b`));
  const missing = flags.filter((f) => !block.includes(f));
  expect({ path, missing }).toEqual({ path, missing: [] });
});

test('the global options are listed after the commands', () => {
  const globals = buildProgram()
    .options.map((o) => o.long)
    .filter((f): f is string => f !== undefined && !['--version', '--no-color'].includes(f));
  const after = readme.slice(
    readme.indexOf('Global options', start),
    readme.indexOf('Global options', start) + 600,
  );
  for (const flag of globals) expect({ flag, listed: after.includes(flag) }).toEqual({ flag, listed: true });
});
