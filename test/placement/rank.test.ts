import {
  blockCovers,
  blockLabel,
  expandCandidates,
  globToRegExp,
  nearestMisses,
  offerLabel,
  rankOffers,
  rejectionReason,
  type Block,
} from '../../src/placement/rank';
import type { Offer } from '../../src/providers/types';
import { WorkloadSpec, type WorkloadSpecInput } from '../../src/spec/workload-spec';

const NOW = Date.parse('2025-03-01T12:00:00.000Z');

type Resources = NonNullable<WorkloadSpecInput['resources']>;
type Placement = NonNullable<WorkloadSpecInput['placement']>;

/** A realistic spec: parsed by the real zod schema, defaults and all. */
function spec(resources: Resources = {}, placement: Placement = {}): WorkloadSpec {
  return WorkloadSpec.parse({
    name: 'train',
    kind: 'job',
    command: ['python', 'train.py'],
    resources,
    placement,
  });
}

/** An on-demand 8xH100 in aws/us-east-1/us-east-1a, 80GB per GPU. */
function offer(extra: Partial<Offer> = {}): Offer {
  return {
    provider: 'aws',
    region: 'us-east-1',
    zone: 'us-east-1a',
    instanceType: 'p5.48xlarge',
    gpuType: 'H100',
    gpuCount: 8,
    gpuMemoryGb: 80,
    vcpus: 192,
    memoryGb: 2048,
    spot: false,
    pricePerHour: 98.32,
    ...extra,
  };
}

const cpuOffer = (extra: Partial<Offer> = {}): Offer =>
  offer({
    instanceType: 'm7i.2xlarge',
    gpuType: undefined,
    gpuCount: 0,
    gpuMemoryGb: undefined,
    vcpus: 8,
    memoryGb: 32,
    pricePerHour: 0.4,
    ...extra,
  });

function block(extra: Partial<Block> = {}): Block {
  return { provider: 'aws', until: NOW + 10 * 60_000, reason: 'CapacityError', ...extra };
}

