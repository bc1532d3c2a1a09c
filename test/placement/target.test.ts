import {
  locationKey,
  locationOfKey,
  parseTarget,
  targetCovers,
  targetLabel,
} from '../../src/placement/target';

describe('migration targets', () => {
  test('a provider, a region and a zone, each optional after the provider', () => {
    expect(parseTarget('gcp')).toEqual({ provider: 'gcp' });
    expect(parseTarget(' gcp/us-central1 ')).toEqual({ provider: 'gcp', region: 'us-central1' });
    expect(parseTarget('aws/us-east-1/use1-az1')).toEqual({
      provider: 'aws',
      region: 'us-east-1',
      zone: 'use1-az1',
    });
    expect(parseTarget('local/Pool_2.b')).toEqual({ provider: 'local', region: 'Pool_2.b' });
  });

  test.each(['', 'a/b/c/d', 'gcp/', '/us-east-1', 'gcp//z', 'gcp/-x', 'gcp/us east', 'gcp/.x', 'gcp/x*'])(
    '%j is refused with examples of what is expected',
    (text) => {
      expect(() => parseTarget(text)).toThrow(
        `expected a target such as "gcp", "gcp/us-central1" or "aws/us-east-1/use1-az1", got ${JSON.stringify(text)}`,
      );
    },
  );

  test('a target reads back as it was written', () => {
    expect(targetLabel({ provider: 'aws', region: 'us-east-1', zone: 'use1-az1' })).toBe(
      'aws/us-east-1/use1-az1',
    );
    expect(targetLabel({ provider: 'gcp' })).toBe('gcp');
    expect(targetLabel(parseTarget('gcp/us-central1'))).toBe('gcp/us-central1');
  });

  test('a target covers every location inside it and nothing else', () => {
    const l = { provider: 'aws', region: 'us-east-1', zone: 'use1-az1' };
    expect(targetCovers({ provider: 'aws' }, l)).toBe(true);
    expect(targetCovers({ provider: 'aws', region: 'us-east-1' }, l)).toBe(true);
    expect(targetCovers({ provider: 'aws', region: 'us-east-1', zone: 'use1-az1' }, l)).toBe(true);
    expect(targetCovers({ provider: 'gcp' }, l)).toBe(false);
    expect(targetCovers({ provider: 'aws', region: 'us-west-2' }, l)).toBe(false);
    expect(targetCovers({ provider: 'aws', region: 'us-east-1', zone: 'use1-az2' }, l)).toBe(false);
    expect(targetCovers({ provider: 'aws', zone: 'use1-az2' }, l)).toBe(false);
  });

  test('a location key is provider/region/zone, empty parts kept, and reads back', () => {
    expect(locationKey({ provider: 'aws', region: 'us-east-1', zone: 'use1-az1' })).toBe(
      'aws/us-east-1/use1-az1',
    );
    expect(locationKey({ provider: 'local' })).toBe('local//');
    expect(locationOfKey('aws/us-east-1/use1-az1')).toEqual({
      provider: 'aws',
      region: 'us-east-1',
      zone: 'use1-az1',
    });
    expect(locationOfKey('local//')).toEqual({ provider: 'local', region: '', zone: '' });
    expect(locationOfKey('gcp')).toEqual({ provider: 'gcp', region: '', zone: '' });
  });
});
