import type { Command } from 'commander';
import { output, progress, withWorkloads } from '../context';
import { formatStatus } from '../format';
import { durationOption } from './apply';

export function configureStopCommand(program: Command): void {
  program
    .command('stop')
    .description('terminate the workload and complete its workflow')
    .argument('<name>', 'workload name')
    .option('--no-wait', 'return once the stop is requested')
    .option('--timeout <duration>', 'how long to wait for the workload to stop', durationOption, 120_000)
    .option('--json', 'print one JSON document')
    .action(async (name: string, opts: { wait: boolean; timeout: number; json?: boolean }, cmd: Command) => {
      await withWorkloads(cmd, async (svc) => {
        await svc.stop(name);
        progress(`stop requested for ${name}`);
        if (!opts.wait) {
          output(opts.json, { name, stopRequested: true }, () => `${name} stopping`);
          return;
        }
        const view = await svc.waitClosed(name, opts.timeout);
        output(opts.json, view, () => formatStatus(view));
      });
    });
}
