import type { Command } from 'commander';
import { locateCatalogs } from '../../catalog/catalog';
import { catalogCacheDir, describeCatalog, staleCatalogWarnings } from '../../catalog/provenance';
import { UPDATABLE_PROVIDERS, updateCatalogs, type UpdateResult } from '../../catalog/update';
import { configFrom, notice, output, progress } from '../context';
import { CliError, ExitCode } from '../errors';

interface UpdateOptions {
  from?: string;
  provider?: string[];
  json?: boolean;
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

function checkBaseUrl(from: string): string {
  let url: URL;
  try {
    url = new URL(from);
  } catch {
    throw new CliError(`--from: expected an http(s) URL, got "${from}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new CliError(`--from: expected an http(s) URL, got "${from}"`);
  return from;
}

const kb = (bytes: number) => `${Math.round(bytes / 1024)} KiB`;

function formatResults(results: UpdateResult[]): string {
  const done = results.flatMap((r) =>
    r.ok
      ? [
          `${r.provider}: updated from ${r.source} (${r.rows} rows, ${r.offers} offers, ${kb(r.bytes)}) -> ${r.file}`,
        ]
      : [],
  );
  return done.length ? done.join('\n') : 'nothing updated';
}

export function configureCatalogCommand(program: Command): void {
  const catalog = program
    .command('catalog')
    .description('the AWS and GCP price catalogs: where they come from, how old they are, updating them');

  catalog
    .command('update')
    .description(
      "download SkyPilot-format catalogs (default: SkyPilot's public catalogs, v8) into the cache; " +
        'a download that does not parse leaves the previous catalog',
    )
    .option('--from <url>', 'base URL serving <provider>/vms.csv (the layout of SkyPilot catalogs/v8)')
    .option(
      '--provider <name>',
      `only this provider (repeatable): ${UPDATABLE_PROVIDERS.join(', ')}`,
      collect,
    )
    .option('--json', 'print one JSON document')
    .action(async (opts: UpdateOptions, cmd: Command) => {
      const providers = [...new Set(opts.provider ?? UPDATABLE_PROVIDERS)];
      const unknown = providers.filter((p) => !UPDATABLE_PROVIDERS.includes(p));
      if (unknown.length)
        throw new CliError(
          `--provider: expected one of ${UPDATABLE_PROVIDERS.join(', ')}, got ${unknown.map((p) => `"${p}"`).join(', ')}`,
        );
      const from = opts.from === undefined ? undefined : checkBaseUrl(opts.from);
      const config = await configFrom(cmd);
      const cacheDir = catalogCacheDir();
      progress(`downloading the ${providers.join(' and ')} catalogs ...`);
      const results = await updateCatalogs(providers, { cacheDir, ...(from ? { from } : {}) });
      output(opts.json, { cacheDir, results }, () => formatResults(results));
      const failed = results.filter((r) => !r.ok);
      if (failed.length) {
        const kept = await locateCatalogs({ providers: failed.map((r) => r.provider), cacheDir });
        for (const r of failed) {
          if (r.ok) continue;
          const now = kept.find((k) => k.provider === r.provider);
          notice(`error: ${r.provider}: ${r.error}`);
          notice(`  the previous catalog is kept: ${now ? describeCatalog(now, Date.now()) : 'none'}`);
        }
        process.exitCode = ExitCode.Failed;
      }
      if (config.catalogDir !== undefined)
        notice(
          `note: catalogDir ${config.catalogDir} is set; its files win over the updated catalogs (driftless catalog show)`,
        );
    });

  catalog
    .command('show')
    .description('which catalog each provider uses (catalog directory, updated cache or bundled) and its age')
    .option(
      '--catalog-dir <dir>',
      'SkyPilot-format catalogs replacing the others (env DRIFTLESS_CATALOG_DIR)',
    )
    .option('--json', 'print one JSON document')
    .action(async (opts: { json?: boolean; catalogDir?: string }, cmd: Command) => {
      const config = await configFrom(cmd);
      const dir = opts.catalogDir ?? config.catalogDir;
      const now = Date.now();
      const catalogs = await locateCatalogs({ dir, providers: [...UPDATABLE_PROVIDERS] }).catch(
        (err: Error) => {
          throw new CliError(err.message, ExitCode.Usage);
        },
      );
      output(opts.json, { cacheDir: catalogCacheDir(), catalogs }, () =>
        catalogs
          .map((c) => `${describeCatalog(c, now)}: ${c.file}${c.note ? `\n  (${c.note})` : ''}`)
          .join('\n'),
      );
      for (const w of staleCatalogWarnings(catalogs, config.catalog.maxAgeMs, now)) notice(w);
    });
}
