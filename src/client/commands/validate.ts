import type { Command } from 'commander';
import { ConfigError, loadConfig } from '../../config/config';
import { loadSpecFile, type SpecProblem } from '../../spec/load';
import type { GlobalOptions } from '../context';
import { output } from '../context';
import { CliError, ExitCode } from '../errors';
import { formatProblems } from '../format';

/** Every problem of a config file, or none; the file is read as every command reads it. */
async function configProblems(file: string): Promise<{ problems: SpecProblem[]; providers: string[] }> {
  try {
    const config = await loadConfig({ configPath: file });
    return {
      problems: [],
      providers: Object.entries(config.providers)
        .filter(([, v]) => v !== undefined)
        .map(([k]) => k),
    };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // A schema error has one problem per path; a file that cannot be read or parsed, one message.
    const problems = err.problems.length ? err.problems : [{ path: '(root)', message: err.message }];
    return { problems, providers: [] };
  }
}

export function configureValidateCommand(program: Command): void {
  program
    .command('validate')
    .description(
      'check a workload spec, or with --config a config file, and print every problem with its path; starts nothing',
    )
    .argument('[file]', 'spec file (YAML or JSON); - reads it from stdin')
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      '\n`driftless validate --config FILE` checks a config file: exit 0 when valid, 2 with every problem.',
    )
    .action(async (file: string | undefined, opts: { json?: boolean }, cmd: Command) => {
      const configFile = cmd.optsWithGlobals<GlobalOptions>().config;
      if (file === undefined && configFile === undefined)
        throw new CliError('give a spec file, or --config FILE to check a config file', ExitCode.Usage);
      let valid = true;
      const doc: Record<string, unknown> = {};
      const text: string[] = [];
      if (configFile !== undefined) {
        const { problems, providers } = await configProblems(configFile);
        valid &&= problems.length === 0;
        doc.config = problems.length
          ? { file: configFile, valid: false, problems }
          : { file: configFile, valid: true };
        text.push(
          problems.length
            ? formatProblems(configFile, problems)
            : `${configFile}: valid config (providers: ${providers.join(', ')})`,
        );
      }
      if (file !== undefined) {
        const result = await loadSpecFile(file);
        valid &&= result.ok;
        const spec = result.ok
          ? { valid: true, spec: result.spec }
          : { valid: false, problems: result.problems };
        // Only a spec: the document it always was.
        Object.assign(doc, configFile === undefined ? spec : { spec: { file, ...spec } });
        text.push(
          result.ok
            ? `${file}: valid (${result.spec.kind} ${result.spec.name})`
            : formatProblems(file, result.problems),
        );
      }
      if (configFile !== undefined) doc.valid = valid;
      output(opts.json, doc, () => text.join('\n'));
      if (!valid) process.exitCode = ExitCode.Usage;
    });
}
