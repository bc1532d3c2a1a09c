import type { Offer } from '../../src/common/offer';
import {
  boundForMove,
  fittingLocations,
  gatherOffers,
  reasonsByLocation,
  type OfferSource,
} from '../../src/placement/place';
import type { Placement, RankedOffer } from '../../src/placement/rank';

/** An offer at provider/region/zone, cheap unless told otherwise. */
function at(where: string, extra: Partial<Offer> = {}): Offer {
  const [provider = '', region = '', zone = ''] = where.split('/');
  return {
    provider,
    region,
    zone,
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

const ranked = (...where: string[]): RankedOffer[] => where.map((w) => ({ ...at(w), candidate: 0 }));

const source = (name: string, offers: () => Promise<Offer[]>): OfferSource => ({ name, offers });

describe('gatherOffers', () => {
  test('concatenates every provider’s offers in the order the providers are given', async () => {
    const slow = source('aws', () => new Promise((r) => setTimeout(() => r([at('aws/us-east-1/a')]), 20)));
    const fast = source('gcp', () => Promise.resolve([at('gcp/us-central1/b'), at('gcp/us-central1/c')]));
    const { offers, providerErrors } = await gatherOffers([slow, fast]);
    expect(offers.map((o) => o.provider)).toEqual(['aws', 'gcp', 'gcp']);
    expect(providerErrors).toEqual([]);
  });

  test('a provider that fails is named with its message and the others still count', async () => {
    const broken = source('aws', () => Promise.reject(new Error('AuthFailure: expired token')));
    const local = source('local', () => Promise.resolve([at('local/lab-a/lab-a')]));
    const { offers, providerErrors } = await gatherOffers([broken, local]);
    expect(offers).toEqual([at('local/lab-a/lab-a')]);
    expect(providerErrors).toEqual(['aws: AuthFailure: expired token']);
  });

  test('asks every provider at once, not one after another', async () => {
    let running = 0;
    let most = 0;
    const counted = (name: string) =>
      source(name, async () => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 10));
        running--;
        return [];
      });
    await gatherOffers([counted('a'), counted('b'), counted('c')]);
    expect(most).toBe(3);
  });

  test('no providers: no offers and no errors', async () => {
    expect(await gatherOffers([])).toEqual({ offers: [], providerErrors: [] });
  });
});

describe('fittingLocations', () => {
  test('every location of a fitting offer once, in rank order', () => {
    const placement: Placement = { ranked: ranked('aws/r1/z1', 'gcp/r2/z2', 'aws/r1/z1'), rejected: [] };
    expect(fittingLocations(placement)).toEqual(['aws/r1/z1', 'gcp/r2/z2']);
  });
});

describe('reasonsByLocation', () => {
  test('locations with a fitting offer get no reason', () => {
    const rejected = [{ offer: at('aws/r1/z1'), reason: 'too expensive' }];
    expect(reasonsByLocation(rejected, ['aws/r1/z1'])).toEqual({});
  });

  test('a reason about the location itself wins over a more common one about its offers', () => {
    const rejected = [
      { offer: at('aws/r1/z1'), reason: 'gpu: needs H100' },
      { offer: at('aws/r1/z1'), reason: 'gpu: needs H100' },
      { offer: at('aws/r1/z1'), reason: 'zone aws/r1/z1 is blocked until 12:05 (CapacityError)' },
    ];
    expect(reasonsByLocation(rejected, [])).toEqual({
      'aws/r1/z1': 'zone aws/r1/z1 is blocked until 12:05 (CapacityError)',
    });
  });

  test('otherwise the most common reason, per location', () => {
    const rejected = [
      { offer: at('aws/r1/z1'), reason: 'price above max' },
      { offer: at('aws/r1/z1'), reason: 'gpu: needs H100' },
      { offer: at('aws/r1/z1'), reason: 'gpu: needs H100' },
      { offer: at('gcp/r2/z2'), reason: 'price above max' },
    ];
    expect(reasonsByLocation(rejected, [])).toEqual({
      'aws/r1/z1': 'gpu: needs H100',
      'gcp/r2/z2': 'price above max',
    });
  });

  test('a tie keeps the reason seen first', () => {
    const rejected = [
      { offer: at('aws/r1/z1'), reason: 'first' },
      { offer: at('aws/r1/z1'), reason: 'second' },
    ];
    expect(reasonsByLocation(rejected, [])).toEqual({ 'aws/r1/z1': 'first' });
  });
});

describe('boundForMove', () => {
  const placement: Placement = {
    ranked: ranked('aws/r1/z1', 'gcp/r2/z2', 'gcp/r3/z3'),
    rejected: [{ offer: at('aws/r9/z9'), reason: 'price above max' }],
  };

  test('without target or avoid, the placement is returned as it is', () => {
    expect(boundForMove(placement, {})).toBe(placement);
  });

  test('avoid moves the offers at the location being left to the front of the rejected', () => {
    const bound = boundForMove(placement, { avoid: { provider: 'aws', region: 'r1', zone: 'z1' } });
    expect(bound.ranked.map((o) => o.provider + '/' + o.region)).toEqual(['gcp/r2', 'gcp/r3']);
    expect(bound.rejected).toEqual([
      { offer: placement.ranked[0], reason: 'aws/r1/z1 is the location being left' },
      ...placement.rejected,
    ]);
  });

  test('a target keeps only the offers inside it, naming the target for the others', () => {
    const bound = boundForMove(placement, { target: { provider: 'gcp', region: 'r3' } });
    expect(bound.ranked).toEqual([placement.ranked[2]]);
    expect(bound.rejected.slice(0, 2).map((r) => r.reason)).toEqual([
      'not at the migration target gcp/r3',
      'not at the migration target gcp/r3',
    ]);
  });

  test('an offer both at the avoided location and outside the target is named as the location being left', () => {
    const bound = boundForMove(placement, {
      target: { provider: 'gcp' },
      avoid: { provider: 'aws', region: 'r1', zone: 'z1' },
    });
    expect(bound.ranked.map((o) => o.region)).toEqual(['r2', 'r3']);
    expect(bound.rejected[0]!.reason).toBe('aws/r1/z1 is the location being left');
  });

  test('leaves the placement it was given unchanged', () => {
    const before = JSON.stringify(placement);
    boundForMove(placement, { target: { provider: 'gcp' } });
    expect(JSON.stringify(placement)).toBe(before);
  });
});
