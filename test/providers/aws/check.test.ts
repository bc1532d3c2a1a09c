/**
 * checkAws: what `driftless check` reports for AWS, against moto (working), a closed port (no
 * answer) and a proxy that refuses the credentials.
 */
import { checkAws } from '../../../src/providers/aws/check';
import { startMoto, MOTO_CREDENTIALS, type MotoServer } from '../../support/moto';
import { startFaultProxy, type FaultProxy } from './fault-proxy';
import { OTHER_REGION, REGION, awsConfig } from './helpers';

let moto: MotoServer;
let proxy: FaultProxy;

beforeAll(async () => {
  moto = await startMoto();
  proxy = await startFaultProxy(moto.endpoint);
}, 300_000);
afterAll(async () => {
  await proxy?.stop();
  await moto?.stop();
});
beforeEach(() => proxy.clear());

test('a working configuration: every region answers, the credentials are valid, zones and image are reported', async () => {
  const result = await checkAws(awsConfig(moto.endpoint), { credentials: MOTO_CREDENTIALS });
  expect(result).toMatchObject({ provider: 'aws', ok: true, credentials: 'valid' });
  expect(result.regions.map((r) => r.region)).toEqual([REGION, OTHER_REGION]);
  const east = result.regions[0]!;
  expect(east.ok).toBe(true);
  expect(east.error).toBeUndefined();
  expect(east.zones).toContainEqual({
    name: expect.stringMatching(/^us-east-1[a-z]$/),
    id: 'use1-az1',
    state: 'available',
  });
  expect(east.image?.id).toMatch(/^ami-/);
});

test('credentials refused (AuthFailure): not ok, credentials invalid, each region says AuthError', async () => {
  proxy.fail('DescribeRegions', {
    code: 'AuthFailure',
    status: 401,
    message: 'AWS was not able to validate the provided access credentials',
  });
  const result = await checkAws(awsConfig(proxy.endpoint), { credentials: MOTO_CREDENTIALS });
  expect(result.ok).toBe(false);
  expect(result.credentials).toBe('invalid');
  for (const r of result.regions) {
    expect(r).toMatchObject({ ok: false, error: { type: 'AuthError', code: 'AuthFailure' } });
    expect(r.zones).toBeUndefined();
  }
});

test('an endpoint that does not answer: not ok, credentials unknown, the region is unavailable', async () => {
  const closed = await startFaultProxy(moto.endpoint);
  await closed.stop();
  const result = await checkAws(awsConfig(closed.endpoint, { maxAttempts: 1 }), {
    credentials: MOTO_CREDENTIALS,
  });
  expect(result).toMatchObject({ ok: false, credentials: 'unknown' });
  for (const r of result.regions) {
    expect(r).toMatchObject({ ok: false, error: { type: 'ProviderUnavailableError', code: 'NetworkError' } });
  }
});

test('one region failing (not opted in) leaves the other reported as working, with valid credentials', async () => {
  proxy.fail('DescribeAvailabilityZones', { code: 'OptInRequired', status: 401, region: OTHER_REGION });
  const result = await checkAws(awsConfig(proxy.endpoint), { credentials: MOTO_CREDENTIALS });
  const [east, west] = result.regions;
  expect(east).toMatchObject({ region: REGION, ok: true, credentialsAccepted: true });
  expect(west).toMatchObject({
    region: OTHER_REGION,
    ok: false,
    credentialsAccepted: true,
    error: { type: 'ProviderUnavailableError', code: 'OptInRequired' },
  });
  expect(result).toMatchObject({ ok: false, credentials: 'valid' });
});

test('a region the account has not opted in to is reported unavailable, with the credentials accepted', async () => {
  proxy.rewrite('DescribeRegions', (xml) =>
    xml.includes(`<regionName>${OTHER_REGION}</regionName>`)
      ? xml.replace('opt-in-not-required', 'not-opted-in')
      : xml,
  );
  const result = await checkAws(awsConfig(proxy.endpoint), { credentials: MOTO_CREDENTIALS });
  expect(result.regions[0]).toMatchObject({ region: REGION, ok: true });
  expect(result.regions[1]).toMatchObject({
    region: OTHER_REGION,
    ok: false,
    credentialsAccepted: true,
    error: { type: 'ProviderUnavailableError', code: 'OptInRequired' },
  });
  expect(proxy.calls('DescribeAvailabilityZones').map((c) => c.region)).toEqual([REGION]);
});

test('an image name that resolves to nothing: the region answers but is not ok', async () => {
  const config = awsConfig(moto.endpoint, {
    regions: [REGION],
    images: { [REGION]: 'no-such-image-*' },
  });
  const result = await checkAws(config, { credentials: MOTO_CREDENTIALS });
  expect(result.credentials).toBe('valid');
  expect(result.regions[0]).toMatchObject({
    ok: false,
    error: { type: 'InvalidRequestError', code: 'ImageNotFound' },
  });
  expect(result.regions[0]!.zones?.length).toBeGreaterThan(0);
});
