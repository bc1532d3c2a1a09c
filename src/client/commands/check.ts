import type { Command } from 'commander';
import { createLogger } from '../../logger';
import { checkProviders } from '../../providers/registry';
import { configFrom, output } from '../context';
import { ExitCode } from '../errors';
import { table } from '../format';

export function configureCheckCommand(program: Command): void {
  program
    .command('check')
    .description(
      'for each configured provider: do its credentials work, which regions answer (launches nothing)',
    )
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const results = await checkProviders(config, createLogger({}, 'silent'));
      output(opts.json, results, () =>
        table([
          ['PROVIDER', 'REGION', 'STATE', 'DETAIL'],
          ...results.flatMap((p) => [
            [p.provider, '-', p.ok ? 'ok' : 'FAILING', p.detail],
            ...p.regions.map((g) => ['', g.zone ?? g.region, g.ok ? 'ok' : 'FAILING', g.detail]),
          ]),
        ]),
      );
      if (results.some((p) => !p.ok)) process.exitCode = ExitCode.Failed;
    });
}
