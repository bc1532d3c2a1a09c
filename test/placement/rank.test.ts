import {
  blockCovers,
  blockLabel,
  offerLabel,
  rankOffers,
  rejectionReason,
  type Block,
} from '../../src/placement/rank';
import type { Offer } from '../../src/providers/types';
import { WorkloadSpec, type WorkloadSpecInput } from '../../src/spec/workload-spec';

const NOW = Date.parse('2025-03-01T12:00:00.000Z');

function spec(extra: Partial<WorkloadSpecInput> = {}): WorkloadSpec {
  return WorkloadSpec.parse({ name: 'train', kind: 'job', command: ['python', 'train.py'], ...extra });
}

function offer(extra: Partial<Offer> = {}): Offer {
  return {
    provider: 'local',
    region: 'lab-a',
    zone: 'lab-a',
    instanceType: 'lab-a:1xA100',
    gpuType: 'A100',
    gpuCount: 1,
    vcpus: 16,
    memoryGb: 64,
    spot: false,
    pricePerHour: 1,
    ...extra,
  };
}

const cpuOffer = (extra: Partial<Offer> = {}): Offer =>
  offer({ instanceType: 'lab-a:cpu', gpuType: undefined, gpuCount: 0, ...extra });

function block(extra: Partial<Block> = {}): Block {
  return { provider: 'local', until: NOW + 60_000, reason: 'capacity error', ...extra };
}

const a100 = spec({ resources: { gpu: { type: 'A100', count: 1 } } });

