import type { Command } from 'commander';
import { output, withWorkloads } from '../context';
import { CliError, ExitCode } from '../errors';
import { formatList, formatStatus } from '../format';
import { watchStatus } from '../watch';

/** `status --watch`: on stdout (it is the result), until the workflow ends (0) or Ctrl-C (130). */
async function watch(name: string, cmd: Command): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await withWorkloads(cmd, (svc) =>
      watchStatus(
        () => svc.status(name),
        { write: (t) => process.stdout.write(t), tty: !!process.stdout.isTTY },
        {
          signal: stop.signal,
        },
      ),
    );
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  if (stop.signal.aborted) process.exitCode = ExitCode.Interrupted;
}

export function configureStatusCommands(program: Command): void {
  program
    .command('status')
    .description("a workload's phase, placement, attempts and timeline")
    .argument('<name>', 'workload name')
    .option('--watch', 'refresh until the workload ends or Ctrl-C (exit 130)')
    .option('--json', 'print one JSON document')
    .action(async (name: string, opts: { json?: boolean; watch?: boolean }, cmd: Command) => {
      if (opts.watch) {
        if (opts.json)
          throw new CliError(
            '--watch and --json do not go together: --json prints one document',
            ExitCode.Usage,
            'poll `driftless status NAME --json` from a script instead',
          );
        await watch(name, cmd);
        return;
      }
      const view = await withWorkloads(cmd, (svc) => svc.status(name));
      output(opts.json, view, () => formatStatus(view));
    });

  program
    .command('ls')
    .description('list workloads (newest run of each name)')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const views = await withWorkloads(cmd, (svc) => svc.list());
      output(opts.json, views, () => formatList(views));
    });
}
