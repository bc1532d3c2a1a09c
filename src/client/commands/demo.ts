import type { Command } from 'commander';
import { join } from 'node:path';
import { notice } from '../context';

export function configureDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('failover on one machine: dev server, worker, two local pools, an outage, recovery')
    .option('--keep', 'keep the server, worker and workload running after the demo until Ctrl-C')
    .option(
      '--examples <dir>',
      'directory with driftless.config.yaml and http-service.yaml',
      join(__dirname, '../../../examples'),
    )
    .action(async (opts: { keep?: boolean; examples: string }) => {
      const { runDemo } = await import('../services/demo');
      const ac = new AbortController();
      const onSignal = () => ac.abort();
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await runDemo({
          examplesDir: opts.examples,
          keep: !!opts.keep,
          say: (l) => process.stdout.write(l + '\n'),
          signal: ac.signal,
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      notice('demo finished');
    });
}
