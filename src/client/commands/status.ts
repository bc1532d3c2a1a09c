import type { Command } from 'commander';
import { configFrom, output } from '../context';
import { formatList, formatStatus } from '../format';
import { connectClient } from '../services/temporal-client';
import { WorkloadService } from '../services/workloads';

export function configureStatusCommands(program: Command): void {
  program
    .command('status')
    .description("a workload's phase, placement, attempts and timeline")
    .argument('<name>', 'workload name')
    .option('--json', 'print one JSON document')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const client = await connectClient(config);
      try {
        const view = await new WorkloadService(client, config).status(name);
        output(opts.json, view, () => formatStatus(view));
      } finally {
        await client.connection.close();
      }
    });

  program
    .command('ls')
    .description('list workloads (newest run of each name)')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const client = await connectClient(config);
      try {
        const views = await new WorkloadService(client, config).list();
        output(opts.json, views, () => formatList(views));
      } finally {
        await client.connection.close();
      }
    });
}