/** HH:MM of an epoch-ms time in UTC, computed independently of the code under test. */
function hhmm(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

const reason = (s: WorkloadSpec, o: Offer, blocks: Block[] = []) => rejectionReason(s, o, blocks, NOW);

describe('offerLabel', () => {
  test('omits the zone when it equals the region (local pools)', () => {
    expect(
      offerLabel(offer({ provider: 'local', region: 'lab-a', zone: 'lab-a', instanceType: 'lab-a:2xA100' })),
    ).toBe('local/lab-a lab-a:2xA100');
  });

  test('shows provider/region/zone when the zone differs from the region', () => {
    expect(offerLabel(offer())).toBe('aws/us-east-1/us-east-1a p5.48xlarge');
  });

  test('marks spot offers', () => {
    expect(offerLabel(offer({ spot: true }))).toBe('aws/us-east-1/us-east-1a p5.48xlarge (spot)');
  });
});

describe('blockLabel', () => {
  test.each([
    [{ provider: 'aws' }, 'aws'],
    [{ provider: 'aws', region: 'us-east-1' }, 'aws/us-east-1'],
    [{ provider: 'aws', region: 'us-east-1', zone: 'us-east-1a' }, 'aws/us-east-1/us-east-1a'],
    [{ provider: 'local', region: 'lab-a', zone: 'lab-a' }, 'local/lab-a'],
  ])('%j is labelled %j', (b, label) => {
    expect(blockLabel(b)).toBe(label);
  });
});

describe('blockCovers', () => {
  const o = offer();

  test('a block on another provider does not cover the offer', () => {
    expect(blockCovers(block({ provider: 'gcp' }), o)).toBe(false);
  });

  test('a provider-level block (no region) covers every region and zone of its provider', () => {
    for (const [region, zone] of [
      ['us-east-1', 'us-east-1a'],
      ['us-west-2', 'us-west-2b'],
      ['eu-west-1', 'eu-west-1c'],
    ] as const) {
      expect(blockCovers(block(), offer({ region, zone }))).toBe(true);
    }
  });

  test('a region block covers that region only', () => {
    expect(blockCovers(block({ region: 'us-east-1' }), o)).toBe(true);
    expect(blockCovers(block({ region: 'us-west-2' }), o)).toBe(false);
  });

  test('a zone block covers that zone only', () => {
    expect(blockCovers(block({ region: 'us-east-1', zone: 'us-east-1a' }), o)).toBe(true);
    expect(blockCovers(block({ region: 'us-east-1', zone: 'us-east-1b' }), o)).toBe(false);
  });
});

describe('globToRegExp', () => {
  test.each([
    ['us-*', 'us-east-1', true],
    ['us-*', 'us-', true],
    ['us-*', 'eu-west-1', false],
    ['us-*', 'aus-east-1', false],
    ['europe-west4-?', 'europe-west4-a', true],
    ['europe-west4-?', 'europe-west4-ab', false],
    ['europe-west4-?', 'europe-west4-', false],
    ['europe-west4-?', 'europe-west4', false],
    ['us-east-1', 'us-east-1', true],
    ['us-east-1', 'us-east-10', false],
    // "." is literal, not a RegExp wildcard
    ['lab.a', 'lab.a', true],
    ['lab.a', 'labxa', false],
    // case-insensitive both ways
    ['US-*', 'us-east-1', true],
    ['us-*', 'US-EAST-1', true],
    ['Europe-West4-?', 'europe-west4-B', true],
  ])('%j matches %j: %s', (glob, name, matches) => {
    expect(globToRegExp(glob).test(name)).toBe(matches);
  });
});

describe('rejectionReason: one test per reason', () => {
  test('an offer meeting every requirement has no reason', () => {
    expect(reason(spec({ gpu: 'H100:8' }), offer())).toBeUndefined();
  });

  test('provider outside an allow list', () => {
    expect(reason(spec({}, { providers: ['aws'] }), cpuOffer({ provider: 'gcp' }))).toBe(
      'provider gcp not in [aws]',
    );
  });

  test('provider on a deny list', () => {
    expect(reason(spec({}, { providers: { deny: ['gcp'] } }), cpuOffer({ provider: 'gcp' }))).toBe(
      'provider gcp denied',
    );
  });

  test('instance type other than the pinned one', () => {
    const s = spec({ gpu: 'A100:8' }, { instanceType: 'g5.xlarge' });
    expect(reason(s, offer({ instanceType: 'p4d.24xlarge', gpuType: 'A100' }))).toBe(
      'instance type p4d.24xlarge is not the pinned g5.xlarge',
    );
  });

  test('GPU type outside the requested list', () => {
    const s = spec({ gpu: { type: ['H100', 'A100-80GB'], count: 1 } });
    expect(reason(s, offer({ gpuType: 'L4', gpuCount: 1, gpuMemoryGb: 24 }))).toBe(
      'gpu L4 not in [H100, A100-80GB]',
    );
  });

  test('GPU count other than an exact request', () => {
    expect(reason(spec({ gpu: 'H100:8' }), offer({ gpuCount: 4 }))).toBe('4 GPUs, 8 requested');
  });

  test('GPU count outside a requested range', () => {
    expect(reason(spec({ gpu: 'A100:4..8' }), offer({ gpuType: 'A100', gpuCount: 2 }))).toBe(
      '2 GPUs, 4..8 requested',
    );
  });

  test('GPU memory below the requested minimum', () => {
    const s = spec({ gpu: { type: 'any', memory: '40GB..' } });
    expect(reason(s, offer({ gpuType: 'A10G', gpuCount: 1, gpuMemoryGb: 24 }))).toBe(
      '24GB per GPU, 40GB.. requested',
    );
  });

  test('GPU memory unknown when a GPU memory is requested', () => {
    const s = spec({ gpu: { type: 'any', memory: '40GB..' } });
    expect(reason(s, offer({ gpuCount: 1, gpuMemoryGb: undefined }))).toBe(
      'unknown GPU memory, 40GB.. requested',
    );
  });

  test('no GPU when one is requested, naming the request', () => {
    expect(reason(spec({ gpu: 'H100:8' }), cpuOffer())).toBe('no GPU (H100:8 requested)');
    expect(reason(spec({ gpu: 'any' }), cpuOffer())).toBe('no GPU (any:1 requested)');
    expect(reason(spec({ gpu: { type: ['H100', 'A100'], count: '2..' } }), cpuOffer())).toBe(
      'no GPU (H100, A100:2.. requested)',
    );
  });

  test('a GPU count without a GPU type counts as no GPU', () => {
    expect(reason(spec({ gpu: 'any:8' }), offer({ gpuType: undefined }))).toBe('no GPU (any:8 requested)');
  });

  test('GPUs when none are requested', () => {
    expect(reason(spec(), offer())).toBe('8 GPUs, none requested');
  });

  test('vCPUs below the requested minimum', () => {
    expect(reason(spec({ cpu: '16..' }), cpuOffer({ vcpus: 8 }))).toBe('8 vCPUs, 16.. requested');
  });

  test('memory outside the requested range', () => {
    expect(reason(spec({ memory: '64GB..256GB' }), cpuOffer({ memoryGb: 32 }))).toBe(
      '32GB memory, 64GB..256GB requested',
    );
  });

  test('spot offer under spot: never (the default)', () => {
    expect(reason(spec(), cpuOffer({ spot: true }))).toBe('spot offer, spot: never');
    expect(reason(spec({}, { spot: 'never' }), cpuOffer({ spot: true }))).toBe('spot offer, spot: never');
  });

  test('on-demand offer under spot: require', () => {
    expect(reason(spec({}, { spot: 'require' }), cpuOffer())).toBe('on-demand offer, spot: require');
  });

  test('region on a deny list', () => {
    const s = spec({}, { regions: { deny: ['eu-west-1'] } });
    expect(reason(s, cpuOffer({ region: 'eu-west-1', zone: 'eu-west-1a' }))).toBe('region eu-west-1 denied');
  });

  test('region outside an allow list of globs', () => {
    const s = spec({}, { regions: ['us-*'] });
    expect(reason(s, cpuOffer({ region: 'eu-west-1', zone: 'eu-west-1a' }))).toBe(
      'region eu-west-1 not in [us-*]',
    );
  });

  test('zone on a deny list', () => {
    expect(reason(spec({}, { zones: { deny: ['us-east-1a'] } }), cpuOffer())).toBe('zone us-east-1a denied');
  });

  test('zone outside an allow list', () => {
    expect(reason(spec({}, { zones: ['us-east-1b', 'us-east-1c'] }), cpuOffer())).toBe(
      'zone us-east-1a not in [us-east-1b, us-east-1c]',
    );
  });

  test('price over maxPricePerHour', () => {
    expect(reason(spec({}, { maxPricePerHour: 30 }), cpuOffer({ pricePerHour: 32.77 }))).toBe(
      'price 32.77/h over max 30/h',
    );
  });

  test('a price equal to maxPricePerHour fits', () => {
    expect(reason(spec({}, { maxPricePerHour: 30 }), cpuOffer({ pricePerHour: 30 }))).toBeUndefined();
  });

  test('zone blocked, with the end time as HH:MM UTC and the failure', () => {
    const until = Date.parse('2025-03-01T12:07:45.000Z');
    const b = block({ region: 'us-east-1', zone: 'us-east-1a', until });
    expect(reason(spec(), cpuOffer(), [b])).toBe(
      `zone us-east-1a blocked until ${hhmm(until)} after CapacityError`,
    );
    expect(hhmm(until)).toBe('12:07');
  });

  test('region blocked', () => {
    const until = NOW + 95 * 60_000;
    const b = block({ region: 'us-east-1', until, reason: 'losing an instance' });
    expect(reason(spec(), cpuOffer(), [b])).toBe(
      `region us-east-1 blocked until ${hhmm(until)} after losing an instance`,
    );
  });

  test('provider blocked (a block without region covers every region)', () => {
    const until = Date.parse('2025-03-01T23:59:59.999Z');
    const b = block({ until, reason: 'QuotaError' });
    for (const region of ['us-east-1', 'us-west-2', 'eu-west-1']) {
      expect(reason(spec(), cpuOffer({ region, zone: `${region}b` }), [b])).toBe(
        'provider aws blocked until 23:59 after QuotaError',
      );
    }
  });

  test('a block on another provider, region or zone does not reject the offer', () => {
    const blocks = [
      block({ provider: 'gcp' }),
      block({ region: 'us-west-2' }),
      block({ region: 'us-east-1', zone: 'us-east-1b' }),
    ];
    expect(reason(spec(), cpuOffer(), blocks)).toBeUndefined();
  });

  test('expired blocks and blocks ending exactly now are ignored', () => {
    expect(reason(spec(), cpuOffer(), [block({ until: NOW - 1 }), block({ until: NOW })])).toBeUndefined();
  });

  test('the first active covering block gives the reason', () => {
    const blocks = [
      block({ until: NOW - 1, reason: 'old' }),
      block({ region: 'us-east-1', reason: 'first' }),
      block({ reason: 'second' }),
    ];
    expect(reason(spec(), cpuOffer(), blocks)).toMatch(
      /^region us-east-1 blocked until \d\d:\d\d after first$/,
    );
  });
});

describe('syntax forms', () => {
  test('gpu "H100:8": that model, exactly 8', () => {
    const s = spec({ gpu: 'H100:8' });
    expect(s.resources.gpu).toEqual({ type: ['H100'], count: { min: 8, max: 8 } });
    expect(reason(s, offer())).toBeUndefined();
    expect(reason(s, offer({ gpuCount: 16 }))).toBe('16 GPUs, 8 requested');
    expect(reason(s, offer({ gpuType: 'A100' }))).toBe('gpu A100 not in [H100]');
  });

  test('gpu "A100:4..8": that model, 4 to 8 inclusive', () => {
    const s = spec({ gpu: 'A100:4..8' });
    const a100 = (gpuCount: number) => offer({ gpuType: 'A100', gpuCount });
    expect(reason(s, a100(4))).toBeUndefined();
    expect(reason(s, a100(8))).toBeUndefined();
    expect(reason(s, a100(2))).toBe('2 GPUs, 4..8 requested');
    expect(reason(s, a100(16))).toBe('16 GPUs, 4..8 requested');
  });

  test('gpu "A100:2..": at least 2', () => {
    const s = spec({ gpu: 'A100:2..' });
    expect(reason(s, offer({ gpuType: 'A100', gpuCount: 16 }))).toBeUndefined();
    expect(reason(s, offer({ gpuType: 'A100', gpuCount: 1 }))).toBe('1 GPUs, 2.. requested');
  });

  test('gpu "L4": one GPU of that model', () => {
    const s = spec({ gpu: 'L4' });
    expect(reason(s, offer({ gpuType: 'L4', gpuCount: 1 }))).toBeUndefined();
    expect(reason(s, offer({ gpuType: 'L4', gpuCount: 2 }))).toBe('2 GPUs, 1 requested');
  });

  test('gpu "any": one GPU of any model', () => {
    const s = spec({ gpu: 'any' });
    expect(s.resources.gpu?.type).toBeUndefined();
    for (const gpuType of ['H100', 'L4', 'T4', 'MI300X']) {
      expect(reason(s, offer({ gpuType, gpuCount: 1 }))).toBeUndefined();
    }
    expect(reason(s, offer())).toBe('8 GPUs, 1 requested');
  });

  test('gpu "any:2": two GPUs of any model', () => {
    const s = spec({ gpu: 'any:2' });
    expect(reason(s, offer({ gpuType: 'T4', gpuCount: 2 }))).toBeUndefined();
    expect(reason(s, offer({ gpuType: 'T4', gpuCount: 4 }))).toBe('4 GPUs, 2 requested');
  });

  test('gpu {type: [list], count: range, memory: range}', () => {
    const s = spec({ gpu: { type: ['H100', 'A100'], count: '4..8', memory: '40GB..' } });
    expect(reason(s, offer({ gpuType: 'A100', gpuCount: 4, gpuMemoryGb: 40 }))).toBeUndefined();
    expect(reason(s, offer({ gpuType: 'A100', gpuCount: 8, gpuMemoryGb: 80 }))).toBeUndefined();
    expect(reason(s, offer({ gpuType: 'A100', gpuCount: 8, gpuMemoryGb: 24 }))).toBe(
      '24GB per GPU, 40GB.. requested',
    );
    expect(reason(s, offer({ gpuType: 'V100', gpuCount: 8 }))).toBe('gpu V100 not in [H100, A100]');
  });

  test('gpu {type: "any", memory: "24GB..48GB"}: GPU memory bounded on both sides', () => {
    const s = spec({ gpu: { type: 'any', memory: '24GB..48GB' } });
    expect(reason(s, offer({ gpuType: 'L40S', gpuCount: 1, gpuMemoryGb: 48 }))).toBeUndefined();
    expect(reason(s, offer({ gpuType: 'H100', gpuCount: 1, gpuMemoryGb: 80 }))).toBe(
      '80GB per GPU, 24GB..48GB requested',
    );
  });

  test('gpu {type: [.., "any"]}: "any" in a list accepts every model', () => {
    const s = spec({ gpu: { type: ['H100', 'any'], count: 1 } });
    expect(reason(s, offer({ gpuType: 'T4', gpuCount: 1 }))).toBeUndefined();
  });

  test('gpu {type, count} without count asks for exactly one', () => {
    const s = spec({ gpu: { type: 'A100' } });
    expect(reason(s, offer({ gpuType: 'A100', gpuCount: 1 }))).toBeUndefined();
    expect(reason(s, offer({ gpuType: 'A100', gpuCount: 2 }))).toBe('2 GPUs, 1 requested');
  });

  test('GPU types match case-insensitively; the reason keeps the spec’s spelling', () => {
    const s = spec({ gpu: { type: ['h100', 'a100-80gb'], count: 8 } });
    expect(reason(s, offer({ gpuType: 'H100' }))).toBeUndefined();
    expect(reason(s, offer({ gpuType: 'A100-80GB' }))).toBeUndefined();
    expect(reason(s, offer({ gpuType: 'L4' }))).toBe('gpu L4 not in [h100, a100-80gb]');
  });

  test('a bare GPU model also matches its memory variants, not the other way round', () => {
    const bare = spec({ gpu: 'A100:8' });
    expect(reason(bare, offer({ gpuType: 'A100-80GB' }))).toBeUndefined();
    expect(reason(bare, offer({ gpuType: 'a100-40gb' }))).toBeUndefined();
    expect(reason(bare, offer({ gpuType: 'A100-SXM4' }))).toBe('gpu A100-SXM4 not in [A100]');
    const exact = spec({ gpu: 'A100-80GB:8' });
    expect(reason(exact, offer({ gpuType: 'A100-80GB' }))).toBeUndefined();
    expect(reason(exact, offer({ gpuType: 'A100' }))).toBe('gpu A100 not in [A100-80GB]');
    expect(reason(exact, offer({ gpuType: 'A100-40GB' }))).toBe('gpu A100-40GB not in [A100-80GB]');
  });

  test('no gpu: CPU-only offers fit', () => {
    expect(reason(spec(), cpuOffer())).toBeUndefined();
  });

  // A cpu or memory request against CPU offers of several sizes: the rejection reason of each
  // size (undefined: it fits).
  type Reasons = Record<number, string | undefined>;
  const cpu: Array<[string, Resources['cpu'], Reasons]> = [
    [
      'cpu as a number means at least that many',
      16,
      { 16: undefined, 96: undefined, 8: '8 vCPUs, 16.. requested' },
    ],
    [
      'cpu as "8..32" bounds both sides',
      '8..32',
      { 32: undefined, 4: '4 vCPUs, 8..32 requested', 64: '64 vCPUs, 8..32 requested' },
    ],
    ['cpu as "..16" is an upper bound', '..16', { 2: undefined, 32: '32 vCPUs, ..16 requested' }],
  ];
  const memory: Array<[string, Resources['memory'], Reasons]> = [
    [
      'memory as a size means at least that much',
      '64GB',
      { 64: undefined, 32: '32GB memory, 64GB.. requested' },
    ],
    [
      'memory as a number of GB means at least that much',
      128,
      { 256: undefined, 64: '64GB memory, 128GB.. requested' },
    ],
    [
      'memory as "64GB..256GB" bounds both sides',
      '64GB..256GB',
      { 64: undefined, 256: undefined, 512: '512GB memory, 64GB..256GB requested' },
    ],
  ];

  /** Each size's reason for `s`, with the size made into an offer by `offerOf`. */
  const reasonsBySize = (s: WorkloadSpec, sizes: Reasons, offerOf: (n: number) => Partial<Offer>) =>
    Object.fromEntries(Object.keys(sizes).map((n) => [n, reason(s, cpuOffer(offerOf(Number(n))))]));

  test.each(cpu)('%s', (_, request, reasons) => {
    expect(reasonsBySize(spec({ cpu: request }), reasons, (vcpus) => ({ vcpus }))).toEqual(reasons);
  });

  test.each(memory)('%s', (_, request, reasons) => {
    expect(reasonsBySize(spec({ memory: request }), reasons, (memoryGb) => ({ memoryGb }))).toEqual(reasons);
  });

  test('placement lists are allow lists; {allow, deny} combine, deny winning', () => {
    const s = spec({}, { regions: { allow: ['us-*'], deny: ['us-west-*'] } });
    expect(reason(s, cpuOffer())).toBeUndefined();
    expect(reason(s, cpuOffer({ region: 'us-west-2', zone: 'us-west-2a' }))).toBe('region us-west-2 denied');
    expect(reason(s, cpuOffer({ region: 'eu-west-1', zone: 'eu-west-1a' }))).toBe(
      'region eu-west-1 not in [us-*]',
    );
  });

  test('placement {deny} alone allows everything else', () => {
    const s = spec({}, { regions: { deny: ['eu-*'] } });
    expect(reason(s, cpuOffer({ region: 'ap-south-1', zone: 'ap-south-1a' }))).toBeUndefined();
  });

  test('region glob "us-*" matches every us- region and nothing else', () => {
    const s = spec({}, { regions: ['us-*'] });
    for (const region of ['us-east-1', 'us-west-2', 'us-central1']) {
      expect(reason(s, cpuOffer({ region, zone: `${region}a` }))).toBeUndefined();
    }
    expect(reason(s, cpuOffer({ region: 'northamerica-northeast1', zone: 'x' }))).toBe(
      'region northamerica-northeast1 not in [us-*]',
    );
  });

  test('zone glob "europe-west4-?" matches one character', () => {
    const s = spec({}, { zones: ['europe-west4-?'] });
    const gcp = (zone: string) => cpuOffer({ provider: 'gcp', region: 'europe-west4', zone });
    expect(reason(s, gcp('europe-west4-a'))).toBeUndefined();
    expect(reason(s, gcp('europe-west4-c'))).toBeUndefined();
    expect(reason(s, gcp('europe-west4-ab'))).toBe('zone europe-west4-ab not in [europe-west4-?]');
  });

  test('globs and names match case-insensitively', () => {
    expect(reason(spec({}, { regions: ['US-*'] }), cpuOffer())).toBeUndefined();
    expect(reason(spec({}, { regions: ['us-*'] }), cpuOffer({ region: 'US-EAST-1' }))).toBeUndefined();
    expect(
      reason(spec({}, { zones: ['Europe-West4-?'] }), cpuOffer({ zone: 'europe-west4-b' })),
    ).toBeUndefined();
    expect(reason(spec({}, { providers: ['AWS'] }), cpuOffer())).toBeUndefined();
    expect(reason(spec({}, { regions: { deny: ['US-EAST-1'] } }), cpuOffer())).toBe(
      'region us-east-1 denied',
    );
  });

  test('spot: allow accepts spot and on-demand', () => {
    const s = spec({}, { spot: 'allow' });
    expect(reason(s, cpuOffer({ spot: true }))).toBeUndefined();
    expect(reason(s, cpuOffer({ spot: false }))).toBeUndefined();
  });

  test('spot: require accepts spot only', () => {
    expect(reason(spec({}, { spot: 'require' }), cpuOffer({ spot: true }))).toBeUndefined();
  });

  test('instanceType pins one type', () => {
    const s = spec({ gpu: 'H100:8' }, { instanceType: 'p5.48xlarge' });
    expect(reason(s, offer())).toBeUndefined();
  });
});

/** An 8xA100 (40GB) and a 1xL4, beside offer()'s 8xH100: alternatives for the ranking tests. */
const a100 = offer({ instanceType: 'p4d.24xlarge', gpuType: 'A100', gpuMemoryGb: 40, pricePerHour: 32 });
const l4 = offer({
  instanceType: 'g6.xlarge',
  gpuType: 'L4',
  gpuCount: 1,
  gpuMemoryGb: 24,
  pricePerHour: 0.8,
});

describe('rankOffers', () => {
  test('fitting offers cheapest first, each marked with candidate 0 without alternatives', () => {
    const offers = [
      cpuOffer({ instanceType: 'b', pricePerHour: 3 }),
      cpuOffer({ instanceType: 'a', pricePerHour: 1.5 }),
      cpuOffer({ instanceType: 'c', pricePerHour: 2 }),
    ];
    const { ranked, rejected } = rankOffers(spec(), offers, [], NOW);
    expect(ranked.map((o) => [o.instanceType, o.candidate])).toEqual([
      ['a', 0],
      ['c', 0],
      ['b', 0],
    ]);
    expect(rejected).toEqual([]);
  });

  test('ranked offers are the input offers plus candidate; rejected keep input order', () => {
    const s = spec({ gpu: 'H100:8', cpu: 64 });
    const good = offer();
    const cpu = cpuOffer();
    const l4 = offer({ gpuType: 'L4' });
    const small = offer({ vcpus: 32 });
    const { ranked, rejected } = rankOffers(s, [cpu, good, l4, small], [], NOW);
    expect(ranked).toEqual([{ ...good, candidate: 0 }]);
    expect(rejected).toEqual([
      { offer: cpu, reason: 'no GPU (H100:8 requested)' },
      { offer: l4, reason: 'gpu L4 not in [H100]' },
      { offer: small, reason: '32 vCPUs, 64.. requested' },
    ]);
  });

  test('spot: allow ranks spot and on-demand together by price', () => {
    const s = spec({ gpu: 'H100:8' }, { spot: 'allow' });
    const offers = [
      offer({ zone: 'us-east-1a', pricePerHour: 98 }),
      offer({ zone: 'us-east-1a', spot: true, pricePerHour: 40 }),
      offer({ zone: 'us-east-1b', pricePerHour: 60 }),
      offer({ zone: 'us-east-1b', spot: true, pricePerHour: 70 }),
    ];
    const { ranked, rejected } = rankOffers(s, offers, [], NOW);
    expect(ranked.map((o) => [o.pricePerHour, o.spot])).toEqual([
      [40, true],
      [60, false],
      [70, true],
      [98, false],
    ]);
    expect(rejected).toEqual([]);
  });

  test('spot: never and spot: require split spot/on-demand twins', () => {
    const twins = [cpuOffer({ pricePerHour: 1 }), cpuOffer({ spot: true, pricePerHour: 0.3 })];
    expect(rankOffers(spec(), twins, [], NOW).ranked.map((o) => o.spot)).toEqual([false]);
    expect(rankOffers(spec({}, { spot: 'require' }), twins, [], NOW).ranked.map((o) => o.spot)).toEqual([
      true,
    ]);
  });

  const h100 = offer({ instanceType: 'p5.48xlarge', pricePerHour: 98 });

  test('ordered ranks by alternative first: an expensive offer of alternative 1 before a cheap one of 2', () => {
    const s = spec({ ordered: [{ gpu: 'H100:8' }, { gpu: 'A100:8' }] });
    const { ranked, rejected } = rankOffers(s, [a100, h100, l4], [], NOW);
    expect(ranked.map((o) => [o.instanceType, o.candidate])).toEqual([
      ['p5.48xlarge', 0],
      ['p4d.24xlarge', 1],
    ]);
    expect(rejected.map((r) => r.offer)).toEqual([l4]);
  });

  test('anyOf ranks purely by price, whatever the alternative', () => {
    const s = spec({ anyOf: [{ gpu: 'H100:8' }, { gpu: 'A100:8' }] });
    const { ranked } = rankOffers(s, [h100, a100, l4], [], NOW);
    expect(ranked.map((o) => [o.instanceType, o.candidate])).toEqual([
      ['p4d.24xlarge', 1],
      ['p5.48xlarge', 0],
    ]);
  });

  test('ordered: within one alternative, cheapest first', () => {
    const s = spec({ ordered: [{ gpu: 'H100:8' }, { gpu: 'A100:8' }] });
    const offers = [
      { ...a100, zone: 'us-east-1b', pricePerHour: 40 },
      { ...h100, zone: 'us-east-1b', pricePerHour: 120 },
      a100,
      h100,
    ];
    expect(rankOffers(s, offers, [], NOW).ranked.map((o) => [o.candidate, o.pricePerHour])).toEqual([
      [0, 98],
      [0, 120],
      [1, 32],
      [1, 40],
    ]);
  });

  test('candidate is the first alternative an offer fits', () => {
    const s = spec({ anyOf: [{ gpu: 'L4' }, { gpu: 'any' }, { gpu: 'any:8' }] });
    const { ranked } = rankOffers(
      s,
      [l4, h100, { ...l4, gpuType: 'T4', instanceType: 'g4dn.xlarge' }],
      [],
      NOW,
    );
    expect(Object.fromEntries(ranked.map((o) => [o.instanceType, o.candidate]))).toEqual({
      'g6.xlarge': 0,
      'g4dn.xlarge': 1,
      'p5.48xlarge': 2,
    });
  });

  test('alternatives override the base resources and placement, keeping what they do not override', () => {
    const s = spec(
      { cpu: 64, anyOf: [{ gpu: 'H100:8' }, { gpu: 'L4', cpu: 4, placement: { spot: 'require' } }] },
      { regions: ['us-*'] },
    );
    const alts = expandCandidates(s);
    expect(alts).toHaveLength(2);
    expect(alts[0]!.resources.cpu).toEqual({ min: 64 });
    expect(alts[1]!.resources.cpu).toEqual({ min: 4 });
    expect(alts[1]!.placement).toEqual({ regions: { allow: ['us-*'] }, spot: 'require', hedge: 1 });
    expect(alts[0]!.placement.spot).toBe('never');

    const l4Spot = { ...l4, vcpus: 4, spot: true };
    expect(rankOffers(s, [l4Spot], [], NOW).ranked.map((o) => o.candidate)).toEqual([1]);
    expect(reason(s, { ...l4Spot, region: 'eu-west-1', zone: 'eu-west-1a' })).toBe(
      'alternative 1: gpu L4 not in [H100]; alternative 2: region eu-west-1 not in [us-*]',
    );
  });

  test('an offer fitting no alternative lists each alternative’s reason', () => {
    const s = spec({
      ordered: [{ gpu: 'H100:8' }, { gpu: 'A100:4..8', placement: { maxPricePerHour: 30 } }],
    });
    expect(rankOffers(s, [l4, a100], [], NOW).rejected).toEqual([
      { offer: l4, reason: 'alternative 1: gpu L4 not in [H100]; alternative 2: gpu L4 not in [A100]' },
      {
        offer: a100,
        reason: 'alternative 1: gpu A100 not in [H100]; alternative 2: price 32/h over max 30/h',
      },
    ]);
  });

  test('a single alternative gives its reason without the "alternative 1:" prefix', () => {
    const s = spec({ anyOf: [{ gpu: 'H100:8' }] });
    expect(reason(s, l4)).toBe('gpu L4 not in [H100]');
  });

  test('ties: same price falls to fewer GPUs, then the label', () => {
    const s = spec({ gpu: 'any:1..8' }, { spot: 'allow' });
    const offers = [
      offer({ zone: 'us-east-1a', gpuCount: 8, pricePerHour: 10 }),
      offer({ zone: 'us-east-1c', gpuCount: 2, pricePerHour: 10 }),
      offer({ zone: 'us-east-1b', gpuCount: 2, pricePerHour: 10, spot: true }),
      offer({ zone: 'us-east-1b', gpuCount: 2, pricePerHour: 10 }),
      offer({ zone: 'us-east-1d', gpuCount: 1, pricePerHour: 11 }),
    ];
    // At 10/h: the 2-GPU offers by label (on-demand before its spot twin), then the 8-GPU one.
    const expected = [
      'aws/us-east-1/us-east-1b p5.48xlarge',
      'aws/us-east-1/us-east-1b p5.48xlarge (spot)',
      'aws/us-east-1/us-east-1c p5.48xlarge',
      'aws/us-east-1/us-east-1a p5.48xlarge',
      'aws/us-east-1/us-east-1d p5.48xlarge',
    ];
    expect(rankOffers(s, offers, [], NOW).ranked.map(offerLabel)).toEqual(expected);
    // The same order whatever order the offers come in.
    expect(rankOffers(s, [...offers].reverse(), [], NOW).ranked.map(offerLabel)).toEqual(expected);
    expect(
      rankOffers(s, [offers[2]!, offers[4]!, offers[0]!, offers[3]!, offers[1]!], [], NOW).ranked.map(
        offerLabel,
      ),
    ).toEqual(expected);
  });

  test('blocks at zone, region and provider scope; expired blocks ignored', () => {
    const offers = [
      cpuOffer({ region: 'us-east-1', zone: 'us-east-1a' }),
      cpuOffer({ region: 'us-east-1', zone: 'us-east-1b' }),
      cpuOffer({ region: 'us-west-2', zone: 'us-west-2a' }),
      cpuOffer({
        provider: 'gcp',
        region: 'europe-west4',
        zone: 'europe-west4-a',
        instanceType: 'n2-standard-8',
      }),
      cpuOffer({ provider: 'local', region: 'lab-a', zone: 'lab-a', instanceType: 'lab-a:cpu' }),
    ];
    const blocks = [
      block({ region: 'us-east-1', zone: 'us-east-1a' }),
      block({ region: 'us-west-2', reason: 'QuotaError' }),
      block({ provider: 'gcp', reason: 'losing an instance' }),
      block({ provider: 'local', until: NOW - 1 }),
    ];
    const at = hhmm(NOW + 10 * 60_000);
    const { ranked, rejected } = rankOffers(spec(), offers, blocks, NOW);
    expect(ranked.map((o) => o.zone).sort()).toEqual(['lab-a', 'us-east-1b']);
    expect(rejected.map((r) => [r.offer.zone, r.reason])).toEqual([
      ['us-east-1a', `zone us-east-1a blocked until ${at} after CapacityError`],
      ['us-west-2a', `region us-west-2 blocked until ${at} after QuotaError`],
      ['europe-west4-a', `provider gcp blocked until ${at} after losing an instance`],
    ]);
  });

  test('no offers: nothing ranked, nothing rejected', () => {
    expect(rankOffers(spec({ gpu: 'H100:8' }), [], [block()], NOW)).toEqual({ ranked: [], rejected: [] });
  });

  test('does not reorder or modify its inputs', () => {
    const offers = [cpuOffer({ pricePerHour: 3 }), cpuOffer({ zone: 'us-east-1b', pricePerHour: 1 })];
    const blocks = [block({ region: 'us-west-2' })];
    const s = spec({ anyOf: [{ cpu: 4 }, { cpu: 8 }] });
    const copies = structuredClone({ offers, blocks, s });
    rankOffers(s, offers, blocks, NOW);
    expect({ offers, blocks, s }).toEqual(copies);
  });
});

describe('nearestMisses', () => {
  const h100a = offer({ zone: 'us-east-1a', pricePerHour: 98 });
  const h100b = offer({ zone: 'us-east-1b', pricePerHour: 90 });
  const l4Small = { ...l4, vcpus: 4 };
  const t4 = offer({
    instanceType: 'g4dn.xlarge',
    gpuType: 'T4',
    gpuCount: 1,
    gpuMemoryGb: 16,
    vcpus: 4,
    pricePerHour: 0.5,
  });
  const cpu = cpuOffer();

  test('a spec asking for an unknown GPU: the nearest misses fail on the GPU type only', () => {
    const s = spec({ gpu: 'Z999:1' });
    const catalog = [h100a, a100, l4Small, t4];
    expect(rankOffers(s, catalog, [], NOW).ranked).toEqual([]);
    expect(nearestMisses(s, catalog, [], NOW, 2)).toEqual([
      { offer: t4, reasons: ['gpu T4 not in [Z999]'] },
      { offer: l4Small, reasons: ['gpu L4 not in [Z999]'] },
    ]);
  });

  test('orders by the number of failed constraints, then price, listing every reason', () => {
    const s = spec({ gpu: 'H100:8', cpu: 256 }, { regions: ['eu-*'], maxPricePerHour: 95 });
    const region = 'region us-east-1 not in [eu-*]';
    const gcpH100 = { ...h100a, provider: 'gcp', instanceType: 'a3-highgpu-8g' };
    expect(nearestMisses(s, [gcpH100, h100b, a100, l4Small], [], NOW)).toEqual([
      { offer: h100b, reasons: ['192 vCPUs, 256.. requested', region] },
      { offer: a100, reasons: ['gpu A100 not in [H100]', '192 vCPUs, 256.. requested', region] },
      { offer: gcpH100, reasons: ['192 vCPUs, 256.. requested', region, 'price 98/h over max 95/h'] },
      {
        offer: l4Small,
        reasons: ['gpu L4 not in [H100]', '1 GPUs, 8 requested', '4 vCPUs, 256.. requested', region],
      },
    ]);
  });

  test('keeps one offer per provider and GPU model: the closest, then the cheapest', () => {
    const s = spec({ gpu: 'H100:8' }, { maxPricePerHour: 95 });
    const h100c = offer({ zone: 'us-east-1c', pricePerHour: 99 });
    // h100b is the cheapest but misses by two (price and block); h100a and h100c by one.
    const blocked = { ...h100b, pricePerHour: 96 };
    expect(nearestMisses(s, [blocked, h100c, h100a], [block({ zone: 'us-east-1b' })], NOW)).toEqual([
      { offer: h100a, reasons: ['price 98/h over max 95/h'] },
    ]);
    expect(nearestMisses(s, [h100c, h100a], [], NOW)).toEqual([
      { offer: h100a, reasons: ['price 98/h over max 95/h'] },
    ]);
  });

  test('for a GPU request, a CPU-only offer counts as one constraint further off', () => {
    const s = spec({ gpu: 'L4' });
    // cpu misses by 1 (no GPU) but scores 2, tying with the 2-reason H100 offer; price decides.
    expect(nearestMisses(s, [h100a, cpu], [], NOW).map((m) => [m.offer, m.reasons])).toEqual([
      [cpu, ['no GPU (L4:1 requested)']],
      [h100a, ['gpu H100 not in [L4]', '8 GPUs, 1 requested']],
    ]);
    const t4x2 = { ...t4, gpuCount: 2, pricePerHour: 5 };
    expect(nearestMisses(s, [cpu, t4x2], [], NOW).map((m) => m.offer)).toEqual([cpu, t4x2]);
    expect(nearestMisses(s, [cpu, { ...t4x2, gpuCount: 1 }], [], NOW).map((m) => m.offer.gpuType)).toEqual([
      'T4',
      undefined,
    ]);
  });

  test('returns at most `limit` misses (5 by default)', () => {
    const s = spec({ gpu: 'Z999' });
    const models = ['H100', 'A100', 'L4', 'T4', 'V100', 'A10G', 'L40S', 'MI300X'];
    const catalog = models.map((gpuType) => offer({ gpuType }));
    expect(nearestMisses(s, catalog, [], NOW)).toHaveLength(5);
    expect(nearestMisses(s, catalog, [], NOW, 3)).toHaveLength(3);
  });

  test('counts an active block as one more reason and ignores expired blocks', () => {
    const s = spec({ gpu: 'H100:8' });
    const until = NOW + 30 * 60_000;
    const blocks = [block({ region: 'us-east-1', zone: 'us-east-1a', until }), block({ until: NOW - 1 })];
    const l4b = { ...l4Small, zone: 'us-east-1b' };
    expect(nearestMisses(s, [h100a, l4b], blocks, NOW)).toEqual([
      { offer: h100a, reasons: [`zone us-east-1a blocked until ${hhmm(until)} after CapacityError`] },
      { offer: l4b, reasons: ['gpu L4 not in [H100]', '1 GPUs, 8 requested'] },
    ]);
  });

  test('with alternatives, an offer is scored by the alternative it misses least', () => {
    const s = spec({
      ordered: [
        { gpu: 'H100:8', cpu: 512 },
        { gpu: 'L4', placement: { regions: ['eu-*'] } },
      ],
    });
    expect(nearestMisses(s, [l4Small], [], NOW)).toEqual([
      { offer: l4Small, reasons: ['region us-east-1 not in [eu-*]'] },
    ]);
  });
});

test('prices under a dollar keep two significant digits in the reason', () => {
  const spec = WorkloadSpec.parse({
    name: 'cheap',
    kind: 'job',
    command: ['x'],
    placement: { maxPricePerHour: 0.001 },
  });
  const offer = {
    provider: 'gcp',
    region: 'us-central1',
    zone: 'us-central1-a',
    instanceType: 'e2-micro',
    gpuCount: 0,
    vcpus: 2,
    memoryGb: 1,
    spot: false,
    pricePerHour: 0.0042,
  };
  expect(rankOffers(spec, [offer], [], 0).rejected[0]?.reason).toBe('price 0.0042/h over max 0.001/h');
});
