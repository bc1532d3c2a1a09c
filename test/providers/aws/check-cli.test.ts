import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { cli } from '../../support/harness';
import { startMoto, type MotoServer } from '../../support/moto';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { IMAGE_NAME } from './helpers';
import type { ProviderCheck } from '../../../src/providers/check';

// `driftless check` as a user runs it: the real CLI, credentials from the environment (the SDK's
// default chain), EC2 on loopback (moto, behind a proxy that can refuse the credentials).
let moto: MotoServer;
let proxy: FaultProxy;
let dir: string;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
  dir = await mkdtemp(join(tmpdir(), 'driftless-check-'));
}, 300_000);

afterAll(async () => {
  await proxy?.stop();
  await moto?.stop();
  await rm(dir, { recursive: true, force: true });
});

async function check(endpoint: string) {
  const config = join(dir, 'driftless.config.yaml');
  await writeFile(
    config,
    stringify({
      providers: {
        aws: {
          regions: ['us-east-1'],
          endpoint,
          images: { 'us-east-1': IMAGE_NAME },
          retryDelay: '10ms',
          agentInstall: '',
        },
      },
    }),
  );
  return cli(['check', '--json'], {
    ...process.env,
    DRIFTLESS_CONFIG: config,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_EC2_METADATA_DISABLED: 'true',
  });
}

test('check reports a working AWS configuration: region answers, zones and image found, exit 0', async () => {
  proxy.clear();
  const r = await check(proxy.endpoint);
  expect(r.code).toBe(0);
  const aws = (JSON.parse(r.stdout) as ProviderCheck[]).find((p) => p.provider === 'aws')!;
  expect(aws.ok).toBe(true);
  expect(aws.regions).toEqual([expect.objectContaining({ region: 'us-east-1', ok: true })]);
  expect(aws.regions[0]!.detail).toMatch(/\d+ zones, image ami-/);
});

test('check reports refused credentials as an auth failure and exits 3', async () => {
  proxy.clear();
  proxy.fail('DescribeRegions', { code: 'AuthFailure', status: 401 });
  const r = await check(proxy.endpoint);
  expect(r.code).toBe(3);
  const aws = (JSON.parse(r.stdout) as ProviderCheck[]).find((p) => p.provider === 'aws')!;
  expect(aws.ok).toBe(false);
  expect(aws.regions[0]).toMatchObject({ region: 'us-east-1', ok: false });
  expect(aws.regions[0]!.detail).toMatch(/AuthError AuthFailure/);
});

test('check reports an endpoint that does not answer and exits 3', async () => {
  const r = await check('http://127.0.0.1:1');
  expect(r.code).toBe(3);
  const aws = (JSON.parse(r.stdout) as ProviderCheck[]).find((p) => p.provider === 'aws')!;
  expect(aws.ok).toBe(false);
});
