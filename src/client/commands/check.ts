import type { Command } from 'commander';
import { configFrom, output } from '../context';
import { ExitCode } from '../errors';
import { table } from '../format';

interface ProviderCheck {
  provider: string;
  ok: boolean;
  detail: string;
  regions: Array<{ region: string; ok: boolean; detail: string }>;
}

export function configureCheckCommand(program: Command): void {
  program
    .command('check')
    .description(
      'for each configured provider: do its credentials work, which regions answer (launches nothing)',
    )
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const config = await configFrom(cmd);
      const results: ProviderCheck[] = [];
      if (config.providers.local) {
        const pools = config.providers.local.pools.map((p) => p.name);
        results.push({
          provider: 'local',
          ok: true,
          detail: `${pools.length} pool(s) on this machine`,
          regions: pools.map((p) => ({ region: p, ok: true, detail: 'pool' })),
        });
      }
      if (config.providers.aws) {
        const { checkAws } = await import('../../providers/aws/check');
        const r = await checkAws(config.providers.aws);
        results.push({
          provider: 'aws',
          ok: r.ok,
          detail: `credentials ${r.credentials}`,
          regions: r.regions.map((g) => ({
            region: g.region,
            ok: g.ok,
            detail: g.ok
              ? `${g.zones?.length ?? 0} zones, image ${g.image?.id ?? '?'}`
              : `${g.error?.type ?? 'error'}${g.error?.code ? ` ${g.error.code}` : ''}: ${g.error?.message ?? ''}`,
          })),
        });
      }
      output(opts.json, results, () =>
        table([
          ['PROVIDER', 'REGION', 'STATE', 'DETAIL'],
          ...results.flatMap((p) => [
            [p.provider, '-', p.ok ? 'ok' : 'FAILING', p.detail],
            ...p.regions.map((g) => ['', g.region, g.ok ? 'ok' : 'FAILING', g.detail]),
          ]),
        ]),
      );
      if (results.some((p) => !p.ok)) process.exitCode = ExitCode.Failed;
    });
}
