import type { Command } from 'commander';
import { z } from 'zod';
import { loadSpecFile, problemsFromZod } from '../../spec/load';
import { PlacementConstraints, Resources } from '../../spec/workload-spec';
import type { PlacementSpec } from '../../placement/rank';
import { createLogger } from '../../logger';
import { configFrom, notice, output } from '../context';
import { CliError, ExitCode } from '../errors';
import { formatProblems, table } from '../format';
import { knownNames, unknownNames, unmatchedZones } from '../services/known-names';
import { allOffers, explainOffers, type OffersResult } from '../services/offers';
import { describePrices, staleCatalogWarnings } from '../../catalog/provenance';

interface OffersOptions {
  gpu?: string;
  cpu?: string;
  memory?: string;
  spot?: boolean;
  provider?: string[];
  region?: string[];
  zone?: string[];
  maxPrice?: string;
  instanceType?: string;
  limit: string;
  explain?: boolean;
  json?: boolean;
  catalogDir?: string;
}

const FLAG_OF: Record<string, string> = {
  'resources.gpu': '--gpu',
  'resources.cpu': '--cpu',
  'resources.memory': '--memory',
  'placement.maxPricePerHour': '--max-price',
  'placement.instanceType': '--instance-type',
  'placement.providers': '--provider',
  'placement.regions': '--region',
  'placement.zones': '--zone',
};

/** The flag that sets a spec path (`resources.gpu.type` -> `--gpu`). */
const flagOf = (path: string) => Object.entries(FLAG_OF).find(([p]) => path.startsWith(p))?.[1] ?? path;

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Flags -> the same resources and placement a spec file holds, validated by the same schemas. */
function specFromFlags(o: OffersOptions): PlacementSpec {
  const num = (v: string | undefined) =>
    v === undefined ? undefined : /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
  const doc = {
    resources: { gpu: o.gpu ?? 'any', cpu: num(o.cpu), memory: o.memory },
    placement: {
      providers: o.provider,
      regions: o.region,
      zones: o.zone,
      spot: o.spot ? 'require' : 'never',
      maxPricePerHour: num(o.maxPrice),
      instanceType: o.instanceType,
    },
  };
  const parsed = z.object({ resources: Resources, placement: PlacementConstraints }).safeParse(doc);
  if (!parsed.success) {
    const lines = problemsFromZod(parsed.error).map((p) => {
      return `${flagOf(p.path)}: ${p.message}`;
    });
    throw new CliError(lines.join('\n'), ExitCode.Usage);
  }
  return parsed.data;
}

const money = (n: number | undefined) => (n === undefined ? '-' : n.toFixed(n < 10 ? 3 : 2));

function formatOffers(r: OffersResult, explain: boolean): string {
  const out: string[] = [];
  if (r.rows.length === 0) {
    out.push(`nothing matches (${r.considered} offers considered).`);
    if (r.nearestMisses?.length) {
      out.push('nearest misses:');
      for (const m of r.nearestMisses)
        out.push(`  ${m.offer} $${money(m.pricePerHour)}/h: ${m.reasons.join('; ')}`);
    }
  } else {
    out.push(
      table([
        ['PROVIDER', 'REGION', 'ZONE', 'INSTANCE', 'GPUS', 'GPU MEM', 'VCPUS', 'RAM', '$/H', 'SPOT $/H'],
        ...r.rows.map((x) => [
          x.configured === false ? `${x.provider} (not configured)` : x.provider,
          x.region,
          x.zoneName ? `${x.zone} (${x.zoneName})` : x.zone,
          x.instanceType,
          x.gpuType ? `${x.gpuCount}x ${x.gpuType}` : '-',
          x.gpuMemoryGb ? `${x.gpuMemoryGb}GB` : '-',
          String(x.vcpus),
          `${Math.round(x.memoryGb)}GB`,
          money(x.pricePerHour),
          money(x.spotPricePerHour),
        ]),
      ]),
    );
    out.push(`${r.matched} offers fit (${r.rows.length} shown), ${r.considered - r.matched} passed over.`);
  }
  if (explain) {
    out.push('passed over, by reason:');
    for (const g of r.rejected.slice(0, 25))
      out.push(`  ${String(g.count).padStart(6)}  ${g.reason}  (e.g. ${g.example})`);
    if (r.rejected.length > 25)
      out.push(`  ... and ${r.rejected.length - 25} more reasons (--json has them all)`);
  } else if (r.considered > r.matched) {
    out.push('(--explain shows why the others were passed over)');
  }
  // Browsable, not placeable: say how to make them count.
  for (const p of new Set(r.rows.filter((x) => x.configured === false).map((x) => x.provider)))
    out.push(
      `${p} is not configured: add providers.${p} to driftless.config.yaml (README: Running against AWS and GCP)`,
    );
  return out.join('\n');
}

