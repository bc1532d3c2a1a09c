import { DEFAULT_GCP_IMAGE, GcpProviderConfig, regionOfZone } from '../../../src/providers/gcp/config';
import { SHARED_DEFAULTS } from '../cloud-settings';
import { INSTANCE_NAME, gceInstanceName, gceRequestId, labelValue } from '../../../src/providers/gcp/names';

const minimal = { project: 'my-project-1', zones: ['us-central1-a'], agentInstall: '' };

describe('GcpProviderConfig', () => {
  test('fills the documented defaults', () => {
    expect(GcpProviderConfig.parse(minimal)).toEqual({
      ...minimal,
      credentials: 'application-default',
      image: DEFAULT_GCP_IMAGE,
      bootDiskGb: 100,
      bootDiskType: 'pd-balanced',
      externalIp: true,
      ...SHARED_DEFAULTS,
      operationTimeout: 600_000,
    });
  });

  test('takes regions instead of zones, and an endpoint without credentials', () => {
    const c = GcpProviderConfig.parse({
      project: 'my-project-1',
      regions: ['europe-west4'],
      endpoint: 'http://127.0.0.1:8080',
      credentials: 'none',
      callTimeout: '5s',
      agentInstall: '',
    });
    expect(c).toMatchObject({ regions: ['europe-west4'], credentials: 'none', callTimeout: 5000 });
  });

  test.each([
    ['neither zones nor regions', { project: 'my-project-1', agentInstall: '' }, 'zones'],
    ['a zone name that is not one', { ...minimal, zones: ['us-central1'] }, 'zones.0'],
    ['a region name that is not one', { ...minimal, regions: ['central'] }, 'regions.0'],
    ['a project id that is not one', { ...minimal, project: 'My Project' }, 'project'],
    ['no credentials against Google itself', { ...minimal, credentials: 'none' }, 'credentials'],
    ['an endpoint that is not a URL', { ...minimal, endpoint: '127.0.0.1:8080' }, 'endpoint'],
    ['an image that is not an image path', { ...minimal, image: 'ubuntu' }, 'image'],
    ['a boot disk under 10 GB', { ...minimal, bootDiskGb: 5 }, 'bootDiskGb'],
    ['a service account that is not an email', { ...minimal, serviceAccount: 'runner' }, 'serviceAccount'],
    [
      'a max retry delay under the retry delay',
      { ...minimal, retryDelay: '1s', maxRetryDelay: '10ms' },
      'maxRetryDelay',
    ],
    ['an unknown key', { ...minimal, keyFile: '/tmp/key.json' }, ''],
  ])('rejects %s, naming the field', (_label, input, path) => {
    const r = GcpProviderConfig.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  test('regionOfZone drops the zone letter', () => {
    expect(regionOfZone('northamerica-northeast1-b')).toBe('northamerica-northeast1');
  });
});

describe('names', () => {
  const key = `workload-${'x'.repeat(300)}/run/1/gcp/us-central1-a/n1-standard-8`;

  test('the instance name is a valid GCE name, the same for the same request and different when key, type or zone differ', () => {
    const n = gceInstanceName(
      key,
      'n1-standard-8',
      'us-central1-a',
      'My Workload!! with a very long name indeed',
    );
    expect(n).toMatch(INSTANCE_NAME);
    expect(n.length).toBeLessThanOrEqual(63);
    expect(n).toMatch(/^driftless-my-workload-with-a-very-long-n-[0-9a-f]{16}$/);
    expect(
      gceInstanceName(key, 'n1-standard-8', 'us-central1-a', 'My Workload!! with a very long name indeed'),
    ).toBe(n);
    const others = [
      gceInstanceName(`${key}2`, 'n1-standard-8', 'us-central1-a', 'w'),
      gceInstanceName(key, 'n1-standard-16', 'us-central1-a', 'w'),
      gceInstanceName(key, 'n1-standard-8', 'us-central1-b', 'w'),
    ].map((x) => x.slice(-16));
    expect(new Set([n.slice(-16), ...others]).size).toBe(4);
    expect(gceInstanceName(key, 't', 'z', '---')).toMatch(/^driftless-[0-9a-f]{16}$/);
  });

  test('the requestId is a version-5 UUID, stable per request', () => {
    const id = gceRequestId(key, 'n1-standard-8', 'us-central1-a');
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(gceRequestId(key, 'n1-standard-8', 'us-central1-a')).toBe(id);
    expect(gceRequestId(key, 'n1-standard-8', 'us-central1-b')).not.toBe(id);
  });

  test('label values keep GCE rules; a value that had to change carries a hash so that values never collide', () => {
    expect(labelValue('train-1')).toBe('train-1');
    const a = labelValue('Train.One');
    const b = labelValue('train-one');
    expect(a).toMatch(/^train-one-[0-9a-f]{10}$/);
    expect(b).toBe('train-one');
    const long = labelValue('w'.repeat(100));
    expect(long.length).toBeLessThanOrEqual(63);
    expect(long).not.toBe(labelValue(`${'w'.repeat(99)}x`));
    for (const v of [a, long, labelValue('ÜBER/ñ')]) expect(v).toMatch(/^[a-z0-9_-]{0,63}$/);
  });
});
