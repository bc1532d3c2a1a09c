import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { stringify } from 'yaml';
import { clearCatalogCache } from '../../src/catalog/catalog';
import { main } from '../../src/client/main';
import { formatPlan } from '../../src/client/format';
import { planFor } from '../../src/client/services/plan';
import { loadConfig } from '../../src/config/config';
import { WorkloadSpec } from '../../src/spec/workload-spec';
import { startCatalogServer, type CatalogServer } from '../catalog/catalog-server';

// `driftless catalog update`, `offers` and apply's plan, run through the CLI's own entry point
// (in this process, so no build is needed) against a catalog server on 127.0.0.1.
let server: CatalogServer;
let dir: string;
const saved = { ...process.env };

beforeAll(async () => {
  server = await startCatalogServer();
});
afterAll(() => server.close());

function writeConfig(settings: Record<string, unknown> = {}): void {
  writeFileSync(
    path.join(dir, 'driftless.config.yaml'),
    stringify({
      owner: 'test',
      reconcile: { enabled: false },
      providers: {
        local: { pools: [{ name: 'lab', gpus: { type: 'A100', count: 8 }, pricePerGpuHour: 100 }] },
      },
      ...settings,
    }),
  );
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'driftless-catalog-cli-'));
  process.env.XDG_CACHE_HOME = path.join(dir, 'cache');
  process.env.DRIFTLESS_CONFIG = path.join(dir, 'driftless.config.yaml');
  process.env.DRIFTLESS_STATE_DIR = path.join(dir, 'state');
  delete process.env.DRIFTLESS_CATALOG_DIR;
  writeConfig();
  clearCatalogCache();
});
afterEach(() => {
  process.env = { ...saved };
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the CLI; what it wrote to stdout and stderr, and its exit code. */
async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((s) => ((stdout += String(s)), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((s) => ((stderr += String(s)), true));
  process.exitCode = undefined;
  try {
    const code = await main(['node', 'driftless', ...args]);
    return { code, stdout, stderr };
  } finally {
    process.exitCode = undefined;
    out.mockRestore();
    err.mockRestore();
  }
}

const P4D = [
  'offers',
  '--gpu',
  'A100:8',
  '--provider',
  'aws',
  '--instance-type',
  'p4d.24xlarge',
  '--zone',
  'use1-az1',
];
async function p4dPrice(): Promise<number | undefined> {
  const r = await run(...P4D, '--json');
  expect([r.code, r.stderr]).toEqual([0, expect.anything()]);
  return (JSON.parse(r.stdout) as { rows: Array<{ pricePerHour?: number }> }).rows[0]?.pricePerHour;
}
const today = () => new Date().toISOString().slice(0, 10);

test('catalog update --from a local server changes the prices offers shows, and offers says how old they are', async () => {
  expect(await p4dPrice()).toBe(21.957642);
  const u = await run('catalog', 'update', '--from', `${server.url}/good`, '--provider', 'aws');
  expect(u).toMatchObject({ code: 0, stderr: '' });
  expect(u.stdout).toContain(`aws: updated from ${server.url}/good/aws/vms.csv (3 rows, 5 offers`);
  expect(await p4dPrice()).toBe(21.96);

  const text = await run(...P4D);
  expect(text.stdout).toMatch(
    new RegExp(
      `prices: aws catalog updated ${today()} \\(0 days old\\), gcp bundled 2025-06-04 \\(\\d+ days old\\)`,
    ),
  );
  // The bundled gcp snapshot is older than the default 7 days; the fresh aws one is not.
  expect(text.stderr).toMatch(
    /warning: the gcp catalog is \d+ days old \(bundled snapshot, older than catalog.maxAge 7d\)/,
  );
  expect(text.stderr).not.toMatch(/the aws catalog/);
  const json = JSON.parse((await run(...P4D, '--json')).stdout) as { catalogs: unknown[] };
  expect(json.catalogs).toEqual([
    expect.objectContaining({ provider: 'aws', kind: 'updated', source: `${server.url}/good/aws/vms.csv` }),
    expect.objectContaining({ provider: 'gcp', kind: 'bundled', asOf: '2025-06-04' }),
  ]);

  const show = await run('catalog', 'show');
  expect(show.stdout).toContain(`aws catalog updated ${today()} (0 days old): ${path.join(dir, 'cache')}`);
});

test.each([
  ['HTTP 500', '500', /error: aws: .*answered HTTP 500/],
  ['a malformed row', 'bad-row', /error: aws: not a usable aws catalog: .*Price "twenty" is not a number/],
  ['a truncated download', 'truncated', /error: aws: the download of .* broke off \(truncated\)/],
])('a bad download (%s) exits 3, says why and keeps the previous catalog', async (_what, base, message) => {
  expect((await run('catalog', 'update', '--from', `${server.url}/good`, '--provider', 'aws')).code).toBe(0);
  const r = await run('catalog', 'update', '--from', `${server.url}/${base}`, '--provider', 'aws');
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).toContain(`the previous catalog is kept: aws catalog updated ${today()}`);
  expect(await p4dPrice()).toBe(21.96);
});

test('a bad download with no update before keeps the bundled catalog', async () => {
  const r = await run('catalog', 'update', '--from', `${server.url}/bad-header`);
  expect(r.code).toBe(3);
  expect(r.stderr).toMatch(/error: aws: not a usable aws catalog/);
  expect(r.stderr).toMatch(/the previous catalog is kept: aws bundled 2026-12-02/);
  expect(r.stderr).toMatch(/the previous catalog is kept: gcp bundled 2025-06-04/);
  expect(await p4dPrice()).toBe(21.957642);
});

test('--provider and --from are checked before anything is downloaded', async () => {
  const before = server.requests.length;
  expect(await run('catalog', 'update', '--provider', 'azure')).toMatchObject({ code: 2 });
  expect(await run('catalog', 'update', '--from', 'file:///etc')).toMatchObject({ code: 2 });
  expect(server.requests.length).toBe(before);
});

test('an updated catalog older than catalog.maxAge gets a warning; "off" silences it', async () => {
  writeConfig({ catalog: { maxAge: '1d' } });
  await run('catalog', 'update', '--from', `${server.url}/good`, '--provider', 'aws');
  const metaFile = path.join(dir, 'cache', 'driftless', 'catalog', 'aws.json');
  const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as { fetchedAt: string };
  meta.fetchedAt = new Date(Date.now() - 3 * 86_400_000 - 60_000).toISOString();
  writeFileSync(metaFile, JSON.stringify(meta));
  const r = await run(...P4D);
  expect(r.code).toBe(0);
  expect(r.stderr).toContain(
    'warning: the aws catalog is 3 days old (updated, older than catalog.maxAge 1d): its prices may be wrong; run `driftless catalog update --provider aws`',
  );
  expect(r.stdout).toContain('prices: aws catalog updated');
  writeConfig({ catalog: { maxAge: 'off' } });
  expect((await run(...P4D)).stderr).toBe('');
});

test("apply's plan names the catalogs of the configured clouds, their age and stale ones", async () => {
  writeConfig({
    // 1h, not 7d: the bundled aws snapshot is dated 2026-12-02 (the day it was read), so with 7d
    // whether it is stale would depend on the day the test runs.
    catalog: { maxAge: '1h' },
    providers: {
      aws: {
        regions: ['us-east-1'],
        images: { 'us-east-1': 'ami-0123' },
        endpoint: 'http://127.0.0.1:1',
        agentInstall: '',
      },
    },
  });
  const spec = WorkloadSpec.parse({
    name: 'plan-me',
    kind: 'job',
    command: ['true'],
    resources: { gpu: 'A100:8' },
    placement: { instanceType: 'p4d.24xlarge' },
  });
  let plan = await planFor(spec, await loadConfig());
  let text = formatPlan(spec, plan);
  expect(text).toMatch(/1\. aws\/us-east-1\/use1-az\d p4d\.24xlarge .*\$21\.957642\/h/);
  expect(text).toMatch(/\n {2}prices: aws bundled 2026-12-02 \(\d+ days? old\)\n/);
  expect(text).toMatch(
    /\nwarning: the aws catalog is \d+ days? old \(bundled snapshot, older than catalog.maxAge 1h\)/,
  );

  await run('catalog', 'update', '--from', `${server.url}/good`, '--provider', 'aws');
  plan = await planFor(spec, await loadConfig());
  text = formatPlan(spec, plan);
  expect(text).toMatch(/\$21\.96\/h {2}<- first choice/);
  expect(text).toContain(`  prices: aws catalog updated ${today()} (0 days old)`);
  expect(plan.catalogWarnings).toEqual([]);
});
