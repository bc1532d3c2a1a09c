/**
 * `driftless catalog update`: downloads SkyPilot-format catalogs into the cache that
 * ./catalog.ts prefers over the bundled snapshot.
 *
 * A download replaces nothing until it has been parsed by the same reader the catalog uses: it
 * is written to a temporary file beside the target, parsed, and only then renamed over the old
 * file (a rename within one directory is atomic), with `<provider>.json` saying when and where
 * it came from. A failed, truncated or malformed download leaves the previous catalog as it was.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { catalogFromCsv } from './catalog';
import { cachedCatalogFiles, type UpdatedCatalogMeta } from './provenance';

/**
 * SkyPilot's public catalogs, schema v8 (the version current SkyPilot reads; v8 adds an `Arch`
 * column to AWS, which the reader ignores). A provider's file is `<base>/<provider>/vms.csv`.
 */
export const DEFAULT_CATALOG_BASE_URL =
  'https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs/v8';

/** Providers `catalog update` knows how to read (the ones with a bundled catalog). */
export const UPDATABLE_PROVIDERS: readonly string[] = Object.freeze(['aws', 'gcp']);

/** The URL of a provider's file under a base URL: `<base>/<provider>/vms.csv`. */
export function catalogUrl(base: string, provider: string): string {
  return `${base.replace(/\/+$/, '')}/${provider}/vms.csv`;
}

export interface UpdateCatalogOptions {
  /** The cache directory (see catalogCacheDir). */
  cacheDir: string;
  /** Base URL serving `<provider>/vms.csv`. @default {@link DEFAULT_CATALOG_BASE_URL} */
  from?: string;
  /** @default 120000 (2 minutes per file) */
  timeoutMs?: number;
  /** @default the global fetch */
  fetch?: typeof fetch;
  /** @default Date.now */
  now?: () => number;
}

/** One provider's outcome. */
export type UpdateResult =
  | ({ provider: string; ok: true; file: string } & UpdatedCatalogMeta)
  | { provider: string; ok: false; url: string; error: string };

/** A download that must not replace the catalog; the message says why. */
export class CatalogDownloadError extends Error {
  override readonly name = 'CatalogDownloadError';
}

async function download(
  url: string,
  fetchFn: typeof fetch,
  timeoutMs: number,
): Promise<{ text: string; bytes: number; lastModified?: string; etag?: string }> {
  let res: Response;
  try {
    res = await fetchFn(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'follow' });
  } catch (err) {
    const e = err as Error & { cause?: Error };
    throw new CatalogDownloadError(`cannot fetch ${url}: ${e.cause?.message ?? e.message}`);
  }
  if (!res.ok) {
    await res.body?.cancel().catch(() => undefined);
    throw new CatalogDownloadError(`${url} answered HTTP ${res.status} ${res.statusText}`.trim());
  }
  let body: Buffer;
  try {
    body = Buffer.from(await res.arrayBuffer());
  } catch (err) {
    const e = err as Error & { cause?: Error };
    throw new CatalogDownloadError(
      `the download of ${url} broke off (truncated): ${e.cause?.message ?? e.message}`,
    );
  }
  // fetch undoes a content encoding, so the length only says something about a plain body.
  const length = res.headers.get('content-length');
  const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
  if (length !== null && !encoded && Number(length) !== body.length) {
    throw new CatalogDownloadError(
      `the download of ${url} is truncated: ${body.length} of ${length} bytes arrived`,
    );
  }
  return {
    text: body.toString('utf8'),
    bytes: body.length,
    ...(res.headers.get('last-modified') ? { lastModified: res.headers.get('last-modified')! } : {}),
    ...(res.headers.get('etag') ? { etag: res.headers.get('etag')! } : {}),
  };
}

/** Writes `text` to a temporary file beside `file` and renames it over `file`. */
async function replaceFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Downloads, checks and installs one provider's catalog. Never throws for a bad download: the
 * result says what went wrong, and the previous file is untouched.
 */
export async function updateCatalog(provider: string, opts: UpdateCatalogOptions): Promise<UpdateResult> {
  const url = catalogUrl(opts.from ?? DEFAULT_CATALOG_BASE_URL, provider);
  const now = opts.now ?? Date.now;
  const { csv, meta } = cachedCatalogFiles(opts.cacheDir, provider);
  try {
    const got = await download(url, opts.fetch ?? fetch, opts.timeoutMs ?? 120_000);
    let parsed: ReturnType<typeof catalogFromCsv>;
    try {
      parsed = catalogFromCsv(provider, got.text, url);
    } catch (err) {
      throw new CatalogDownloadError(`not a usable ${provider} catalog: ${(err as Error).message}`);
    }
    // A file cut off at a line break parses; one without a single priced offer is no catalog.
    if (parsed.offers.length === 0) {
      throw new CatalogDownloadError(
        `not a usable ${provider} catalog: ${url} has ${parsed.rows} rows but no priced ${provider} offer`,
      );
    }
    const info: UpdatedCatalogMeta = {
      provider,
      source: url,
      fetchedAt: new Date(now()).toISOString(),
      ...(got.lastModified ? { lastModified: got.lastModified } : {}),
      ...(got.etag ? { etag: got.etag } : {}),
      rows: parsed.rows,
      offers: parsed.offers.length,
      bytes: got.bytes,
      sha256: createHash('sha256').update(got.text).digest('hex'),
    };
    await mkdir(opts.cacheDir, { recursive: true });
    await replaceFile(csv, got.text);
    await replaceFile(meta, JSON.stringify(info, null, 2) + '\n');
    return { ok: true, file: csv, ...info };
  } catch (err) {
    if (err instanceof CatalogDownloadError) return { provider, ok: false, url, error: err.message };
    // The download was fine but the cache could not be written.
    return { provider, ok: false, url, error: `cannot write ${csv}: ${(err as Error).message}` };
  }
}

/** Updates each provider in turn; one failure does not stop the others. */
export async function updateCatalogs(providers: readonly string[], opts: UpdateCatalogOptions) {
  const results: UpdateResult[] = [];
  for (const p of providers) results.push(await updateCatalog(p, opts));
  return results;
}
