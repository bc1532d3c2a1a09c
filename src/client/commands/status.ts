import type { Command } from 'commander';
import { output, withWorkloads } from '../context';
import { formatList, formatStatus } from '../format';

export function configureStatusCommands(program: Command): void {
  program
    .command('status')
    .description("a workload's phase, placement, attempts and timeline")
    .argument('<name>', 'workload name')
    .option('--json', 'print one JSON document')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
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