export function configureOffersCommand(program: Command): void {
  program
    .command('offers')
    .description(
      'priced offers that fit a spec or the flags, cheapest first (AWS and GCP catalogs, local pools)',
    )
    .argument('[file]', 'a workload spec (- reads it from stdin); its resources and placement are used')
    .option('--gpu <gpu>', 'GPU request: H100:8, A100:4..8, L4, any [default: any]')
    .option('--cpu <n>', 'vCPUs: 16 (at least) or a range such as 16..32')
    .option('--memory <size>', 'RAM: 64GB (at least) or a range such as 64GB..256GB')
    .option('--spot', 'spot offers only, ranked by spot price')
    .option('--provider <name>', 'allowed provider (repeatable)', collect)
    .option('--region <glob>', "allowed region, globs allowed: 'us-*' (repeatable)", collect)
    .option('--zone <glob>', 'allowed zone (repeatable)', collect)
    .option('--max-price <usd>', 'most US$ per hour')
    .option('--instance-type <type>', 'only this instance type')
    .option('--limit <n>', 'rows to show; 0 for all', '20')
    .option('--explain', 'also show why the other offers were passed over, grouped by reason')
    .option(
      '--catalog-dir <dir>',
      'SkyPilot-format catalogs replacing the bundled ones (env DRIFTLESS_CATALOG_DIR)',
    )
    .option('--json', 'print one JSON document')
    .action(async (file: string | undefined, opts: OffersOptions, cmd: Command) => {
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 0)
        throw new CliError(`--limit: expected a whole number, got "${opts.limit}"`);
      const flagsUsed = [
        'gpu',
        'cpu',
        'memory',
        'spot',
        'provider',
        'region',
        'zone',
        'maxPrice',
        'instanceType',
      ].some((k) => opts[k as keyof OffersOptions] !== undefined);
      let spec: PlacementSpec;
      if (file) {
        if (flagsUsed) throw new CliError('give either a spec file or --gpu/--region/... flags, not both');
        const loaded = await loadSpecFile(file);
        if (!loaded.ok) throw new CliError(`invalid spec:\n${formatProblems(file, loaded.problems)}`);
        spec = loaded.spec;
      } else {
        spec = specFromFlags(opts);
      }
      const config = await configFrom(cmd);
      if (opts.catalogDir) config.catalogDir = opts.catalogDir;
      const { offers, catalogs, providerErrors, unconfigured } = await allOffers(
        config,
        createLogger({}, 'warn'),
      ).catch((err: Error) => {
        throw new CliError(err.message, ExitCode.Usage);
      });
      // A GPU or provider nobody knows is a typo: said with the nearest names, exit 2.
      const unknown = unknownNames(spec, knownNames(offers), providerErrors.length === 0);
      if (unknown.length)
        throw new CliError(
          file
            ? formatProblems(file, unknown)
            : unknown.map((p) => `${flagOf(p.path)}: ${p.message}`).join('\n'),
          ExitCode.Usage,
        );
      for (const w of unmatchedZones(spec, offers)) notice(`warning: ${w}`);
      // The others' offers are still worth showing; the failing provider is named on stderr.
      for (const e of providerErrors) notice(`could not list offers of ${e}`);
      const explained = explainOffers(spec, offers, Date.now(), limit);
      for (const row of explained.rows) row.configured = !unconfigured.includes(row.provider);
      const result: OffersResult = {
        ...explained,
        catalogs,
        ...(providerErrors.length ? { providerErrors } : {}),
        ...(unconfigured.length ? { unconfigured } : {}),
      };
      const now = Date.now();
      output(opts.json, result, () => {
        const prices = describePrices(catalogs, now);
        return formatOffers(result, !!opts.explain) + (prices ? `\n${prices}` : '');
      });
      for (const w of staleCatalogWarnings(catalogs, config.catalog.maxAgeMs, now)) notice(w);
      // Nothing can run this: a failure for scripts, explained above.
      if (result.matched === 0) process.exitCode = ExitCode.Failed;
    });
}
