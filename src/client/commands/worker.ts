import type { Command } from 'commander';
import { HEALTH_FILE_ENV, startHealthBeat } from '../../health';
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
    .option(
      '--health-file <path>',
      `touch this file every 5s while the worker is running, for \`driftless health\` (env ${HEALTH_FILE_ENV})`,
    )
    .action(async (opts: { healthFile?: string }, cmd: Command) => {
      const config = await configFrom(cmd);
      const { createDriftlessWorker } = await import('../../worker');
      const logger = createLogger();
      const w = await createDriftlessWorker(config, logger);
      const running = w.run();
      const healthFile = opts.healthFile ?? (process.env[HEALTH_FILE_ENV] || undefined);
      const health = healthFile
        ? startHealthBeat({
            file: healthFile,
            healthy: () => w.worker.getState() === 'RUNNING',
            onError: (err) =>
              logger.warn({ component: 'worker', err, healthFile }, 'cannot touch the health file'),
          })
        : undefined;
      notice(`worker polling ${config.temporal.address} task queue ${config.temporal.taskQueue}`);
      const sig = await Promise.race([untilSignal(), running.then(() => 'exit')]);
      if (sig !== 'exit') notice(`${sig}: shutting the worker down`);
      await health?.stop();
      await w.shutdown();
    });
}
