import { rankOffers, rejectionReason } from '../../src/placement/rank';
import type { Offer } from '../../src/common/offer';
import { WorkloadSpec, type WorkloadSpecInput } from '../../src/spec/workload-spec';

// Zones are matched by AZ id and by name: the catalog holds ids, people write names.
type Placement = NonNullable<WorkloadSpecInput['placement']>;

const spec = (placement: Placement) =>
  WorkloadSpec.parse({ name: 'z', kind: 'job', command: ['x'], resources: { gpu: 'any' }, placement });

function offer(extra: Partial<Offer> = {}): Offer {
  return {
    provider: 'aws',
    region: 'us-east-1',
    zone: 'use1-az1',
    zoneName: 'us-east-1b',
    instanceType: 'g5.xlarge',
    gpuType: 'A10G',
    gpuCount: 1,
    vcpus: 4,
    memoryGb: 16,
    spot: false,
    pricePerHour: 1,
    ...extra,
  };
}

const reason = (p: Placement, o: Offer) => rejectionReason(spec(p), o, [], 0);

describe('zones by id and by name', () => {
  test('an allowed zone name matches the offer whose AZ id has that name', () => {
    expect(reason({ zones: ['us-east-1b'] }, offer())).toBeUndefined();
  });

  test('an allowed AZ id matches too', () => {
    expect(reason({ zones: ['use1-az1'] }, offer())).toBeUndefined();
  });

  test('a zone name that is another zone of this account does not match', () => {
    expect(reason({ zones: ['us-east-1a'] }, offer())).toBe('zone use1-az1 (us-east-1b) not in [us-east-1a]');
  });

  test('a denied name denies the offer of its AZ id; a denied id as well', () => {
    expect(reason({ zones: { deny: ['us-east-1b'] } }, offer())).toBe('zone use1-az1 (us-east-1b) denied');
    expect(reason({ zones: { deny: ['use1-az1'] } }, offer())).toBe('zone use1-az1 (us-east-1b) denied');
  });

  test('without a known name only the id matches (a catalog browsed without an account)', () => {
    expect(reason({ zones: ['us-east-1b'] }, offer({ zoneName: undefined }))).toBe(
      'zone use1-az1 not in [us-east-1b]',
    );
  });

  test('globs match names: us-east-1* keeps every zone of the region', () => {
    const offers = [offer(), offer({ zone: 'use1-az2', zoneName: 'us-east-1c' })];
    expect(rankOffers(spec({ zones: ['us-east-1*'] }), offers, [], 0).ranked).toHaveLength(2);
    expect(
      rankOffers(spec({ zones: { deny: ['us-east-1c'] } }), offers, [], 0).ranked.map((o) => o.zone),
    ).toEqual(['use1-az1']);
  });

  test('the same id with different names is judged per name (memo keyed by both)', () => {
    const s = spec({ zones: ['us-east-1b'] });
    const r = rankOffers(s, [offer(), offer({ zoneName: 'us-east-1d', instanceType: 'g5.2xlarge' })], [], 0);
    expect(r.ranked.map((o) => o.instanceType)).toEqual(['g5.xlarge']);
  });
});
