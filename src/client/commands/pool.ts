import type { Command } from 'commander';
import { createLogger } from '../../logger';
import { LocalProvider } from '../../providers/local/local-provider';
import { configFrom, output } from '../context';
import { CliError, ExitCode } from '../errors';
import { table } from '../format';

async function localProvider(cmd: Command): Promise<LocalProvider> {
  const config = await configFrom(cmd);
  if (!config.providers.local) throw new CliError('no local provider is configured', ExitCode.Usage);
  return new LocalProvider({
    config: config.providers.local,
    stateDir: config.stateDir,
    logger: createLogger(),
  });
}

export function configurePoolCommand(program: Command): void {
  const pool = program
    .command('pool')
    .description('local pools: list them, or mark one down (an outage) or up');

  pool
    .command('ls')
    .description('configured local pools, their state and free GPUs')
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const p = await localProvider(cmd);
      const offers = await p.offers();
      const rows = p.poolNames().map((name) => {
        const mine = offers.filter((o) => o.region === name);
        const max = mine.reduce((m, o) => Math.max(m, o.gpuCount), 0);
        const gpu = mine.find((o) => o.gpuType)?.gpuType;
        return { name, down: p.isPoolDown(name), freeGpus: max, gpuType: gpu ?? null };
      });
      output(opts.json, rows, () =>
        table([
          ['POOL', 'STATE', 'FREE GPUS'],
          ...rows.map((r) => [
            r.name,
            r.down ? 'down' : 'up',
            `${r.freeGpus}${r.gpuType ? ` x ${r.gpuType}` : ''}`,
          ]),
        ]),
      );
    });

  for (const state of ['down', 'up'] as const) {
    pool
      .command(state)
      .description(
        state === 'down'
          ? 'mark a pool down: provisioning there fails and its running instances are killed'
          : 'mark a pool up again',
      )
      .argument('<name>', 'pool name')
      .option('--json', 'print one JSON document')
      .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
        const p = await localProvider(cmd);
        if (!p.poolNames().includes(name)) {
          throw new CliError(
            `no local pool named "${name}"`,
            ExitCode.Usage,
            `configured: ${p.poolNames().join(', ')}`,
          );
        }
        const killed = await p.setPoolDown(name, state === 'down');
        output(opts.json, { pool: name, state, killedInstances: killed }, () =>
          state === 'down'
            ? `pool ${name} is down; killed ${killed.length} instance(s)${killed.length ? `: ${killed.join(', ')}` : ''}`
            : `pool ${name} is up`,
        );
      });
  }
}
