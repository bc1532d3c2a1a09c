import type { Command } from 'commander';
import { configFrom, output } from '../context';
import { ExitCode } from '../errors';
import { table } from '../format';

interface ProviderCheck {
  provider: string;
  ok: boolean;
  detail: string;
  /** One row per region (per zone for GCP, whose zones are checked one by one). */
  regions: Array<{ region: string; zone?: string; ok: boolean; detail: string }>;
}

/** "AuthError AuthFailure: message": why a region or zone failed. */
function failure(e: { type?: string; code?: string; message?: string } | undefined): string {
  return `${e?.type ?? 'error'}${e?.code ? ` ${e.code}` : ''}: ${e?.message ?? ''}`;
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
            detail: g.ok ? `${g.zones?.length ?? 0} zones, image ${g.image?.id ?? '?'}` : failure(g.error),
          })),
        });
      }
      if (config.providers.gcp) {
        const { checkGcp } = await import('../../providers/gcp/check');
        const r = await checkGcp(config.providers.gcp, { catalogDir: config.catalogDir });
        results.push({
          provider: 'gcp',
          ok: r.ok,
          detail: `project ${r.project}, credentials ${r.credentials}`,
          regions: r.zones.map((z) => ({
            region: z.region,
            zone: z.zone,
            ok: z.ok,
            detail: z.ok ? `zone ${z.status}` : failure(z.error),
          })),
        });
      }
      output(opts.json, results, () =>
        table([
          ['PROVIDER', 'REGION', 'STATE', 'DETAIL'],
          ...results.flatMap((p) => [
            [p.provider, '-', p.ok ? 'ok' : 'FAILING', p.detail],
            ...p.regions.map((g) => ['', g.zone ?? g.region, g.ok ? 'ok' : 'FAILING', g.detail]),
          ]),
        ]),
      );
      if (results.some((p) => !p.ok)) process.exitCode = ExitCode.Failed;
    });
}
