import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cli, makeEnv, type TestEnv } from '../support/harness';

// `driftless offers` through the real CLI process, over the bundled AWS and GCP catalogs.
let env: TestEnv;

beforeAll(async () => {
  // The bundled snapshot's age is warned about on stderr (catalog.maxAge); these tests check
  // stderr is otherwise empty, and read the bundled prices, not a developer's updated cache.
  env = await makeEnv([{ name: 'lab', gpus: { type: 'A100', count: 8 }, pricePerGpuHour: 100 }], {
    catalog: { maxAge: 'off' },
  });
  env.env.XDG_CACHE_HOME = join(env.dir, 'cache');
});

afterAll(async () => {
  await env?.cleanup();
});

interface OffersJson {
  rows: Array<{
    provider: string;
    instanceType: string;
    gpuType: string;
    gpuCount: number;
    pricePerHour?: number;
    spotPricePerHour?: number;
    zone: string;
    region: string;
  }>;
  matched: number;
  considered: number;
  rejected: Array<{ reason: string; count: number }>;
  nearestMisses?: Array<{ offer: string; reasons: string[] }>;
}

async function offers(args: string[]): Promise<OffersJson> {
  const r = await cli(['offers', ...args, '--json'], env.env);
  expect([r.code, r.stderr]).toEqual([0, '']);
  return JSON.parse(r.stdout) as OffersJson;
}

test('--gpu A100:8 lists AWS p4d/p4de and GCP a2 offers with prices, cheapest first', async () => {
  const r = await offers(['--gpu', 'A100:8', '--limit', '0']);
  const types = new Set(r.rows.map((x) => `${x.provider}:${x.instanceType}`));
  for (const t of ['aws:p4d.24xlarge', 'aws:p4de.24xlarge', 'gcp:a2-highgpu-8g', 'gcp:a2-ultragpu-8g']) {
    expect(types).toContain(t);
  }
  expect(r.rows.every((x) => x.gpuCount === 8 && /^A100/.test(x.gpuType) && x.pricePerHour! > 0)).toBe(true);
  const prices = r.rows.map((x) => x.pricePerHour!);
  expect(prices).toEqual([...prices].sort((a, b) => a - b));
  // The local pool's 8 A100s at $100/GPU-hour fit too, and rank last.
  expect(r.rows[r.rows.length - 1]).toMatchObject({ provider: 'local', region: 'lab' });
});

test('--spot ranks by spot price and --region/--provider narrow the offers', async () => {
  const r = await offers(['--gpu', 'H100:8', '--spot', '--region', 'us-*', '--provider', 'aws']);
  expect(r.rows.length).toBeGreaterThan(0);
  expect(r.rows.every((x) => x.provider === 'aws' && x.region.startsWith('us-'))).toBe(true);
  const spot = r.rows.map((x) => x.spotPricePerHour!);
  expect(spot).toEqual([...spot].sort((a, b) => a - b));
  expect(r.rejected.map((g) => g.reason)).toEqual(expect.arrayContaining(['provider gcp not in [aws]']));
});

test('--max-price passes dearer offers over with the price in the reason', async () => {
  const out = await cli(
    ['offers', '--gpu', 'A100:8', '--provider', 'aws', '--max-price', '20', '--json'],
    env.env,
  );
  expect(out.code).toBe(3); // nothing fits
  const r = JSON.parse(out.stdout) as OffersJson;
  expect(r.matched).toBe(0);
  // The cheapest bundled A100:8 on AWS: p4d.24xlarge at 21.95764 (us-east-2, us-west-2) / 21.957642 (us-east-1).
  expect(r.rejected.map((g) => g.reason)).toContain('price 21.96/h over max 20/h');
});

test('a known GPU in a count nobody offers: nothing matches, the nearest misses are shown, and the exit code is 3', async () => {
  const r = await cli(['offers', '--gpu', 'H100:3'], env.env);
  expect(r.code).toBe(3);
  expect(r.stdout).toMatch(/nothing matches/);
  expect(r.stdout).toMatch(/nearest misses:\n.*\d GPUs, 3 requested/);
  const j = await cli(['offers', '--gpu', 'H100:3', '--json'], env.env);
  const doc = JSON.parse(j.stdout) as OffersJson;
  expect(doc.matched).toBe(0);
  expect(doc.nearestMisses!.length).toBeGreaterThan(0);
  expect(doc.nearestMisses![0]!.reasons).toEqual([expect.stringMatching(/^\d GPUs, 3 requested$/)]);
});

test('a GPU nobody knows is a usage error (exit 2) naming the nearest known GPU', async () => {
  const r = await cli(['offers', '--gpu', 'H1000:8'], env.env);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--gpu: unknown GPU "H1000": did you mean H100\?/);
  expect(r.stdout).toBe('');
});

test('--explain groups the offers passed over by reason', async () => {
  const r = await cli(['offers', '--gpu', 'L4:1', '--explain', '--limit', '3'], env.env);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/passed over, by reason:\n\s+\d+\s+gpu \S+ not in \[L4\]/);
});

test('a spec file gives the same offers as the equivalent flags', async () => {
  const file = join(env.dir, 'train.yaml');
  await writeFile(
    file,
    'name: train\nkind: job\ncommand: [python]\nresources: {gpu: "H100:8"}\nplacement: {regions: [us-*], spot: require}\n',
  );
  const fromFile = await offers([file]);
  const fromFlags = await offers(['--gpu', 'H100:8', '--region', 'us-*', '--spot']);
  expect(fromFile.rows).toEqual(fromFlags.rows);
});

test.each([
  [['--gpu', 'H100:x'], /--gpu: expected a GPU request/],
  [['--cpu', 'lots'], /--cpu: expected/],
  [['--max-price', '-3'], /--max-price: expected a positive number/],
  [['--limit', 'ten'], /--limit: expected a whole number/],
  [['--bogus'], /unknown option/],
])('bad flags %j exit 2 and name the flag', async (args, message) => {
  const r = await cli(['offers', ...args], env.env);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(message);
});

test('a spec file together with flags is a usage error', async () => {
  const file = join(env.dir, 'x.yaml');
  await writeFile(file, 'name: x\nkind: job\ncommand: [x]\n');
  const r = await cli(['offers', file, '--gpu', 'H100:8'], env.env);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/either a spec file or/);
});

test('--catalog-dir replaces the bundled catalog of a provider with a SkyPilot-format CSV', async () => {
  const dir = join(env.dir, 'catalogs');
  await mkdir(join(dir, 'aws'), { recursive: true });
  await writeFile(
    join(dir, 'aws', 'vms.csv'),
    'InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone\n' +
      'x9.huge,H100,8,192,2048,,1.5,0.5,us-east-1,use1-az1\n',
  );
  const r = await offers(['--gpu', 'H100:8', '--provider', 'aws', '--catalog-dir', dir]);
  expect(r.rows).toHaveLength(1);
  expect(r.rows[0]).toMatchObject({ instanceType: 'x9.huge', pricePerHour: 1.5, spotPricePerHour: 0.5 });
});
