/**
 * Where a provider's catalog comes from and how old its prices are.
 *
 * Three places, in this order of precedence: the user's catalog directory (`catalogDir`, the
 * flag or DRIFTLESS_CATALOG_DIR), the cache that `driftless catalog update` fills
 * (`${XDG_CACHE_HOME:-~/.cache}/driftless/catalog/<provider>.csv`, with `<provider>.json` beside
 * it saying when and from where), and the snapshot bundled in data/catalog (dated by
 * data/catalog/catalog.json).
 */
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';

/** Where a catalog file was found. */
export type CatalogKind = 'dir' | 'updated' | 'bundled';

/** A catalog file, where it came from and the date its prices are counted from. */
export interface CatalogProvenance {
  provider: string;
  kind: CatalogKind;
  /** Absolute path of the file. */
  file: string;
  /**
   * When the prices were current, ISO 8601: for an updated catalog the time it was downloaded, for
   * the bundled one the date data/catalog/catalog.json gives, for a user's file its modification
   * time. Undefined when unknown.
   */
  asOf?: string;
  /** Where an updated or bundled catalog was taken from (a URL or a repository path). */
  source?: string;
  /** What the date means when it is not plain (the bundled snapshot's caveat). */
  note?: string;
}

/** The JSON `driftless catalog update` writes beside each downloaded file. */
export const UpdatedCatalogMeta = z.object({
  provider: z.string(),
  /** The URL the file was downloaded from. */
  source: z.string(),
  /** When the download finished, ISO 8601. */
  fetchedAt: z.string(),
  /** The server's Last-Modified or ETag headers, when it sent them. */
  lastModified: z.string().optional(),
  etag: z.string().optional(),
  rows: z.number(),
  offers: z.number(),
  bytes: z.number(),
  sha256: z.string(),
});
export type UpdatedCatalogMeta = z.infer<typeof UpdatedCatalogMeta>;

/** data/catalog/catalog.json: one entry per bundled file. */
export const BundledCatalogMeta = z.record(
  z.string(),
  z.object({
    source: z.string(),
    commit: z.string().optional(),
    /** The day the snapshot was read from its source. */
    readOn: z.string(),
    /** The date the prices are counted from (see `note`). */
    pricesAsOf: z.string(),
    note: z.string().optional(),
  }),
);
export type BundledCatalogMeta = z.infer<typeof BundledCatalogMeta>;

/**
 * The cache `driftless catalog update` writes to: `$XDG_CACHE_HOME/driftless/catalog`, else
 * `~/.cache/driftless/catalog` (a relative XDG_CACHE_HOME is ignored, as the XDG spec says).
 */
export function catalogCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(homedir(), '.cache');
  return path.join(base, 'driftless', 'catalog');
}

/** `<cache>/<provider>.csv` and its metadata file. */
export function cachedCatalogFiles(cacheDir: string, provider: string): { csv: string; meta: string } {
  return { csv: path.join(cacheDir, `${provider}.csv`), meta: path.join(cacheDir, `${provider}.json`) };
}

/** The metadata of an updated catalog, or undefined when it is missing or unreadable. */
export async function readUpdatedMeta(
  cacheDir: string,
  provider: string,
): Promise<UpdatedCatalogMeta | undefined> {
  try {
    const text = await readFile(cachedCatalogFiles(cacheDir, provider).meta, 'utf8');
    const parsed = UpdatedCatalogMeta.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** data/catalog/catalog.json, or {} when it cannot be read (the dates are then unknown). */
export async function readBundledMeta(bundledDir: string): Promise<BundledCatalogMeta> {
  try {
    const parsed = BundledCatalogMeta.safeParse(
      JSON.parse(await readFile(path.join(bundledDir, 'catalog.json'), 'utf8')),
    );
    return parsed.success ? parsed.data : {};
  } catch {
    return {};
  }
}

/** The modification time of a user's file, ISO 8601, or undefined. */
export async function fileTime(file: string): Promise<string | undefined> {
  try {
    return (await stat(file)).mtime.toISOString();
  } catch {
    return undefined;
  }
}

const DAY_MS = 86_400_000;

/** Whole days from `asOf` to `now` (0 for a date in the future), or undefined when unknown. */
export function ageDays(p: Pick<CatalogProvenance, 'asOf'>, now: number): number | undefined {
  if (p.asOf === undefined) return undefined;
  const t = Date.parse(p.asOf);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, Math.floor((now - t) / DAY_MS));
}

/** Age in milliseconds, or undefined when the date is unknown. */
export function ageMs(p: Pick<CatalogProvenance, 'asOf'>, now: number): number | undefined {
  if (p.asOf === undefined) return undefined;
  const t = Date.parse(p.asOf);
  return Number.isNaN(t) ? undefined : Math.max(0, now - t);
}

const days = (n: number) => `${n} day${n === 1 ? '' : 's'} old`;

/**
 * One catalog for people: `aws catalog updated 2026-11-30 (2 days old)`, `gcp bundled 2025-06-04
 * (546 days old)`, `aws from /my/dir/aws.csv, modified 2026-11-01 (31 days old)`.
 */
export function describeCatalog(p: CatalogProvenance, now: number): string {
  const age = ageDays(p, now);
  const when = p.asOf === undefined ? '(date unknown)' : `${p.asOf.slice(0, 10)} (${days(age!)})`;
  switch (p.kind) {
    case 'updated':
      return `${p.provider} catalog updated ${when}`;
    case 'bundled':
      return `${p.provider} bundled ${when}`;
    case 'dir':
      return `${p.provider} from ${p.file}, modified ${when}`;
  }
}

/** The line `offers` and `apply` print: `prices: aws catalog updated ..., gcp bundled ...`. */
export function describePrices(catalogs: readonly CatalogProvenance[], now: number): string | undefined {
  if (catalogs.length === 0) return undefined;
  return `prices: ${catalogs.map((c) => describeCatalog(c, now)).join(', ')}`;
}

/** Human form of a duration for the warning: 7d, 36h, 90m. */
function formatMaxAge(ms: number): string {
  if (ms % DAY_MS === 0) return `${ms / DAY_MS}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${Math.round(ms / 60_000)}m`;
}

/**
 * A warning for each catalog older than `maxAgeMs` (none when `maxAgeMs` is undefined, i.e.
 * catalog.maxAge is "off"); a catalog of unknown date is not warned about.
 */
export function staleCatalogWarnings(
  catalogs: readonly CatalogProvenance[],
  maxAgeMs: number | undefined,
  now: number,
): string[] {
  if (maxAgeMs === undefined) return [];
  const out: string[] = [];
  for (const c of catalogs) {
    const age = ageMs(c, now);
    if (age === undefined || age <= maxAgeMs) continue;
    const fix =
      c.kind === 'dir'
        ? `replace ${c.file}`
        : `run \`driftless catalog update${c.provider === 'aws' || c.provider === 'gcp' ? ` --provider ${c.provider}` : ''}\``;
    out.push(
      `warning: the ${c.provider} catalog is ${days(ageDays(c, now)!)} (${c.kind === 'bundled' ? 'bundled snapshot' : c.kind === 'updated' ? 'updated' : 'from the catalog directory'}, older than catalog.maxAge ${formatMaxAge(maxAgeMs)}): its prices may be wrong; ${fix}`,
    );
  }
  return out;
}
