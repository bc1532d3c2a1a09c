import type { Command } from 'commander';
import { checkHealthFile, DEFAULT_HEALTH_MAX_AGE_MS, HEALTH_FILE_ENV } from '../../health';
import { output } from '../context';
import { CliError, ExitCode } from '../errors';
import { durationOption } from './apply';

/**
 * Exits 1 when unhealthy, not 3: Docker's HEALTHCHECK contract is 0 healthy, 1 unhealthy, and
 * other codes reserved.
 */
const UNHEALTHY_EXIT_CODE = 1;

export function configureHealthCommand(program: Command): void {
  program
    .command('health')
    .description(
      `check a worker's health file (driftless worker --health-file): exit 0 when it is fresh, 1 when it is missing or stale; for a container HEALTHCHECK`,
    )
    .option('--file <path>', `the worker's health file (env ${HEALTH_FILE_ENV})`)
    .option('--max-age <duration>', 'how old the file may be', durationOption, DEFAULT_HEALTH_MAX_AGE_MS)
    .option('--json', 'print one JSON document')
    .action(async (opts: { file?: string; maxAge: number; json?: boolean }) => {
      const file = opts.file ?? (process.env[HEALTH_FILE_ENV] || undefined);
      if (!file) {
        throw new CliError(
          `no health file: give --file or set ${HEALTH_FILE_ENV}`,
          ExitCode.Usage,
          'the worker writes it with `driftless worker --health-file PATH`',
        );
      }
      const result = await checkHealthFile(file, opts.maxAge);
      if (result.ok) {
        output(
          opts.json,
          { file, ...result },
          () => `healthy: ${file} touched ${Math.round(result.ageMs / 1000)}s ago`,
        );
        return;
      }
      if (opts.json) output(true, { file, ...result }, () => '');
      process.stderr.write(`unhealthy: ${result.reason}\n`);
      process.exitCode = UNHEALTHY_EXIT_CODE;
    });
}
