import type { Command } from 'commander';
import { loadSpecFile } from '../../spec/load';
import { output } from '../context';
import { ExitCode } from '../errors';
import { formatProblems } from '../format';

export function configureValidateCommand(program: Command): void {
  program
    .command('validate')
    .description('check a workload spec and print every problem with its path; starts nothing')
    .argument('<file>', 'spec file (YAML or JSON); - reads it from stdin')
    .option('--json', 'print one JSON document')
    .action(async (file: string, opts: { json?: boolean }) => {
      const result = await loadSpecFile(file);
      if (result.ok) {
        output(
          opts.json,
          { valid: true, spec: result.spec },
          () => `${file}: valid (${result.spec.kind} ${result.spec.name})`,
        );
        return;
      }
      output(opts.json, { valid: false, problems: result.problems }, () =>
        formatProblems(file, result.problems),
      );
      process.exitCode = ExitCode.Usage;
    });
}
