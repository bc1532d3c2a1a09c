import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { clearCatalogCache, loadCatalog, locateCatalogs } from '../../src/catalog/catalog';
import { catalogCacheDir } from '../../src/catalog/provenance';
import { catalogUrl, DEFAULT_CATALOG_BASE_URL, updateCatalog } from '../../src/catalog/update';
import { freshAwsCatalog, startCatalogServer, type CatalogServer } from './catalog-server';

// `catalog update` against a real HTTP server on loopback: a good download replaces the cached
// catalog; every kind of bad one leaves the previous catalog as it was.
let server: CatalogServer;
let cacheDir: string;

beforeAll(async () => {
  server = await startCatalogServer();
});
afterAll(() => server.close());
beforeEach(() => {
  cacheDir = mkdtempSync(path.join(tmpdir(), 'driftless-catalog-cache-'));
  clearCatalogCache();
});
afterEach(() => rmSync(cacheDir, { recursive: true, force: true }));

const p4dUsEast1 = async () =>
  (await loadCatalog({ providers: ['aws'], cacheDir })).offers
    .filter((o) => o.instanceType === 'p4d.24xlarge' && o.zone === 'use1-az1' && !o.spot)
    .map((o) => o.pricePerHour);

test('the default source is SkyPilot catalogs v8, <provider>/vms.csv', () => {
  expect(catalogUrl(DEFAULT_CATALOG_BASE_URL, 'aws')).toBe(
    'https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs/v8/aws/vms.csv',
  );
  expect(catalogUrl('http://127.0.0.1:1/x/', 'gcp')).toBe('http://127.0.0.1:1/x/gcp/vms.csv');
});

test('the cache is under XDG_CACHE_HOME when it is absolute, else ~/.cache', () => {
  expect(catalogCacheDir({ XDG_CACHE_HOME: '/var/c' })).toBe('/var/c/driftless/catalog');
  expect(catalogCacheDir({ XDG_CACHE_HOME: 'rel' })).toMatch(/\.cache\/driftless\/catalog$/);
  expect(catalogCacheDir({})).toMatch(/\.cache\/driftless\/catalog$/);
});

test('a good download replaces the bundled prices and records when and where it came from', async () => {
  expect(await p4dUsEast1()).toEqual([21.957642]); // the bundled v8 price (the server's catalog says 21.96)
  const at = Date.parse('2026-11-30T08:00:00Z');
  const r = await updateCatalog('aws', { cacheDir, from: `${server.url}/good`, now: () => at });
  expect(r).toMatchObject({ ok: true, provider: 'aws', rows: 3, source: `${server.url}/good/aws/vms.csv` });
  expect(await p4dUsEast1()).toEqual([21.96]);
  const meta = JSON.parse(readFileSync(path.join(cacheDir, 'aws.json'), 'utf8')) as Record<string, unknown>;
  expect(meta).toMatchObject({
    provider: 'aws',
    source: `${server.url}/good/aws/vms.csv`,
    fetchedAt: '2026-11-30T08:00:00.000Z',
    rows: 3,
    offers: 5,
  });
  const [where] = await locateCatalogs({ providers: ['aws'], cacheDir });
  expect(where).toEqual({
    provider: 'aws',
    kind: 'updated',
    file: path.join(cacheDir, 'aws.csv'),
    asOf: '2026-11-30T08:00:00.000Z',
    source: `${server.url}/good/aws/vms.csv`,
  });
  // No temporary file is left behind.
  expect(readdirSync(cacheDir).sort()).toEqual(['aws.csv', 'aws.json']);
});

test('a second update replaces the first, and the new file is read (not the parsed old one)', async () => {
  await updateCatalog('aws', { cacheDir, from: `${server.url}/good` });
  expect(await p4dUsEast1()).toEqual([21.96]);
  server.setGood(freshAwsCatalog('20.5'));
  try {
    await updateCatalog('aws', { cacheDir, from: `${server.url}/good` });
    expect(await p4dUsEast1()).toEqual([20.5]);
  } finally {
    server.setGood(freshAwsCatalog());
  }
});

describe.each([
  ['HTTP 500', '500', /answered HTTP 500/],
  ['not a catalog (no header)', 'bad-header', /not a usable aws catalog: .*lacks required columns/],
  [
    'a row that does not parse',
    'bad-row',
    /not a usable aws catalog: .*1 malformed row: line 2: Price "twenty"/,
  ],
  ['the last row cut in the middle', 'cut', /not a usable aws catalog: .*line 4: expected 11 fields/],
  ['the connection dropped before Content-Length', 'truncated', /truncated/],
  ['a header without offers', 'no-offers', /has 0 rows but no priced aws offer/],
  ['nothing listening', 'unreachable', /cannot fetch http:\/\/127\.0\.0\.1:1\//],
])('a bad download (%s)', (_what, base, message) => {
  const from = () => (base === 'unreachable' ? 'http://127.0.0.1:1' : `${server.url}/${base}`);

  test('keeps the bundled catalog when there was none before', async () => {
    const r = await updateCatalog('aws', { cacheDir, from: from(), timeoutMs: 5000 });
    expect(r.ok).toBe(false);
    expect(r.ok ? '' : r.error).toMatch(message);
    expect(readdirSync(cacheDir)).toEqual([]);
    expect(await p4dUsEast1()).toEqual([21.957642]);
  });

  test('keeps the previous update, file and metadata byte for byte', async () => {
    const at = Date.parse('2026-11-30T08:00:00Z');
    expect((await updateCatalog('aws', { cacheDir, from: `${server.url}/good`, now: () => at })).ok).toBe(
      true,
    );
    const before = ['aws.csv', 'aws.json'].map((f) => readFileSync(path.join(cacheDir, f), 'utf8'));
    const r = await updateCatalog('aws', { cacheDir, from: from(), timeoutMs: 5000 });
    expect(r.ok).toBe(false);
    expect(['aws.csv', 'aws.json'].map((f) => readFileSync(path.join(cacheDir, f), 'utf8'))).toEqual(before);
    expect(readdirSync(cacheDir).sort()).toEqual(['aws.csv', 'aws.json']);
    expect(await p4dUsEast1()).toEqual([21.96]);
  });
});

test('precedence: the catalog directory > the updated cache > the bundled snapshot', async () => {
  await updateCatalog('aws', { cacheDir, from: `${server.url}/good` });
  const dir = mkdtempSync(path.join(tmpdir(), 'driftless-catalog-dir-'));
  try {
    // A directory without an aws file: the update still wins over the bundled file.
    writeFileSync(path.join(dir, 'lambda.csv'), freshAwsCatalog('1'));
    let c = await loadCatalog({ dir, providers: ['aws', 'gcp'], cacheDir });
    expect(c.sources.map((s) => [s.provider, s.kind])).toEqual([
      ['aws', 'updated'],
      ['gcp', 'bundled'],
    ]);
    mkdirSync(path.join(dir, 'aws'));
    writeFileSync(path.join(dir, 'aws', 'vms.csv'), freshAwsCatalog('30'));
    c = await loadCatalog({ dir, providers: ['aws'], cacheDir });
    expect(c.sources.map((s) => [s.provider, s.kind, s.file])).toEqual([
      ['aws', 'dir', path.join(dir, 'aws', 'vms.csv')],
    ]);
    expect(c.offers.find((o) => o.zone === 'use1-az1' && !o.spot)?.pricePerHour).toBe(30);
    // cacheDir: false ignores the update.
    c = await loadCatalog({ providers: ['aws'], cacheDir: false });
    expect(c.sources.map((s) => s.kind)).toEqual(['bundled']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
