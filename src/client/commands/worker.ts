import type { Command } from 'commander';
import { createLogger } from '../../logger';
import { configFrom, notice } from '../context';

/** Runs until SIGINT or SIGTERM, then shuts the worker down cleanly. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once('SIGINT', on('SIGINT'));
    process.once('SIGTERM', on('SIGTERM'));
  });
}

export function configureWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a driftless worker (workflows and provider activities) until interrupted')
    .action(async (_opts: unknown, cmd: Command) => {
      const config = await configFrom(cmd);
      const { createDriftlessWorker } = await import('../../worker');
      const w = await createDriftlessWorker(config, createLogger());
      const running = w.run();
      notice(`worker polling ${config.temporal.address} task queue ${config.temporal.taskQueue}`);
      const sig = await Promise.race([untilSignal(), running.then(() => 'exit')]);
      if (sig !== 'exit') notice(`${sig}: shutting the worker down`);
      await w.shutdown();
    });
}
