/**
 * The price catalog: the offers AWS and GCP can make, from SkyPilot-style CSV files.
 *
 * Bundled files live in `data/catalog/<provider>.csv` under the package root (see
 * data/catalog/README.md for where they come from). `driftless catalog update` downloads newer
 * ones into a cache (./provenance.ts, ./update.ts), which wins over the bundled file. A user
 * directory wins over both: `<dir>/<provider>.csv`, or SkyPilot's own layout
 * `<dir>/<provider>/vms.csv` (so `~/.sky/catalogs/v7` works as it is). Bundled files are parsed
 * once per process, updated ones once per version of the file; user files are read on every
 * call, so edits show up.
 */
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { packageRoot } from '../package-root';
import type { Offer } from '../common/offer';
import { offersFromRows } from './offers';
import {
  cachedCatalogFiles,
  catalogCacheDir,
  fileTime,
  readBundledMeta,
  readUpdatedMeta,
  type BundledCatalogMeta,
  type CatalogProvenance,
} from './provenance';
import { parseSkypilotCsv } from './skypilot-csv';

/** Providers with a bundled catalog file. */
export const BUNDLED_PROVIDERS: readonly string[] = Object.freeze(['aws', 'gcp']);

/** A catalog file read: where it came from, how old it is, what it held. */
export interface CatalogSource extends CatalogProvenance {
  /** Data rows parsed (comments, blank lines and the header not counted). */
  rows: number;
  offers: number;
  /** True for the file shipped with driftless, false for an updated one or the user's. */
  bundled: boolean;
}

export interface LoadedCatalog {
  offers: Offer[];
  sources: CatalogSource[];
  /** Everything odd in the data that was dropped, merged or left unpriced; one line each. */
  anomalies: string[];
}

export interface LoadCatalogOptions {
  /** A directory whose `<provider>.csv` or `<provider>/vms.csv` replaces the bundled file. */
  dir?: string;
  /** Providers to load, in this order. Default: the bundled ones ({@link BUNDLED_PROVIDERS}). */
  providers?: string[];
  /**
   * Where `driftless catalog update` keeps downloaded catalogs; false: never use them.
   * @default {@link catalogCacheDir} (XDG_CACHE_HOME, read when called)
   */
  cacheDir?: string | false;
}

/** The offers, row count and anomalies of one catalog file's text. */
export interface ParsedCatalog {
  rows: number;
  offers: Offer[];
  anomalies: string[];
}

/**
 * Parses one catalog file's text (no I/O). Throws an Error starting with `file` when the header
 * is unusable or any row is malformed (listing up to five of them): a catalog with broken rows is
 * not trusted in part. Data that parses but looks wrong ends up in `anomalies`.
 */
export function catalogFromCsv(provider: string, text: string, file = `${provider}.csv`): ParsedCatalog {
  let parsed: ReturnType<typeof parseSkypilotCsv>;
  try {
    parsed = parseSkypilotCsv(text, provider);
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  if (parsed.problems.length > 0) {
    const shown = parsed.problems.slice(0, 5).join('; ');
    const more = parsed.problems.length > 5 ? `; and ${parsed.problems.length - 5} more` : '';
    const n = parsed.problems.length;
    throw new Error(
      `${file}: ${provider} catalog has ${n} malformed row${n > 1 ? 's' : ''}: ${shown}${more}`,
    );
  }
  const { offers, anomalies } = offersFromRows(provider, parsed.rows);
  return { rows: parsed.rows.length, offers, anomalies };
}

export { packageRoot };

/** `<package root>/data/catalog`. */
export function bundledCatalogDir(): string {
  return path.join(packageRoot(), 'data', 'catalog');
}

const bundledCache = new Map<string, Promise<ParsedCatalog>>();
/** Updated files, by path, with the size and time of the version parsed. */
const updatedCache = new Map<string, { version: string; parsed: Promise<ParsedCatalog> }>();

let bundledMetaCache: Promise<BundledCatalogMeta> | undefined;

/** Forgets the parsed bundled and updated files (tests). */
export function clearCatalogCache(): void {
  bundledCache.clear();
  updatedCache.clear();
  bundledMetaCache = undefined;
}

/** data/catalog/catalog.json, read once per process like the bundled files it dates. */
function bundledMeta(): Promise<BundledCatalogMeta> {
  bundledMetaCache ??= readBundledMeta(bundledCatalogDir());
  return bundledMetaCache;
}

async function readCatalogFile(provider: string, file: string): Promise<ParsedCatalog> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new Error(`${file}: cannot read the ${provider} catalog: ${(err as Error).message}`);
  }
  return catalogFromCsv(provider, text, file);
}

function bundled(provider: string, file: string): Promise<ParsedCatalog> {
  let p = bundledCache.get(file);
  if (!p) {
    p = readCatalogFile(provider, file);
    bundledCache.set(file, p);
    // A failed read is not remembered.
    p.catch(() => bundledCache.delete(file));
  }
  return p;
}

/** An updated file is parsed again only when `catalog update` replaced it (a new size or time). */
async function updated(provider: string, file: string): Promise<ParsedCatalog> {
  let version: string;
  try {
    const st = await stat(file);
    version = `${st.size}:${st.mtimeMs}:${st.ino}`;
  } catch (err) {
    throw new Error(`${file}: cannot read the ${provider} catalog: ${(err as Error).message}`);
  }
  const hit = updatedCache.get(file);
  if (hit?.version === version) return hit.parsed;
  const parsed = readCatalogFile(provider, file);
  updatedCache.set(file, { version, parsed });
  parsed.catch(() => updatedCache.delete(file));
  return parsed;
}

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new Error(`${file}: cannot read: ${(err as Error).message}`);
  }
}

