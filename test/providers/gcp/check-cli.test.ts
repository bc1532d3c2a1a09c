import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { cli } from '../../support/harness';
import { GCE_HTTP_ERRORS, startFakeGce, type FakeGce } from '../../support/gcp-server';
import type { ProviderCheck } from '../../../src/providers/check';

// `driftless check` as a user runs it: the real CLI, a config file with providers.gcp pointing
// at the fake Compute Engine on loopback (no credentials sent).
let fake: FakeGce;
let dir: string;

beforeAll(async () => {
  fake = await startFakeGce();
  dir = await mkdtemp(join(tmpdir(), 'driftless-check-gcp-'));
});

afterAll(async () => {
  await Promise.all([fake?.close(), rm(dir, { recursive: true, force: true })]);
});

/** Runs `driftless check --json` with a config naming only GCP at `endpoint`. */
async function check(endpoint: string, adc?: NodeJS.ProcessEnv) {
  const gcp = {
    project: 'test-project',
    zones: ['us-central1-a', 'us-east1-b'],
    endpoint,
    ...(adc ? {} : { credentials: 'none' }),
    retryDelay: '10ms',
    maxAttempts: 2,
    agentInstall: '',
  };
  const file = join(dir, 'gcp.yaml');
  await writeFile(file, stringify({ providers: { gcp } }));
  return cli(['check', '--json'], { ...process.env, DRIFTLESS_CONFIG: file, ...adc });
}

test('check with no GCP credentials to be found reports it per zone and exits 3, never crashes', async () => {
  fake.reset();
  const missing = join(dir, 'no-such-key.json');
  // Application Default Credentials from a key file that is not there; the metadata server is
  // never asked (detection off, and pointed at loopback should anything ask).
  const r = await check(fake.endpoint, {
    GOOGLE_APPLICATION_CREDENTIALS: missing,
    METADATA_SERVER_DETECTION: 'none',
    GCE_METADATA_HOST: '127.0.0.1:9',
    GCE_METADATA_IP: '127.0.0.1:9',
  });
  expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 3 });
  expect(r.stderr).not.toMatch(/unexpected error|Unhandled|node:internal/);
  const gcp = (JSON.parse(r.stdout) as ProviderCheck[]).find((p) => p.provider === 'gcp')!;
  expect(gcp.ok).toBe(false);
  for (const zone of gcp.regions) {
    expect(zone.detail).toContain(`GCP credentials: The file at ${missing} does not exist`);
  }
  expect(fake.calls('zones.get')).toHaveLength(0);
});

test('check reports a working GCP configuration: each zone UP, exit 0', async () => {
  fake.reset();
  const r = await check(fake.endpoint);
  expect(r.code).toBe(0);
  const gcp = (JSON.parse(r.stdout) as ProviderCheck[]).find((p) => p.provider === 'gcp')!;
  expect(gcp).toMatchObject({ ok: true, detail: 'project test-project, credentials valid' });
  expect(gcp.regions).toEqual([
    { region: 'us-central1', zone: 'us-central1-a', ok: true, detail: 'zone UP' },
    { region: 'us-east1', zone: 'us-east1-b', ok: true, detail: 'zone UP' },
  ]);
  expect(fake.calls('zones.get')).toHaveLength(2);
});

test('check reports refused credentials as an auth failure and exits 3', async () => {
  fake.reset();
  fake.failHttp('zones.get', { ...GCE_HTTP_ERRORS.unauthorized, times: 10 });
  const r = await check(fake.endpoint);
  expect(r.code).toBe(3);
  const gcp = (JSON.parse(r.stdout) as ProviderCheck[]).find((p) => p.provider === 'gcp')!;
  expect(gcp.ok).toBe(false);
  expect(gcp.detail).toMatch(/credentials invalid/);
  expect(gcp.regions[0]!.detail).toMatch(/^AuthError required: /);
});

test('check reports an endpoint that does not answer and exits 3', async () => {
  const r = await check('http://127.0.0.1:1');
  expect(r.code).toBe(3);
  const gcp = (JSON.parse(r.stdout) as ProviderCheck[]).find((p) => p.provider === 'gcp')!;
  expect(gcp.ok).toBe(false);
  expect(gcp.regions[0]!.detail).toMatch(/^ProviderUnavailableError NetworkError/);
});