describe('offerLabel', () => {
  test('omits the zone when it equals the region (local pools)', () => {
    expect(offerLabel(offer())).toBe('local/lab-a lab-a:1xA100');
  });

  test('shows provider/region/zone when the zone differs from the region', () => {
    expect(
      offerLabel(
        offer({ provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', instanceType: 'p4d.24xlarge' }),
      ),
    ).toBe('aws/us-east-1/us-east-1a p4d.24xlarge');
  });
});

describe('blockLabel', () => {
  test('a provider-wide block is labelled by the provider alone', () => {
    expect(blockLabel({ provider: 'aws' })).toBe('aws');
  });

  test('a region block is labelled provider/region', () => {
    expect(blockLabel({ provider: 'aws', region: 'us-east-1' })).toBe('aws/us-east-1');
  });

  test('a zone block is labelled provider/region/zone', () => {
    expect(blockLabel({ provider: 'aws', region: 'us-east-1', zone: 'us-east-1a' })).toBe(
      'aws/us-east-1/us-east-1a',
    );
  });

  test('a zone equal to its region (a local pool) is not repeated', () => {
    expect(blockLabel({ provider: 'local', region: 'lab-a', zone: 'lab-a' })).toBe('local/lab-a');
  });
});

describe('blockCovers', () => {
  const aws = offer({ provider: 'aws', region: 'us-east-1', zone: 'us-east-1a' });

  test('a block on another provider does not cover the offer', () => {
    expect(blockCovers(block({ provider: 'gcp' }), aws)).toBe(false);
  });

  test('a block without region covers every offer of its provider', () => {
    expect(blockCovers(block({ provider: 'aws' }), aws)).toBe(true);
  });

  test('a region block covers offers in that region and not in another', () => {
    expect(blockCovers(block({ provider: 'aws', region: 'us-east-1' }), aws)).toBe(true);
    expect(blockCovers(block({ provider: 'aws', region: 'us-west-2' }), aws)).toBe(false);
  });

  test('a zone block covers only offers in that zone', () => {
    expect(blockCovers(block({ provider: 'aws', region: 'us-east-1', zone: 'us-east-1a' }), aws)).toBe(true);
    expect(blockCovers(block({ provider: 'aws', region: 'us-east-1', zone: 'us-east-1b' }), aws)).toBe(false);
  });
});

describe('rejectionReason', () => {
  test('an offer that meets every requirement has no rejection reason', () => {
    expect(rejectionReason(a100, offer(), [], NOW)).toBeUndefined();
  });

  test('rejects a provider outside placement.providers, listing the allowed ones', () => {
    const s = spec({ placement: { providers: ['aws', 'gcp'] } });
    expect(rejectionReason(s, cpuOffer(), [], NOW)).toBe('provider local not in [aws, gcp]');
  });

  test('accepts a provider that placement.providers lists', () => {
    const s = spec({ placement: { providers: ['local'] } });
    expect(rejectionReason(s, cpuOffer(), [], NOW)).toBeUndefined();
  });

  test('rejects a CPU-only offer when a GPU is requested, naming the acceptable types', () => {
    const s = spec({ resources: { gpu: { type: ['A100', 'H100'], count: 1 } } });
    expect(rejectionReason(s, cpuOffer(), [], NOW)).toBe('no GPU (A100|H100 needed)');
  });

  test('rejects an offer with a GPU count but no GPU type when a GPU is requested', () => {
    expect(rejectionReason(a100, offer({ gpuType: undefined }), [], NOW)).toBe('no GPU (A100 needed)');
  });

  test('rejects a GPU type not in the requested list', () => {
    const s = spec({ resources: { gpu: { type: ['A100', 'H100'] } } });
    expect(rejectionReason(s, offer({ gpuType: 'T4' }), [], NOW)).toBe('gpu T4 not in [A100, H100]');
  });

  test.each([
    ['a100', 'A100'],
    ['A100', 'a100'],
    ['h100', 'H100'],
  ])('matches GPU types case-insensitively (spec %j, offer %j)', (wanted, offered) => {
    const s = spec({ resources: { gpu: { type: ['t4', wanted] } } });
    expect(rejectionReason(s, offer({ gpuType: offered }), [], NOW)).toBeUndefined();
  });

  test('rejects a GPU count other than the one requested, more or fewer', () => {
    const s = spec({ resources: { gpu: { type: 'A100', count: 2 } } });
    expect(rejectionReason(s, offer({ gpuCount: 1 }), [], NOW)).toBe('1 GPUs, 2 requested');
    expect(rejectionReason(s, offer({ gpuCount: 4 }), [], NOW)).toBe('4 GPUs, 2 requested');
    expect(rejectionReason(s, offer({ gpuCount: 2 }), [], NOW)).toBeUndefined();
  });

  test('a GPU request without count asks for exactly one GPU', () => {
    const s = spec({ resources: { gpu: { type: 'A100' } } });
    expect(rejectionReason(s, offer({ gpuCount: 2 }), [], NOW)).toBe('2 GPUs, 1 requested');
  });

  test('rejects an offer with GPUs when the spec requests none', () => {
    expect(rejectionReason(spec(), offer({ gpuCount: 2 }), [], NOW)).toBe('has 2 GPUs, none requested');
  });

  test('accepts a CPU-only offer when the spec requests no GPU', () => {
    expect(rejectionReason(spec(), cpuOffer(), [], NOW)).toBeUndefined();
  });

  test('rejects an offer with fewer vCPUs than requested and accepts an equal number', () => {
    const s = spec({ resources: { cpu: 32 } });
    expect(rejectionReason(s, cpuOffer({ vcpus: 16 }), [], NOW)).toBe('16 vCPUs, 32 needed');
    expect(rejectionReason(s, cpuOffer({ vcpus: 32 }), [], NOW)).toBeUndefined();
  });

  test('rejects an offer with less memory than requested (size parsed to GB) and accepts an equal amount', () => {
    const s = spec({ resources: { memory: '128GB' } });
    expect(rejectionReason(s, cpuOffer({ memoryGb: 64 }), [], NOW)).toBe('64GB memory, 128GB needed');
    expect(rejectionReason(s, cpuOffer({ memoryGb: 128 }), [], NOW)).toBeUndefined();
  });

  test('rejects an offer in a blocked location with the block label, its end time and its reason', () => {
    const until = Date.parse('2025-03-01T12:05:07.000Z');
    const b = block({ region: 'lab-a', zone: 'lab-a', until, reason: 'agent lost' });
    expect(rejectionReason(spec(), cpuOffer(), [b], NOW)).toBe(
      'local/lab-a blocked until 12:05:07 after agent lost',
    );
  });

  test('reports a provider-wide block by the provider name', () => {
    const until = Date.parse('2025-03-01T23:59:59.000Z');
    const b = block({ provider: 'aws', until, reason: 'quota error' });
    const o = cpuOffer({ provider: 'aws', region: 'us-east-1', zone: 'us-east-1a' });
    expect(rejectionReason(spec(), o, [b], NOW)).toBe('aws blocked until 23:59:59 after quota error');
  });

  test('ignores a block that has expired or ends exactly now', () => {
    expect(rejectionReason(spec(), cpuOffer(), [block({ until: NOW - 1 })], NOW)).toBeUndefined();
    expect(rejectionReason(spec(), cpuOffer(), [block({ until: NOW })], NOW)).toBeUndefined();
  });

  test('uses the first block that is still active when several cover the offer', () => {
    const blocks = [
      block({ until: NOW - 1000, reason: 'old failure' }),
      block({ region: 'lab-a', until: NOW + 1000, reason: 'capacity error' }),
      block({ until: NOW + 2000, reason: 'later failure' }),
    ];
    expect(rejectionReason(spec(), cpuOffer(), blocks, NOW)).toMatch(/after capacity error$/);
  });

  test('checks the provider list before GPU, CPU, memory and blocks', () => {
    const s = spec({
      placement: { providers: ['aws'] },
      resources: { gpu: { type: 'H100' }, cpu: 64, memory: 512 },
    });
    expect(rejectionReason(s, cpuOffer({ vcpus: 1, memoryGb: 1 }), [block()], NOW)).toBe(
      'provider local not in [aws]',
    );
  });

  test('reports resource shortfalls before a block', () => {
    const s = spec({ resources: { cpu: 64 } });
    expect(rejectionReason(s, cpuOffer({ vcpus: 8 }), [block()], NOW)).toBe('8 vCPUs, 64 needed');
  });
});

describe('rankOffers', () => {
  test('orders fitting offers cheapest first', () => {
    const offers = [
      offer({ instanceType: 'b', pricePerHour: 3 }),
      offer({ instanceType: 'a', pricePerHour: 1.5 }),
      offer({ instanceType: 'c', pricePerHour: 2 }),
    ];
    const { ranked, rejected } = rankOffers(a100, offers, [], NOW);
    expect(ranked.map((o) => o.pricePerHour)).toEqual([1.5, 2, 3]);
    expect(rejected).toEqual([]);
  });

  test('every ranked offer has exactly the requested GPU count, so price ties fall to the label', () => {
    // The "fewer GPUs" tie-break cannot decide between two ranked offers: a GPU request needs an
    // exact count and a spec without one accepts only CPU offers.
    const s = spec({ resources: { gpu: { type: 'A100', count: 2 } } });
    const offers = [1, 2, 4, 2, 8].map((n, i) =>
      offer({ region: `p${5 - i}`, zone: `p${5 - i}`, instanceType: `${n}xA100`, gpuCount: n }),
    );
    const { ranked } = rankOffers(s, offers, [], NOW);
    expect(ranked.map((o) => o.gpuCount)).toEqual([2, 2]);
    expect(ranked.map((o) => o.region)).toEqual(['p2', 'p4']);
  });

  test('breaks price and GPU-count ties by label, alphabetically', () => {
    const offers = [
      cpuOffer({ region: 'lab-c', zone: 'lab-c', instanceType: 'lab-c:cpu' }),
      cpuOffer({ region: 'lab-a', zone: 'lab-a', instanceType: 'lab-a:cpu' }),
      cpuOffer({ region: 'lab-b', zone: 'lab-b', instanceType: 'lab-b:cpu' }),
    ];
    const { ranked } = rankOffers(spec(), offers, [], NOW);
    expect(ranked.map(offerLabel)).toEqual([
      'local/lab-a lab-a:cpu',
      'local/lab-b lab-b:cpu',
      'local/lab-c lab-c:cpu',
    ]);
  });

  test('a cheaper offer ranks above one with a smaller label', () => {
    const offers = [
      cpuOffer({ region: 'aaa', zone: 'aaa', instanceType: 'aaa:cpu', pricePerHour: 2 }),
      cpuOffer({ region: 'zzz', zone: 'zzz', instanceType: 'zzz:cpu', pricePerHour: 1 }),
    ];
    expect(rankOffers(spec(), offers, [], NOW).ranked.map((o) => o.region)).toEqual(['zzz', 'aaa']);
  });

  test('puts each offer that does not fit in rejected with its reason, keeping input order', () => {
    const s = spec({ resources: { gpu: { type: 'A100', count: 1 }, cpu: 8 } });
    const good = offer({ instanceType: 'good' });
    const cpu = cpuOffer({ instanceType: 'cpu' });
    const t4 = offer({ instanceType: 't4', gpuType: 'T4' });
    const small = offer({ instanceType: 'small', vcpus: 4 });
    const { ranked, rejected } = rankOffers(s, [cpu, good, t4, small], [], NOW);
    expect(ranked).toEqual([good]);
    expect(rejected).toEqual([
      { offer: cpu, reason: 'no GPU (A100 needed)' },
      { offer: t4, reason: 'gpu T4 not in [A100]' },
      { offer: small, reason: '4 vCPUs, 8 needed' },
    ]);
  });

  test('applies blocks at provider, region and zone scope and ignores expired ones', () => {
    const offers = [
      cpuOffer({ provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', instanceType: 'm5' }),
      cpuOffer({ provider: 'aws', region: 'us-east-1', zone: 'us-east-1b', instanceType: 'm5' }),
      cpuOffer({ provider: 'aws', region: 'us-west-2', zone: 'us-west-2a', instanceType: 'm5' }),
      cpuOffer({ provider: 'gcp', region: 'europe-west4', zone: 'europe-west4-a', instanceType: 'n2' }),
      cpuOffer({ provider: 'local', region: 'lab-a', zone: 'lab-a', instanceType: 'lab-a:cpu' }),
    ];
    const blocks = [
      block({ provider: 'aws', region: 'us-east-1', zone: 'us-east-1a', reason: 'capacity error' }),
      block({ provider: 'aws', region: 'us-west-2', reason: 'quota error' }),
      block({ provider: 'gcp', reason: 'provider unavailable' }),
      block({ provider: 'local', until: NOW - 1, reason: 'agent lost' }),
    ];
    const { ranked, rejected } = rankOffers(spec(), offers, blocks, NOW);
    expect(ranked.map((o) => o.zone)).toEqual(['us-east-1b', 'lab-a']);
    expect(rejected.map((r) => [r.offer.zone, r.reason.replace(/ until \S+/, '')])).toEqual([
      ['us-east-1a', 'aws/us-east-1/us-east-1a blocked after capacity error'],
      ['us-west-2a', 'aws/us-west-2 blocked after quota error'],
      ['europe-west4-a', 'gcp blocked after provider unavailable'],
    ]);
  });

  test('returns empty lists for no offers', () => {
    expect(rankOffers(a100, [], [block()], NOW)).toEqual({ ranked: [], rejected: [] });
  });

  test('does not reorder or modify the input array', () => {
    const offers = [offer({ pricePerHour: 3 }), offer({ pricePerHour: 1 })];
    const copy = structuredClone(offers);
    rankOffers(a100, offers, [], NOW);
    expect(offers).toEqual(copy);
  });

  test('places every input offer in exactly one of ranked or rejected', () => {
    const s = spec({
      placement: { providers: ['local', 'aws'] },
      resources: { gpu: { type: ['A100', 'h100'], count: 2 }, cpu: 8, memory: '32GB' },
    });
    const offers: Offer[] = [];
    const providers = ['local', 'aws', 'gcp'];
    const gpuTypes = [undefined, 'A100', 'H100', 'T4'];
    let i = 0;
    for (const provider of providers)
      for (const gpuType of gpuTypes)
        for (const gpuCount of [0, 1, 2, 4])
          for (const vcpus of [4, 8])
            for (const memoryGb of [16, 32]) {
              const zone = i % 3 === 0 ? 'z-blocked' : `z-${i}`;
              offers.push(
                offer({
                  provider,
                  region: 'r',
                  zone,
                  instanceType: `t-${i++}`,
                  gpuType,
                  gpuCount,
                  vcpus,
                  memoryGb,
                  pricePerHour: (i * 7) % 11,
                }),
              );
            }
    const blocks = [block({ provider: 'local', region: 'r', zone: 'z-blocked' })];
    const { ranked, rejected } = rankOffers(s, offers, blocks, NOW);

    expect(ranked.length + rejected.length).toBe(offers.length);
    const seen = [...ranked, ...rejected.map((r) => r.offer)];
    expect(new Set(seen).size).toBe(offers.length);
    for (const o of offers) expect(seen).toContain(o);
    for (const o of ranked) expect(rejectionReason(s, o, blocks, NOW)).toBeUndefined();
    for (const r of rejected) expect(r.reason).toBe(rejectionReason(s, r.offer, blocks, NOW));
    expect(ranked.length).toBeGreaterThan(0);
    expect(rejected.length).toBeGreaterThan(0);
    for (let k = 1; k < ranked.length; k++) {
      expect(ranked[k]!.pricePerHour).toBeGreaterThanOrEqual(ranked[k - 1]!.pricePerHour);
    }
  });
});