/** The user's file for `provider` in `dir`, or undefined; notes when both layouts are present. */
async function userFile(dir: string, provider: string, anomalies: string[]): Promise<string | undefined> {
  const flat = path.join(dir, `${provider}.csv`);
  const sky = path.join(dir, provider, 'vms.csv');
  const [hasFlat, hasSky] = await Promise.all([isFile(flat), isFile(sky)]);
  if (hasFlat && hasSky) anomalies.push(`${provider}: both ${flat} and ${sky} exist; using ${flat}`);
  return hasFlat ? flat : hasSky ? sky : undefined;
}

const PROVIDER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** What {@link locateCatalogs} needs: the same directory and cache options as loadCatalog. */
export type LocateCatalogOptions = LoadCatalogOptions;

/**
 * Where each provider's catalog is (user directory > updated cache > bundled) and how old it
 * is, without parsing anything. Providers without any catalog are left out; `anomalies` gets a
 * line when a directory has both layouts.
 */
export async function locateCatalogs(
  opts: LocateCatalogOptions = {},
  anomalies: string[] = [],
): Promise<CatalogProvenance[]> {
  const providers = [...new Set(opts.providers ?? BUNDLED_PROVIDERS)];
  for (const p of providers) {
    if (!PROVIDER_NAME.test(p)) throw new Error(`invalid provider name ${JSON.stringify(p)} for the catalog`);
  }
  const dir = opts.dir === undefined ? undefined : path.resolve(opts.dir);
  if (dir !== undefined) {
    let ok = false;
    try {
      ok = (await stat(dir)).isDirectory();
    } catch (err) {
      throw new Error(`catalog directory ${dir}: ${(err as Error).message}`);
    }
    if (!ok) throw new Error(`catalog directory ${dir}: not a directory`);
  }
  const cacheDir = opts.cacheDir === false ? undefined : (opts.cacheDir ?? catalogCacheDir());
  const dates = providers.some((p) => BUNDLED_PROVIDERS.includes(p)) ? await bundledMeta() : {};
  const found: CatalogProvenance[] = [];
  for (const provider of providers) {
    const mine = dir === undefined ? undefined : await userFile(dir, provider, anomalies);
    if (mine !== undefined) {
      found.push({ provider, kind: 'dir', file: mine, asOf: await fileTime(mine) });
      continue;
    }
    const cached = cacheDir === undefined ? undefined : cachedCatalogFiles(cacheDir, provider).csv;
    if (cached !== undefined && (await isFile(cached))) {
      const meta = await readUpdatedMeta(cacheDir!, provider);
      found.push({
        provider,
        kind: 'updated',
        file: cached,
        asOf: meta?.fetchedAt ?? (await fileTime(cached)),
        ...(meta ? { source: meta.source } : {}),
      });
      continue;
    }
    if (BUNDLED_PROVIDERS.includes(provider)) {
      const m = dates[provider];
      found.push({
        provider,
        kind: 'bundled',
        file: path.join(bundledCatalogDir(), `${provider}.csv`),
        ...(m ? { asOf: m.pricesAsOf, source: m.source, ...(m.note ? { note: m.note } : {}) } : {}),
      });
    }
  }
  return found;
}

/**
 * Loads the catalogs of `providers` (default: the bundled ones), each from the user's `dir` when
 * it has that provider's file, else from the updated cache when `driftless catalog update` filled
 * it, else from the bundled file. Throws an Error naming the file when a file cannot be read or
 * is malformed, naming `dir` when it is not a readable directory, and naming the provider when
 * there is no catalog for it at all.
 */
export async function loadCatalog(opts: LoadCatalogOptions = {}): Promise<LoadedCatalog> {
  const providers = [...new Set(opts.providers ?? BUNDLED_PROVIDERS)];
  const anomalies: string[] = [];
  const located = await locateCatalogs({ ...opts, providers }, anomalies);
  const offers: Offer[] = [];
  const sources: CatalogSource[] = [];
  for (const provider of providers) {
    const where = located.find((l) => l.provider === provider);
    if (where === undefined) {
      const dir = opts.dir === undefined ? undefined : path.resolve(opts.dir);
      const also = dir === undefined ? '' : ` and ${dir} has neither ${provider}.csv nor ${provider}/vms.csv`;
      throw new Error(
        `no catalog for provider "${provider}": not bundled (${BUNDLED_PROVIDERS.join(', ')})${also}`,
      );
    }
    const parsed =
      where.kind === 'dir'
        ? await readCatalogFile(provider, where.file)
        : where.kind === 'updated'
          ? await updated(provider, where.file)
          : await bundled(provider, where.file);
    // Copies: the cached offers must not be changed by a caller.
    for (const o of parsed.offers) offers.push({ ...o });
    anomalies.push(...parsed.anomalies);
    sources.push({
      ...where,
      rows: parsed.rows,
      offers: parsed.offers.length,
      bundled: where.kind === 'bundled',
    });
  }
  return { offers, sources, anomalies };
}
