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
async function check(endpoint: string) {
  const gcp = {
    project: 'test-project',
    zones: ['us-central1-a', 'us-east1-b'],
    endpoint,
    credentials: 'none',
    retryDelay: '10ms',
    maxAttempts: 2,
    agentInstall: '',
  };
  const file = join(dir, 'gcp.yaml');
  await writeFile(file, stringify({ providers: { gcp } }));
  return cli(['check', '--json'], { ...process.env, DRIFTLESS_CONFIG: file });
}

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
