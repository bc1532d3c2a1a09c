import { AwsProviderConfig } from '../../../src/providers/aws/config';
import { awsClientToken } from '../../../src/providers/aws/tags';
import { SHARED_DEFAULTS } from '../cloud-settings';

const minimal = {
  regions: ['us-east-1'],
  images: { 'us-east-1': 'ami-0123456789abcdef0' },
  agentInstall: '',
};

describe('AwsProviderConfig', () => {
  test('fills the documented defaults', () => {
    expect(AwsProviderConfig.parse(minimal)).toEqual({
      ...minimal,
      imageOwners: ['amazon'],
      rootDiskGb: 100,
      rootVolumeType: 'gp3',
      network: {},
      ...SHARED_DEFAULTS,
    });
  });

  test('parses durations written as text', () => {
    const c = AwsProviderConfig.parse({
      ...minimal,
      callTimeout: '5s',
      retryDelay: '50ms',
      maxRetryDelay: '1s',
    });
    expect([c.callTimeout, c.retryDelay, c.maxRetryDelay]).toEqual([5000, 50, 1000]);
  });

  test.each([
    ['no regions', { ...minimal, regions: [] }, 'regions'],
    ['a region without an image', { ...minimal, regions: ['us-east-1', 'us-west-2'] }, 'images.us-west-2'],
    [
      'an image for a region not configured',
      { ...minimal, images: { ...minimal.images, 'eu-west-1': 'x' } },
      'images.eu-west-1',
    ],
    ['an endpoint that is not a URL', { ...minimal, endpoint: '127.0.0.1:5000' }, 'endpoint'],
    ['a region name that is not one', { ...minimal, regions: ['virginia'] }, 'regions.0'],
    [
      'a subnet that is not a subnet id',
      { ...minimal, network: { 'us-east-1': { subnetIds: ['sg-1'] } } },
      'network.us-east-1.subnetIds.0',
    ],
    ['an unknown key', { ...minimal, credentials: 'x' }, ''],
    ['a root disk under 8 GB', { ...minimal, rootDiskGb: 4 }, 'rootDiskGb'],
  ])('rejects %s', (_label, input, path) => {
    const r = AwsProviderConfig.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.'))).toContain(path);
  });

  test('has no default agent install: the npm package named driftless is not ours', () => {
    const { agentInstall: _none, ...withoutInstall } = minimal;
    const r = AwsProviderConfig.safeParse(withoutInstall);
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['agentInstall']);
    expect(r.error?.issues[0]?.message).toMatch(
      /required: how an instance gets the driftless agent: "" when the image has it/,
    );
  });
});

describe('awsClientToken', () => {
  test('is at most 64 characters, the same for the same request and different when type or zone differ', () => {
    const key = `workload-${'x'.repeat(300)}/run/1/aws/use1-az1/g5.xlarge`;
    const t = awsClientToken(key, 'g5.xlarge', 'use1-az1');
    expect(t.length).toBeLessThanOrEqual(64);
    expect(awsClientToken(key, 'g5.xlarge', 'use1-az1')).toBe(t);
    expect(awsClientToken(key, 'g5.2xlarge', 'use1-az1')).not.toBe(t);
    expect(awsClientToken(key, 'g5.xlarge', 'use1-az2')).not.toBe(t);
    expect(awsClientToken(`${key}2`, 'g5.xlarge', 'use1-az1')).not.toBe(t);
  });
});
