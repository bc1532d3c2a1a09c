import type { Command } from 'commander';
import { createLogger } from '../../logger';
import { gatherOffers } from '../../placement/place';
import { createProviders } from '../../providers/registry';
import { configFrom, output, progress, withWorkloads } from '../context';
import { targetWithZoneId } from '../services/known-names';
import { CliError, ExitCode } from '../errors';
import { durationOption } from './apply';

interface MigrateOptions {
  to?: string;
  reason?: string;
  wait: boolean;
  timeout: number;
  json?: boolean;
}

/**
 * `--to provider/region/zone` may name the zone (us-east-1a) or its id (use1-az1): the workflow
 * knows locations by id, so a name is looked up in the configured provider's offers first.
 */
async function zoneById(to: string, cmd: Command): Promise<string> {
  if (to.split('/').length !== 3) return to;
  const config = await configFrom(cmd);
  const providers = await createProviders(config, createLogger({}, 'warn'));
  const { offers } = await gatherOffers(providers.values());
  return targetWithZoneId(to, offers);
}

export function configureMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description(
      'move a running workload: services make-before-break (the new instance serves before the old one goes), jobs restart at the target',
    )
    .argument('<name>', 'workload name')
    .option(
      '--to <target>',
      'provider, provider/region or provider/region/zone (local pools: local/<pool>); default: the best offer elsewhere',
    )
    .option('--reason <text>', 'why, for the timeline')
    .option('--no-wait', 'return once the workload has accepted the request')
    .option('--timeout <duration>', 'how long to wait for the move', durationOption, 900_000)
    .option('--json', 'print one JSON document')
    .addHelpText(
      'after',
      '\nThe workflow refuses a target its spec forbids or where no offer fits, and then changes nothing (exit 2).\n' +
        'A move that is accepted but cannot be carried out leaves the workload where it was (exit 3).\n' +
        'From the Temporal Web UI, send the signal "migrate" with {"to": "local/lab-b"} to the same effect.',
    )
    .action(async (name: string, opts: MigrateOptions, cmd: Command) => {
      const to = opts.to && (await zoneById(opts.to, cmd));
      await withWorkloads(cmd, async (svc) => {
        const req = { to, reason: opts.reason };
        progress(`migrating ${name} to ${to ?? 'the best offer elsewhere'}`);
        const result = await Promise.race([
          svc.migrate(name, req, opts.wait),
          new Promise<never>((_, reject) =>
            setTimeout(
              () =>
                reject(
                  new CliError(
                    `${name}: the move did not finish within ${opts.timeout / 1000}s`,
                    ExitCode.Failed,
                  ),
                ),
              opts.timeout,
            ).unref(),
          ),
        ]);
        if (!result) {
          output(opts.json, { name, accepted: true }, () => `${name}: migration accepted`);
          return;
        }
        output(
          opts.json,
          { name, ...result },
          () =>
            `${name} moved from ${result.from.replace(/\/$/, '') || '(nothing)'} to ${result.to} ` +
            `(instance ${result.instanceId}, ${(result.tookMs / 1000).toFixed(1)}s)`,
        );
      });
    });
}
