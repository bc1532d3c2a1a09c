/**
 * checkGcp: what `driftless check` reports for GCP, against the fake Compute Engine (working, a
 * zone down, credentials refused) and a closed port (no answer).
 */
import { checkGcp } from '../../../src/providers/gcp/check';
import { GCE_HTTP_ERRORS, startFakeGce, type FakeGce } from '../../support/gcp-server';
import { OTHER_ZONE, PROJECT, ZONE, gcpConfig } from './helpers';

let fake: FakeGce;

beforeAll(async () => {
  fake = await startFakeGce();
});
afterAll(async () => {
  await fake?.close();
});
beforeEach(() => fake.reset());

test('a working configuration: every zone answers UP, the credentials are valid', async () => {
  const result = await checkGcp(gcpConfig(fake.endpoint));
  expect(result).toMatchObject({ provider: 'gcp', project: PROJECT, ok: true, credentials: 'valid' });
  expect(result.zones.map((z) => z.zone)).toEqual([ZONE, 'us-central1-b', OTHER_ZONE].sort());
  expect(result.zones[0]).toEqual({
    zone: ZONE,
    region: 'us-central1',
    ok: true,
    credentialsAccepted: true,
    status: 'UP',
  });
  expect(fake.calls('zones.get').map((c) => c.path)).toContain(
    `/compute/v1/projects/${PROJECT}/zones/${ZONE}`,
  );
});

test('credentials refused (403 forbidden on every zone): not ok, credentials invalid, each zone an AuthError', async () => {
  fake.failHttp('zones.get', { ...GCE_HTTP_ERRORS.forbidden, times: 10 });
  const result = await checkGcp(gcpConfig(fake.endpoint));
  expect(result).toMatchObject({ ok: false, credentials: 'invalid' });
  for (const z of result.zones) {
    expect(z).toMatchObject({
      ok: false,
      credentialsAccepted: false,
      error: { type: 'AuthError', code: 'forbidden' },
    });
  }
});

test('a zone that is DOWN is reported unavailable while the others work', async () => {
  fake.setZoneStatus(OTHER_ZONE, 'DOWN');
  const result = await checkGcp(gcpConfig(fake.endpoint));
  expect(result).toMatchObject({ ok: false, credentials: 'valid' });
  expect(result.zones.find((z) => z.zone === OTHER_ZONE)).toMatchObject({
    ok: false,
    credentialsAccepted: true,
    status: 'DOWN',
    error: { type: 'ProviderUnavailableError', code: 'ZoneDown' },
  });
  expect(result.zones.filter((z) => z.ok).map((z) => z.zone)).toEqual([ZONE, 'us-central1-b']);
});

test('a project GCE does not know: every zone refused as an invalid request', async () => {
  const result = await checkGcp(gcpConfig(fake.endpoint, { project: 'no-such-project' }));
  expect(result.ok).toBe(false);
  expect(result.zones[0]).toMatchObject({
    ok: false,
    error: { type: 'InvalidRequestError', code: 'notFound' },
  });
});

test('an endpoint that does not answer: not ok, credentials unknown, each zone unavailable', async () => {
  const closed = await startFakeGce();
  const endpoint = closed.endpoint;
  await closed.close();
  const result = await checkGcp(gcpConfig(endpoint, { maxAttempts: 1 }));
  expect(result).toMatchObject({ ok: false, credentials: 'unknown' });
  for (const z of result.zones) {
    expect(z).toMatchObject({ ok: false, error: { type: 'ProviderUnavailableError', code: 'NetworkError' } });
  }
});
