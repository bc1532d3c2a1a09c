import type { Command } from 'commander';
import { configFrom, notice, output } from '../context';
import { CliError, ExitCode } from '../errors';
import { durationOption } from './apply';

interface LogsCommandOptions {
  follow?: boolean;
  tail?: number;
  since?: number;
  previous?: boolean;
  timeout: number;
  json?: boolean;
}

function linesOption(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new CliError(`--tail: expected a number of lines, got "${value}"`);
  return Number(value);
}

export function configureLogsCommand(program: Command): void {
  program
    .command('logs')
    .description("a workload's stdout and stderr, from the agent on the instance that runs it")
    .argument('<name>', 'workload name')
    .option(
      '-f, --follow',
      'keep printing new output (following the workload to its next instance) until Ctrl-C',
    )
    .option('--tail <lines>', 'only the last N lines [default: all]', linesOption)
    .option(
      '--since <duration>',
      'only what was written in the last 10m, 1h, ... (to about a second)',
      durationOption,
    )
    .option(
      '-p, --previous',
      'the instance before the current one (before a failover or a move), while it still runs',
    )
    .option('--timeout <duration>', 'how long one read waits for the agent', durationOption, 15_000)
    .option('--json', 'print one JSON document (not with --follow)')
    .addHelpText(
      'after',
      '\nThe log lives on the instance (workload.log, every restart in place appended): once an instance\n' +
        'is terminated its log is gone. Reads go through Temporal, so they work on every provider.',
    )
    .action(async (name: string, opts: LogsCommandOptions, cmd: Command) => {
      if (opts.follow && opts.json) throw new CliError('--json prints one document; it cannot --follow');
      if (opts.follow && opts.previous)
        throw new CliError(
          '--previous reads an instance that no longer runs the workload; it cannot --follow',
        );
      const config = await configFrom(cmd);
      const { connectClient } = await import('../services/temporal-client');
      const { LogsService } = await import('../services/logs');
      const client = await connectClient(config);
      // Ctrl-C ends a follow: stop reading, close the connection, exit 130. (Without --follow a
      // Ctrl-C keeps its default: the process ends at once.)
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      if (opts.follow) {
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
      }
      try {
        const result = await new LogsService(client, config).print(name, {
          previous: opts.previous,
          tailLines: opts.tail,
          sinceAgoMs: opts.since,
          follow: opts.follow,
          timeoutMs: opts.timeout,
          signal: abort.signal,
          // With --json the text goes out once, inside the document.
          write: (text) => {
            if (!opts.json) process.stdout.write(text);
          },
          notice,
        });
        if (opts.json && result) output(true, result, () => '');
        if (abort.signal.aborted) process.exitCode = ExitCode.Interrupted;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        await client.connection.close();
      }
    });
}
