/**
 * The price catalog: the offers AWS and GCP can make, from SkyPilot-style CSV files.
 *
 * Bundled files live in `data/catalog/<provider>.csv` under the package root (see
 * data/catalog/README.md for where they come from). A user directory can replace a provider's
 * file: `<dir>/<provider>.csv`, or SkyPilot's own layout `<dir>/<provider>/vms.csv` (so
 * `~/.sky/catalogs/v7` works as it is). Bundled files are parsed once per process; user files are
 * read on every call, so edits show up.
 */
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { packageRoot } from '../package-root';
import type { Offer } from '../common/offer';
import { offersFromRows } from './offers';
import { parseSkypilotCsv } from './skypilot-csv';

/** Providers with a bundled catalog file. */
export const BUNDLED_PROVIDERS: readonly string[] = Object.freeze(['aws', 'gcp']);

export interface CatalogSource {
  provider: string;
  /** Absolute path of the file read. */
  file: string;
  /** Data rows parsed (comments, blank lines and the header not counted). */
  rows: number;
  offers: number;
  /** True for the file shipped with driftless, false for one from the user's directory. */
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

/** Forgets the parsed bundled files (tests). */
export function clearCatalogCache(): void {
  bundledCache.clear();
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

/**
 * Loads the catalogs of `providers` (default: the bundled ones), each from the user's `dir` when
 * it has that provider's file, else from the bundled file. Throws an Error naming the file when a
 * file cannot be read or is malformed, naming `dir` when it is not a readable directory, and
 * naming the provider when there is no catalog for it at all.
 */
export async function loadCatalog(opts: LoadCatalogOptions = {}): Promise<LoadedCatalog> {
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

  const offers: Offer[] = [];
  const sources: CatalogSource[] = [];
  const anomalies: string[] = [];
  for (const provider of providers) {
    const mine = dir === undefined ? undefined : await userFile(dir, provider, anomalies);
    let file: string;
    let parsed: ParsedCatalog;
    if (mine !== undefined) {
      file = mine;
      parsed = await readCatalogFile(provider, file);
    } else if (BUNDLED_PROVIDERS.includes(provider)) {
      file = path.join(bundledCatalogDir(), `${provider}.csv`);
      parsed = await bundled(provider, file);
    } else {
      const where =
        dir === undefined ? '' : ` and ${dir} has neither ${provider}.csv nor ${provider}/vms.csv`;
      throw new Error(
        `no catalog for provider "${provider}": not bundled (${BUNDLED_PROVIDERS.join(', ')})${where}`,
      );
    }
    // Copies: the cached bundled offers must not be changed by a caller.
    for (const o of parsed.offers) offers.push({ ...o });
    anomalies.push(...parsed.anomalies);
    sources.push({
      provider,
      file,
      rows: parsed.rows,
      offers: parsed.offers.length,
      bundled: mine === undefined,
    });
  }
  return { offers, sources, anomalies };
}
