import { mkdtempSync, mkdirSync, promises as fsp, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  BUNDLED_PROVIDERS,
  bundledCatalogDir,
  clearCatalogCache,
  loadCatalog,
  packageRoot,
} from '../../src/catalog/catalog';
import type { Offer } from '../../src/common/offer';

const ROOT = path.resolve(__dirname, '..', '..');
const AWS_HEADER =
  'InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone';

// An empty download cache, so a developer's `driftless catalog update` does not change these tests.
const cacheHome = mkdtempSync(path.join(tmpdir(), 'driftless-xdg-cache-'));
process.env.XDG_CACHE_HOME = cacheHome;
afterAll(() => rmSync(cacheHome, { recursive: true, force: true }));

const twinKey = (o: Offer) =>
  `${o.provider}|${o.region}|${o.zone}|${o.instanceType}|${o.gpuType}|${o.gpuCount}`;

describe('loadCatalog: bundled data', () => {
  let offers: Offer[];
  let result: Awaited<ReturnType<typeof loadCatalog>>;
  beforeAll(async () => {
    result = await loadCatalog();
    offers = result.offers;
  });

  it('finds the bundled files under the package root', () => {
    expect(packageRoot()).toBe(ROOT);
    expect(bundledCatalogDir()).toBe(path.join(ROOT, 'data', 'catalog'));
    expect(result.sources.map((s) => [s.provider, s.file, s.rows, s.bundled])).toEqual([
      ['aws', path.join(ROOT, 'data', 'catalog', 'aws.csv'), 650, true],
      ['gcp', path.join(ROOT, 'data', 'catalog', 'gcp.csv'), 792, true],
    ]);
    for (const s of result.sources)
      expect(s.offers).toBe(offers.filter((o) => o.provider === s.provider).length);
  });

  it('dates the bundled snapshot from data/catalog/catalog.json', () => {
    expect(result.sources.map((s) => [s.provider, s.kind, s.asOf])).toEqual([
      ['aws', 'bundled', '2026-12-02'],
      ['gcp', 'bundled', '2025-06-04'],
    ]);
    expect(result.sources[0]?.source).toMatch(/skypilot-catalog catalogs\/v8\/aws\/vms\.csv/);
    expect(result.sources[1]?.source).toMatch(/skypilot-catalog catalogs\/v7\/gcp\/vms\.csv/);
  });

  it('has p4d.24xlarge A100 x8 (40 GB) and p4de.24xlarge A100-80GB x8 (80 GB) offers on AWS', () => {
    const p4d = offers.filter((o) => o.provider === 'aws' && o.instanceType === 'p4d.24xlarge');
    const p4de = offers.filter((o) => o.provider === 'aws' && o.instanceType === 'p4de.24xlarge');
    expect(p4d.length).toBeGreaterThan(0);
    expect(p4de.length).toBeGreaterThan(0);
    for (const o of p4d)
      expect(o).toMatchObject({ gpuType: 'A100', gpuCount: 8, gpuMemoryGb: 40, vcpus: 96, memoryGb: 1152 });
    for (const o of p4de) expect(o).toMatchObject({ gpuType: 'A100-80GB', gpuCount: 8, gpuMemoryGb: 80 });
    // v8 has one p4de row per zone (v7 had 5 zones twice): 9 zones, each with an on-demand offer.
    expect(p4de.filter((o) => !o.spot)).toHaveLength(9);
  });

  it('has a2-highgpu-8g A100 x8 offers on GCP', () => {
    const a2 = offers.filter((o) => o.provider === 'gcp' && o.instanceType === 'a2-highgpu-8g');
    expect(a2.length).toBeGreaterThan(0);
    for (const o of a2) expect(o).toMatchObject({ gpuType: 'A100', gpuCount: 8, gpuMemoryGb: 40 });
    expect(a2.find((o) => o.zone === 'us-central1-a' && !o.spot)?.pricePerHour).toBeCloseTo(29.38708, 9);
  });

  it('covers at least 4 regions per provider', () => {
    for (const p of BUNDLED_PROVIDERS) {
      expect(
        new Set(offers.filter((o) => o.provider === p).map((o) => o.region)).size,
      ).toBeGreaterThanOrEqual(4);
    }
  });

  it('prices every offer positively and finitely', () => {
    expect(offers.length).toBeGreaterThan(0);
    expect(offers.filter((o) => !(Number.isFinite(o.pricePerHour) && o.pricePerHour > 0))).toEqual([]);
  });

  it('never prices a spot offer above its on-demand twin', () => {
    const onDemand = new Map(offers.filter((o) => !o.spot).map((o) => [twinKey(o), o.pricePerHour]));
    const above = offers.filter((o) => o.spot && o.pricePerHour > (onDemand.get(twinKey(o)) ?? Infinity));
    expect(above).toEqual([]);
    expect(offers.filter((o) => o.spot).length).toBeGreaterThan(1000);
  });

  it('has one offer per provider, zone, type, GPUs and market (duplicates merged)', () => {
    const keys = offers.map((o) => `${twinKey(o)}|${o.spot}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('offers p5e.48xlarge (no on-demand price in the data) as spot only', () => {
    // 4 rows, all without Price; 3 have a SpotPrice (use2-az2 has neither).
    const p5e = offers.filter((o) => o.instanceType === 'p5e.48xlarge');
    expect(p5e).toHaveLength(3);
    expect(p5e.every((o) => o.spot && o.gpuType === 'H200' && o.gpuCount === 8)).toBe(true);
  });

  it('reports the missing p5e prices and the spot prices rounded above on-demand as anomalies', () => {
    expect(result.anomalies.filter((a) => /^aws: p5e\.48xlarge .*no on-demand Price/.test(a))).toHaveLength(
      4,
    );
    // SpotPrice is written with 6 decimals, Price with 5: e.g. 27.433000 against 27.43298.
    expect(
      result.anomalies.filter((a) =>
        /^aws: \S+ in \S+ \(line \d+\): SpotPrice \S+ above on-demand Price/.test(a),
      ),
    ).toEqual([
      'aws: g5.12xlarge in apne1-az4 (line 154): SpotPrice 8.2261 above on-demand Price 8.22609; no spot offer',
      'aws: g5.24xlarge in euc1-az2 (line 194): SpotPrice 10.1841 above on-demand Price 10.18405; no spot offer',
      'aws: g5.24xlarge in euc1-az3 (line 195): SpotPrice 10.1841 above on-demand Price 10.18405; no spot offer',
      'aws: g5.48xlarge in apne1-az1 (line 229): SpotPrice 23.6225 above on-demand Price 23.62246; no spot offer',
      'aws: g5.48xlarge in apne1-az4 (line 230): SpotPrice 23.6225 above on-demand Price 23.62246; no spot offer',
      'aws: p4d.24xlarge in euc1-az2 (line 607): SpotPrice 27.433 above on-demand Price 27.43298; no spot offer',
      'aws: p4d.24xlarge in euc1-az3 (line 608): SpotPrice 27.433 above on-demand Price 27.43298; no spot offer',
    ]);
    expect(result.anomalies).toHaveLength(11);
  });

  it('prices p4d.24xlarge and p5.48xlarge in us-east-1 after the June 2025 AWS cut (v8 snapshot)', () => {
    const onDemand = (type: string, zone: string) =>
      offers.find((o) => o.provider === 'aws' && o.instanceType === type && o.zone === zone && !o.spot)
        ?.pricePerHour;
    expect(onDemand('p4d.24xlarge', 'use1-az1')).toBe(21.957642);
    expect(onDemand('p5.48xlarge', 'use1-az1')).toBe(55.04);
    expect(onDemand('g5.xlarge', 'use1-az1')).toBe(1.006);
  });

  it('has AWS offers only in availability zones (Local Zone rows are not bundled)', () => {
    const aws = offers.filter((o) => o.provider === 'aws');
    expect(aws.filter((o) => !/^[a-z0-9]+-az\d+$/.test(o.zone))).toEqual([]);
  });

  it('loads only the providers asked for', async () => {
    const only = await loadCatalog({ providers: ['gcp'] });
    expect(only.sources.map((s) => s.provider)).toEqual(['gcp']);
    expect(only.offers.every((o) => o.provider === 'gcp')).toBe(true);
    expect(only.anomalies).toEqual([]);
  });

  it('parses the bundled files once per process', async () => {
    clearCatalogCache();
    const spy = jest.spyOn(fsp, 'readFile');
    try {
      await loadCatalog();
      await loadCatalog({ providers: ['aws'] });
      await loadCatalog();
      const files = spy.mock.calls.map((c) => String(c[0]));
      expect(files.sort()).toEqual([
        path.join(ROOT, 'data', 'catalog', 'aws.csv'),
        path.join(ROOT, 'data', 'catalog', 'catalog.json'),
        path.join(ROOT, 'data', 'catalog', 'gcp.csv'),
      ]);
    } finally {
      spy.mockRestore();
    }
  });

  it('returns copies, so a caller changing an offer does not change the next load', async () => {
    const first = await loadCatalog({ providers: ['aws'] });
    const before = first.offers[0]?.pricePerHour;
    (first.offers[0] as Offer).pricePerHour = -1;
    const second = await loadCatalog({ providers: ['aws'] });
    expect(second.offers[0]?.pricePerHour).toBe(before);
  });

  it('throws for a provider that has no catalog, naming it', async () => {
    await expect(loadCatalog({ providers: ['lambda'] })).rejects.toThrow(
      'no catalog for provider "lambda": not bundled (aws, gcp)',
    );
    await expect(loadCatalog({ providers: ['../aws'] })).rejects.toThrow(/invalid provider name/);
  });
});

describe('loadCatalog: a user directory', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'driftless-catalog-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const userAws = [
    '# my own prices',
    AWS_HEADER,
    'my.xlarge,L4,1.0,8.0,32.0,,1.25,0.5,us-east-1,use1-az1',
    'my.xlarge,L4,1.0,8.0,32.0,,1.25,,eu-west-1,euw1-az1',
  ].join('\r\n');

  it('replaces the bundled provider with <dir>/<provider>.csv and keeps the others bundled', async () => {
    writeFileSync(path.join(dir, 'aws.csv'), userAws);
    const c = await loadCatalog({ dir });
    const awsOffers = c.offers.filter((o) => o.provider === 'aws');
    expect(awsOffers.map((o) => [o.instanceType, o.region, o.spot, o.pricePerHour])).toEqual([
      ['my.xlarge', 'us-east-1', false, 1.25],
      ['my.xlarge', 'us-east-1', true, 0.5],
      ['my.xlarge', 'eu-west-1', false, 1.25],
    ]);
    expect(c.sources).toEqual([
      {
        provider: 'aws',
        kind: 'dir',
        file: path.join(dir, 'aws.csv'),
        asOf: statSync(path.join(dir, 'aws.csv')).mtime.toISOString(),
        rows: 2,
        offers: 3,
        bundled: false,
      },
      expect.objectContaining({ provider: 'gcp', kind: 'bundled', bundled: true, rows: 792 }),
    ]);
    expect(c.offers.some((o) => o.instanceType === 'a2-highgpu-8g')).toBe(true);
  });

  it("reads SkyPilot's own layout <dir>/<provider>/vms.csv", async () => {
    mkdirSync(path.join(dir, 'aws'));
    writeFileSync(path.join(dir, 'aws', 'vms.csv'), userAws);
    const c = await loadCatalog({ dir, providers: ['aws'] });
    expect(c.sources).toEqual([
      expect.objectContaining({
        provider: 'aws',
        kind: 'dir',
        file: path.join(dir, 'aws', 'vms.csv'),
        rows: 2,
        offers: 3,
        bundled: false,
      }),
    ]);
  });

  it('prefers <provider>.csv when both layouts exist and says so', async () => {
    mkdirSync(path.join(dir, 'aws'));
    writeFileSync(path.join(dir, 'aws', 'vms.csv'), `${AWS_HEADER}\n`);
    writeFileSync(path.join(dir, 'aws.csv'), userAws);
    const c = await loadCatalog({ dir, providers: ['aws'] });
    expect(c.sources[0]?.file).toBe(path.join(dir, 'aws.csv'));
    expect(c.anomalies).toEqual([
      `aws: both ${path.join(dir, 'aws.csv')} and ${path.join(dir, 'aws', 'vms.csv')} exist; using ${path.join(dir, 'aws.csv')}`,
    ]);
  });

  it('loads a provider that is not bundled when the directory has its file', async () => {
    writeFileSync(path.join(dir, 'lambda.csv'), userAws);
    const c = await loadCatalog({ dir, providers: ['lambda'] });
    expect(c.offers.map((o) => o.provider)).toEqual(['lambda', 'lambda', 'lambda']);
  });

  it('reads user files on every call, so edits show up', async () => {
    const file = path.join(dir, 'aws.csv');
    writeFileSync(file, userAws);
    expect((await loadCatalog({ dir, providers: ['aws'] })).offers).toHaveLength(3);
    writeFileSync(file, `${AWS_HEADER}\nmy.xlarge,L4,1.0,8.0,32.0,,2.5,,us-east-1,use1-az1\n`);
    expect((await loadCatalog({ dir, providers: ['aws'] })).offers.map((o) => o.pricePerHour)).toEqual([2.5]);
  });

  it('throws an error naming the user file and the missing column for a broken header', async () => {
    const file = path.join(dir, 'gcp.csv');
    writeFileSync(file, 'InstanceType,vCPUs,MemoryGiB\nn1-standard-1,1,3.75\n');
    await expect(loadCatalog({ dir })).rejects.toThrow(
      `${file}: gcp catalog: header (line 1) lacks required columns "AcceleratorName"`,
    );
  });

  it('throws an error naming the user file and the line of a malformed row', async () => {
    const file = path.join(dir, 'aws', 'vms.csv');
    mkdirSync(path.join(dir, 'aws'));
    writeFileSync(file, `${AWS_HEADER}\nmy.xlarge,L4,1.0,8.0,32.0,,1.25,0.5,us-east-1\n`);
    await expect(loadCatalog({ dir })).rejects.toThrow(
      `${file}: aws catalog has 1 malformed row: line 2: expected 10 fields as in the header, got 9`,
    );
  });

  it('throws an error naming the user file when it cannot be read', async () => {
    const file = path.join(dir, 'aws.csv');
    writeFileSync(file, userAws);
    // Permissions do not stop root, so the read itself fails here.
    const denied = Object.assign(new Error(`EACCES: permission denied, open '${file}'`), { code: 'EACCES' });
    const spy = jest.spyOn(fsp, 'readFile').mockRejectedValueOnce(denied);
    try {
      await expect(loadCatalog({ dir, providers: ['aws'] })).rejects.toThrow(
        `${file}: cannot read the aws catalog: EACCES: permission denied`,
      );
    } finally {
      spy.mockRestore();
    }
  });

  it('throws an error naming a directory that does not exist', async () => {
    const missing = path.join(dir, 'nope');
    await expect(loadCatalog({ dir: missing })).rejects.toThrow(`catalog directory ${missing}:`);
  });

  it('throws when no catalog exists for a provider that is neither bundled nor in the directory', async () => {
    await expect(loadCatalog({ dir, providers: ['lambda'] })).rejects.toThrow(
      `no catalog for provider "lambda": not bundled (aws, gcp) and ${dir} has neither lambda.csv nor lambda/vms.csv`,
    );
  });
});

describe('packageRoot', () => {
  it('walks up from a nested directory to the nearest package.json', () => {
    expect(packageRoot(path.join(ROOT, 'src', 'catalog'))).toBe(ROOT);
    expect(packageRoot(path.join(ROOT, 'data', 'catalog'))).toBe(ROOT);
  });
});
