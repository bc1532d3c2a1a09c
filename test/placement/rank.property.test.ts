/**
 * Properties of rankOffers over random specs, catalogs and blocks, checked against an oracle
 * written here from the parsed spec's fields alone (it does not use compile/check/expandCandidates).
 *
 * Reproduce a failure with FC_SEED=<seed> (and FC_PATH=<path>) from fast-check's report; search
 * longer with FC_RUNS=<runs>.
 */
import fc from 'fast-check';
import {
  nearestMisses,
  offerLabel,
  rankOffers,
  type Block,
  type RankedOffer,
} from '../../src/placement/rank';
import type { Offer } from '../../src/providers/types';
import type { Range } from '../../src/spec/ranges';
import { WorkloadSpec, type WorkloadSpecInput } from '../../src/spec/workload-spec';

const NOW = Date.parse('2025-03-01T12:00:00.000Z');

const params: fc.Parameters<unknown> = {
  numRuns: Number(process.env.FC_RUNS ?? 300),
  ...(process.env.FC_SEED !== undefined && { seed: Number(process.env.FC_SEED) }),
  ...(process.env.FC_PATH !== undefined && { path: process.env.FC_PATH }),
};

// ---------------------------------------------------------------------------------------------
// Vocabulary: small, so that random specs and random offers often meet.

const PROVIDERS = ['aws', 'gcp', 'local'] as const;
const LOCATIONS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['us-east-1', ['us-east-1a', 'us-east-1b']],
  ['us-west-2', ['us-west-2a']],
  ['eu-west-1', ['eu-west-1a', 'eu-west-1b']],
  ['europe-west4', ['europe-west4-a', 'europe-west4-b']],
  ['lab-a', ['lab-a']],
];
const REGIONS = LOCATIONS.map(([r]) => r);
const ZONES = LOCATIONS.flatMap(([, z]) => z);
const OFFER_GPU_TYPES = ['H100', 'A100', 'a100', 'A100-80GB', 'a100-40gb', 'H100-SXM', 'L4', 'T4'] as const;
const SPEC_GPU_TYPES = ['H100', 'A100', 'h100', 'A100-80GB', 'L4', 'T4', 'Z999'] as const;
const INSTANCE_TYPES = ['p5.48xlarge', 'p4d.24xlarge', 'g6.xlarge', 'a2-highgpu-1g'] as const;
const PRICES = [0.4, 0.8, 1, 2.5, 8, 30, 32.77, 40, 98.32] as const;

// ---------------------------------------------------------------------------------------------
// Random catalogs and blocks.

/** GPU types and counts a spec asks for, so that the catalog often has offers that fit it. */
interface Hints {
  types: string[];
  counts: number[];
}

/** One of the hints three times in four, else one of the vocabulary. */
const hinted = <T>(vocabulary: readonly T[], hints: T[]): fc.Arbitrary<T> =>
  hints.length === 0
    ? fc.constantFrom(...vocabulary)
    : fc.oneof(
        { arbitrary: fc.constantFrom(...vocabulary), weight: 1 },
        { arbitrary: fc.constantFrom(...hints), weight: 3 },
      );

const offerArb = (hints: Hints): fc.Arbitrary<Offer> =>
  fc
    .record({
      provider: fc.constantFrom(...PROVIDERS),
      location: fc.constantFrom(...LOCATIONS),
      zoneIndex: fc.nat(),
      instanceType: fc.constantFrom(...INSTANCE_TYPES),
      gpu: fc.option(
        fc.record({
          type: fc.option(hinted(OFFER_GPU_TYPES, hints.types), { freq: 8 }),
          count: hinted([1, 2, 4, 8], hints.counts),
          memory: fc.option(fc.constantFrom(16, 24, 40, 80), { freq: 6 }),
        }),
        { freq: 4 },
      ),
      vcpus: fc.constantFrom(4, 8, 16, 32, 96, 192),
      memoryGb: fc.constantFrom(16, 32, 64, 128, 256, 512),
      spot: fc.boolean(),
      price: fc.oneof(
        fc.constantFrom(...PRICES),
        fc.integer({ min: 1, max: 12_000 }).map((c) => c / 100),
      ),
    })
    .map(
      ({
        provider,
        location: [region, zones],
        zoneIndex,
        instanceType,
        gpu,
        vcpus,
        memoryGb,
        spot,
        price,
      }) => ({
        provider,
        region,
        zone: zones[zoneIndex % zones.length]!,
        instanceType,
        ...(gpu?.type != null && { gpuType: gpu.type }),
        gpuCount: gpu ? gpu.count : 0,
        ...(gpu?.memory != null && { gpuMemoryGb: gpu.memory }),
        vcpus,
        memoryGb,
        spot,
        pricePerHour: price,
      }),
    );

/** Offers, each maybe with its spot/on-demand twin (same place and type, another price). */
const catalogArb = (hints: Hints): fc.Arbitrary<Offer[]> =>
  fc
    .array(
      fc
        .tuple(offerArb(hints), fc.option(fc.constantFrom(...PRICES), { freq: 2 }))
        .map(([o, twinPrice]) =>
          twinPrice === null ? [o] : [o, { ...o, spot: !o.spot, pricePerHour: twinPrice }],
        ),
      { minLength: 2, maxLength: 20, size: 'large' },
    )
    .map((groups) => groups.flat());

const blockArb: fc.Arbitrary<Block> = fc
  .record({
    provider: fc.constantFrom(...PROVIDERS),
    location: fc.option(fc.tuple(fc.constantFrom(...LOCATIONS), fc.nat(), fc.boolean())),
    until: fc.constantFrom(NOW - 60_000, NOW, NOW + 1, NOW + 5 * 60_000, NOW + 3 * 3_600_000),
    reason: fc.constantFrom('CapacityError', 'QuotaError', 'losing an instance'),
  })
  .map(({ provider, location, until, reason }) => ({
    provider,
    ...(location && { region: location[0][0] }),
    ...(location?.[2] && { zone: location[0][1][location[1] % location[0][1].length] }),
    until,
    reason,
  }));

const blocksArb = fc.array(blockArb, { maxLength: 3 });

// ---------------------------------------------------------------------------------------------
// Random specs, written in the syntax a user writes and parsed by the real schema.

type ResourcesInput = NonNullable<WorkloadSpecInput['resources']>;
type PlacementInput = NonNullable<WorkloadSpecInput['placement']>;
type CandidateInput = NonNullable<ResourcesInput['anyOf']>[number];

const gpuCountText = fc.constantFrom('1', '2', '4', '8', '1..4', '4..8', '2..', '..2');
const gpuArb = fc.oneof(
  // "H100:8", "A100:4..8", "any:2"
  fc
    .tuple(fc.constantFrom(...SPEC_GPU_TYPES, 'any'), gpuCountText)
    .map(([type, count]) => `${type}:${count}`),
  // "L4", "any"
  fc.constantFrom(...SPEC_GPU_TYPES, 'any'),
  // {type, count, memory}
  fc.record(
    {
      type: fc.oneof(
        fc.constantFrom(...SPEC_GPU_TYPES, 'any'),
        fc.subarray([...SPEC_GPU_TYPES], { minLength: 1, maxLength: 3 }),
      ),
      count: fc.oneof(fc.constantFrom(1, 2, 4, 8), gpuCountText),
      memory: fc.constantFrom<string | number>('24GB..', '40GB..', '24GB..48GB', 40, '80GB'),
    },
    { requiredKeys: [] },
  ),
);
const cpuArb = fc.constantFrom<string | number>(4, 16, '16..', '8..32', '..16');
const memoryArb = fc.constantFrom<string | number>('64GB', 128, '64GB..256GB', '..64GB', '32GB..');

/** A list (allow) or {allow, deny}, with and without globs. */
const allowDenyArb = (names: readonly string[], globs: readonly string[]) => {
  const list = fc.subarray([...names, ...globs], { minLength: 1, maxLength: 3 });
  return fc.oneof(
    list,
    fc.record({ allow: list }),
    fc.record({ deny: list }),
    fc.record({ allow: list, deny: list }),
  );
};
const providersArb = allowDenyArb(PROVIDERS, ['AWS', 'g*']);
const regionsArb = allowDenyArb(REGIONS, ['us-*', 'eu*', 'EUROPE-WEST4', 'lab-?']);
const zonesArb = allowDenyArb(ZONES, ['*a', 'europe-west4-?', 'US-EAST-1?']);
const spotArb = fc.constantFrom('never' as const, 'allow' as const, 'require' as const);
const maxPriceArb = fc.constantFrom(1, 2.5, 10, 32.77, 50, 100);
const instanceTypeArb = fc.constantFrom(...INSTANCE_TYPES);

/** The value with a chance of `percent` in 100, else undefined. */
const maybe = <T>(percent: number, arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 100 - percent }, { arbitrary: arb, weight: percent });

/** The record with each key present with its own chance (in percent), so that random specs often fit. */
function sometimes<T extends Record<string, unknown>>(fields: {
  [K in keyof T]: [percent: number, fc.Arbitrary<T[K]>];
}): fc.Arbitrary<Partial<T>> {
  const entries = Object.entries(fields) as Array<[string, [number, fc.Arbitrary<unknown>]]>;
  return fc.tuple(...entries.map(([, [percent, arb]]) => maybe(percent, arb))).map((values) => {
    const out: Record<string, unknown> = {};
    values.forEach((v, i) => {
      if (v !== undefined) out[entries[i]![0]] = v;
    });
    return out as Partial<T>;
  });
}

const placementArb = (percent: number): fc.Arbitrary<PlacementInput> =>
  // Hedging (top level only) changes how many offers are provisioned, never their ranking.
  sometimes<Required<Omit<PlacementInput, 'hedge'>>>({
    providers: [percent, providersArb],
    regions: [percent, regionsArb],
    zones: [percent, zonesArb],
    spot: [percent * 2, spotArb],
    maxPricePerHour: [percent, maxPriceArb],
    instanceType: [percent / 2, instanceTypeArb],
  });

const candidateArb: fc.Arbitrary<CandidateInput> = fc
  .tuple(
    sometimes<{ gpu: ResourcesInput['gpu']; cpu: string | number; memory: string | number }>({
      gpu: [80, gpuArb],
      cpu: [20, cpuArb],
      memory: [20, memoryArb],
    }),
    maybe(30, placementArb(30)),
  )
  .map(([resources, placement]) => ({ ...resources, ...(placement && { placement }) }));

const parseSpec = (resources: ResourcesInput, placement: PlacementInput): WorkloadSpec =>
  WorkloadSpec.parse({ name: 'prop', kind: 'job', command: ['run'], resources, placement });

/** Any mix of the syntax forms, maybe with anyOf/ordered. */
const generalSpecArb: fc.Arbitrary<WorkloadSpec> = fc
  .record({
    resources: sometimes<{ gpu: ResourcesInput['gpu']; cpu: string | number; memory: string | number }>({
      gpu: [80, gpuArb],
      cpu: [20, cpuArb],
      memory: [20, memoryArb],
    }),
    placement: placementArb(20),
    alternatives: maybe(
      40,
      fc.record({
        kind: fc.constantFrom('anyOf' as const, 'ordered' as const),
        list: fc.array(candidateArb, { minLength: 1, maxLength: 3 }),
      }),
    ),
  })
  .map(({ resources, placement, alternatives }) =>
    parseSpec({ ...resources, ...(alternatives && { [alternatives.kind]: alternatives.list }) }, placement),
  );

/**
 * 2-3 alternatives that differ mostly by GPU over a light base, so that offers of several
 * alternatives fit at once (where ordered and anyOf rank differently).
 */
const alternativesSpecArb: fc.Arbitrary<WorkloadSpec> = fc
  .record({
    kind: fc.constantFrom('anyOf' as const, 'ordered' as const),
    list: fc.array(
      fc
        .tuple(gpuArb, maybe(20, placementArb(30)))
        .map(([gpu, placement]): CandidateInput => ({ gpu, ...(placement && { placement }) })),
      { minLength: 2, maxLength: 3 },
    ),
    placement: placementArb(10),
  })
  .map(({ kind, list, placement }) => parseSpec({ [kind]: list }, placement));

const specArb: fc.Arbitrary<WorkloadSpec> = fc.oneof(
  { arbitrary: generalSpecArb, weight: 3 },
  { arbitrary: alternativesSpecArb, weight: 1 },
);

// ---------------------------------------------------------------------------------------------
// The oracle: a direct reading of the spec's fields.

interface AllowDeny {
  allow?: string[];
  deny?: string[];
}
interface Alternative {
  gpu?: { type?: string[]; count: Range; memory?: Range };
  cpu?: Range;
  memory?: Range;
  providers?: AllowDeny;
  regions?: AllowDeny;
  zones?: AllowDeny;
  spot: 'never' | 'allow' | 'require';
  maxPricePerHour?: number;
  instanceType?: string;
}

/** The base alone, or each anyOf/ordered entry with what it leaves out taken from the base. */
function alternativesOf(s: WorkloadSpec): Alternative[] {
  const r = s.resources;
  const p = s.placement;
  const base: Alternative = {
    gpu: r.gpu,
    cpu: r.cpu,
    memory: r.memory,
    providers: p.providers,
    regions: p.regions,
    zones: p.zones,
    spot: p.spot,
    maxPricePerHour: p.maxPricePerHour,
    instanceType: p.instanceType,
  };
  const list = r.ordered ?? r.anyOf;
  if (!list) return [base];
  return list.map((c) => ({
    gpu: c.gpu ?? base.gpu,
    cpu: c.cpu ?? base.cpu,
    memory: c.memory ?? base.memory,
    providers: c.placement?.providers ?? base.providers,
    regions: c.placement?.regions ?? base.regions,
    zones: c.placement?.zones ?? base.zones,
    spot: c.placement?.spot ?? base.spot,
    maxPricePerHour: c.placement?.maxPricePerHour ?? base.maxPricePerHour,
    instanceType: c.placement?.instanceType ?? base.instanceType,
  }));
}

/** Glob match (`*` any run, `?` one character), case-insensitive, without RegExp. */
function globMatch(glob: string, name: string): boolean {
  const g = glob.toLowerCase();
  const n = name.toLowerCase();
  // can[j]: g[0..i) matches n[0..j)
  let can = Array.from({ length: n.length + 1 }, (_, j) => j === 0);
  for (const ch of g) {
    const next = Array.from({ length: n.length + 1 }, () => false);
    for (let j = 0; j <= n.length; j++) {
      if (ch === '*') next[j] = can[j]! || (j > 0 && next[j - 1]!);
      else next[j] = j > 0 && can[j - 1]! && (ch === '?' || ch === n[j - 1]);
    }
    can = next;
  }
  return can[n.length]!;
}

/**
 * A requested model matches the offered one ignoring case; a bare model also matches its memory
 * variants ("A100" matches "A100-80GB", not "A100-SXM"; "A100-80GB" does not match "A100").
 */
function gpuModelMatches(requested: string, offered: string): boolean {
  const [r, o] = [requested.toLowerCase(), offered.toLowerCase()];
  return o === r || (o.startsWith(`${r}-`) && /^\d+gb$/.test(o.slice(r.length + 1)));
}

function admits(ad: AllowDeny | undefined, name: string): boolean {
  if (!ad) return true;
  if (ad.deny?.some((g) => globMatch(g, name))) return false;
  if (ad.allow && !ad.allow.some((g) => globMatch(g, name))) return false;
  return true;
}

const within = (v: number, r: Range | undefined) =>
  !r || ((r.min === undefined || r.min <= v) && (r.max === undefined || v <= r.max));

/**
 * The constraints of one alternative the offer breaks, one name per constraint (so its length is
 * the number of constraints missed, as nearestMisses counts them).
 */
function violations(a: Alternative, o: Offer, blocks: Block[], now: number): string[] {
  const v: string[] = [];
  if (!admits(a.providers, o.provider)) v.push('provider');
  if (a.instanceType !== undefined && a.instanceType !== o.instanceType) v.push('instanceType');
  if (a.gpu) {
    if (o.gpuCount <= 0 || o.gpuType === undefined || o.gpuType === '') v.push('no gpu');
    else {
      if (a.gpu.type && !a.gpu.type.some((t) => gpuModelMatches(t, o.gpuType!))) v.push('gpu type');
      if (!within(o.gpuCount, a.gpu.count)) v.push('gpu count');
      if (a.gpu.memory && (o.gpuMemoryGb === undefined || !within(o.gpuMemoryGb, a.gpu.memory)))
        v.push('gpu memory');
    }
  } else if (o.gpuCount > 0) v.push('unrequested gpu');
  if (!within(o.vcpus, a.cpu)) v.push('cpu');
  if (!within(o.memoryGb, a.memory)) v.push('memory');
  if (a.spot === 'never' && o.spot) v.push('spot');
  if (a.spot === 'require' && !o.spot) v.push('on-demand');
  if (!admits(a.regions, o.region)) v.push('region');
  if (!admits(a.zones, o.zone)) v.push('zone');
  if (a.maxPricePerHour !== undefined && o.pricePerHour > a.maxPricePerHour) v.push('price');
  const blocked = blocks.some(
    (b) =>
      b.until > now &&
      b.provider === o.provider &&
      (b.region === undefined || b.region === o.region) &&
      (b.zone === undefined || b.zone === o.zone),
  );
  if (blocked) v.push('blocked');
  return v;
}

/** The oracle's name for the constraint a reason text describes, or undefined for an unknown text. */
const REASON_PATTERNS: Array<[string, RegExp]> = [
  ['provider', /^provider \S+ (denied|not in \[.*\])$/],
  ['instanceType', /^instance type \S+ is not the pinned \S+$/],
  ['no gpu', /^no GPU \(.+:[\d.]+ requested\)$/],
  ['gpu type', /^gpu \S+ not in \[.+\]$/],
  ['unrequested gpu', /^\d+ GPUs, none requested$/],
  ['gpu count', /^\d+ GPUs, [\d.]+ requested$/],
  ['gpu memory', /^(unknown GPU memory|[\d.]+GB per GPU), [\d.GB]+ requested$/],
  ['cpu', /^\d+ vCPUs, [\d.]+ requested$/],
  ['memory', /^\d+GB memory, [\d.GB]+ requested$/],
  ['spot', /^spot offer, spot: never$/],
  ['on-demand', /^on-demand offer, spot: require$/],
  ['region', /^region \S+ (denied|not in \[.*\])$/],
  ['zone', /^zone \S+ (denied|not in \[.*\])$/],
  ['price', /^price [\d.]+\/h over max [\d.]+\/h$/],
  ['blocked', /^(zone|region|provider) \S+ blocked until \d\d:\d\d after .+$/],
];
function constraintOf(reason: string): string | undefined {
  return REASON_PATTERNS.find(([, re]) => re.test(reason))?.[0];
}

/** Index of the first alternative the offer fits, or -1. */
function firstFit(alts: Alternative[], o: Offer, blocks: Block[]): number {
  return alts.findIndex((a) => violations(a, o, blocks, NOW).length === 0);
}

const isOrdered = (s: WorkloadSpec) => s.resources.ordered !== undefined;

/** The documented order: (ordered: alternative), price, GPU count, label. */
function compareRanked(ordered: boolean, a: RankedOffer, b: RankedOffer): number {
  if (ordered && a.candidate !== b.candidate) return a.candidate - b.candidate;
  if (a.pricePerHour !== b.pricePerHour) return a.pricePerHour - b.pricePerHour;
  if (a.gpuCount !== b.gpuCount) return a.gpuCount - b.gpuCount;
  const [la, lb] = [offerLabel(a), offerLabel(b)];
  return la < lb ? -1 : la > lb ? 1 : 0;
}

/** An offer as a comparable string (key order fixed), to compare multisets of offers. */
function canonical(o: Offer): string {
  const {
    provider,
    region,
    zone,
    instanceType,
    gpuType,
    gpuCount,
    gpuMemoryGb,
    vcpus,
    memoryGb,
    spot,
    pricePerHour,
  } = o;
  return JSON.stringify([
    provider,
    region,
    zone,
    instanceType,
    gpuType ?? null,
    gpuCount,
    gpuMemoryGb ?? null,
    vcpus,
    memoryGb,
    spot,
    pricePerHour,
  ]);
}

const sortedCanon = (offers: Offer[]) => offers.map(canonical).sort();

function hintsOf(spec: WorkloadSpec): Hints {
  const gpus = alternativesOf(spec).flatMap((a) => (a.gpu ? [a.gpu] : []));
  return {
    types: gpus.flatMap((g) => g.type ?? []),
    counts: gpus.flatMap((g) => [g.count.min, g.count.max].filter((n): n is number => n !== undefined)),
  };
}

const worldArb = specArb.chain((spec) =>
  fc.record({ spec: fc.constant(spec), offers: catalogArb(hintsOf(spec)), blocks: blocksArb }),
);
type World = typeof worldArb extends fc.Arbitrary<infer W> ? W : never;

/** Asserts `check` of generated worlds (a spec, a catalog, blocks), given the spec's alternatives too. */
function forEveryWorld(check: (w: World & { alts: Alternative[] }) => void): void {
  fc.assert(
    fc.property(worldArb, (w) => check({ ...w, alts: alternativesOf(w.spec) })),
    params,
  );
}

// ---------------------------------------------------------------------------------------------

describe('rankOffers properties', () => {
  test('the oracle itself: globs anchor, * spans any run, ? one character, case-insensitive', () => {
    expect(globMatch('us-*', 'us-east-1')).toBe(true);
    expect(globMatch('us-*', 'aus-east-1')).toBe(false);
    expect(globMatch('europe-west4-?', 'EUROPE-WEST4-A')).toBe(true);
    expect(globMatch('europe-west4-?', 'europe-west4-ab')).toBe(false);
    expect(globMatch('*a', 'us-east-1a')).toBe(true);
    expect(globMatch('*a', 'us-east-1b')).toBe(false);
    expect(globMatch('lab-?', 'lab-a')).toBe(true);
  });

  test('(a) the top ranked offer has the key of the oracle’s best feasible offer (alternative if ordered, then price)', () => {
    forEveryWorld(({ spec, offers, blocks, alts }) => {
      const ordered = isOrdered(spec);
      const key = (alt: number, o: Offer): [number, number] => [ordered ? alt : 0, o.pricePerHour];
      let best: [number, number] | undefined;
      for (const o of offers) {
        const i = firstFit(alts, o, blocks);
        if (i < 0) continue;
        const k = key(i, o);
        if (!best || k[0] < best[0] || (k[0] === best[0] && k[1] < best[1])) best = k;
      }
      const { ranked } = rankOffers(spec, offers, blocks, NOW);
      if (!best) expect(ranked).toEqual([]);
      else expect(ranked.length > 0 && key(ranked[0]!.candidate, ranked[0]!)).toEqual(best);
    });
  });

  test('exactly the offers fitting some alternative are ranked; under ordered, each with the first one it fits', () => {
    forEveryWorld(({ spec, offers, blocks, alts }) => {
      const { ranked, rejected } = rankOffers(spec, offers, blocks, NOW);
      expect(sortedCanon(ranked)).toEqual(sortedCanon(offers.filter((o) => firstFit(alts, o, blocks) >= 0)));
      expect(sortedCanon(rejected.map((r) => r.offer))).toEqual(
        sortedCanon(offers.filter((o) => firstFit(alts, o, blocks) < 0)),
      );
      if (isOrdered(spec)) for (const o of ranked) expect(o.candidate).toBe(firstFit(alts, o, blocks));
    });
  });

  test('(b) no ranked offer violates a constraint of the alternative it claims', () => {
    forEveryWorld(({ spec, offers, blocks, alts }) => {
      for (const o of rankOffers(spec, offers, blocks, NOW).ranked) {
        expect(Number.isInteger(o.candidate) && o.candidate >= 0 && o.candidate < alts.length).toBe(true);
        expect(violations(alts[o.candidate]!, o, blocks, NOW)).toEqual([]);
      }
    });
  });

  test('(c) every input offer is in exactly one of ranked/rejected, and every rejection gives a true reason per alternative', () => {
    forEveryWorld(({ spec, offers, blocks, alts }) => {
      const { ranked, rejected } = rankOffers(spec, offers, blocks, NOW);
      expect(ranked.length + rejected.length).toBe(offers.length);
      expect(sortedCanon([...ranked, ...rejected.map((r) => r.offer)])).toEqual(sortedCanon(offers));
      // Rejected entries carry the input object itself, each at most once.
      expect(new Set(rejected.map((r) => r.offer)).size).toBe(rejected.length);
      const problems: string[] = [];
      for (const r of rejected) {
        const what = `${offerLabel(r.offer)}: ${JSON.stringify(r.reason)}`;
        if (!offers.includes(r.offer)) problems.push(`${what} is not an input offer`);
        if (typeof r.reason !== 'string' || r.reason.trim() === '') {
          problems.push(`${what} has no reason`);
          continue;
        }
        // "alternative 1: ...; alternative 2: ..." with several alternatives, else the reason alone.
        let parts = [r.reason];
        if (alts.length > 1) {
          parts = r.reason.split('; ');
          const labels = parts.map((p) => p.slice(0, p.indexOf(': ')));
          if (labels.join() !== alts.map((_, i) => `alternative ${i + 1}`).join()) {
            problems.push(`${what} does not give one reason per alternative`);
            continue;
          }
          parts = parts.map((p) => p.slice(p.indexOf(': ') + 2));
        }
        // Each names a constraint that the offer really breaks in that alternative.
        parts.forEach((part, i) => {
          const broken = violations(alts[i]!, r.offer, blocks, NOW);
          const named = constraintOf(part);
          if (named === undefined || !broken.includes(named)) {
            problems.push(
              `${what}: alternative ${i + 1} says ${named ?? part}, breaks [${broken.join(', ')}]`,
            );
          }
        });
      }
      expect(problems).toEqual([]);
    });
  });

  test('(d) ranked is sorted by (alternative if ordered), price, GPU count, label', () => {
    forEveryWorld(({ spec, offers, blocks }) => {
      const { ranked } = rankOffers(spec, offers, blocks, NOW);
      const ordered = isOrdered(spec);
      for (let i = 1; i < ranked.length; i++) {
        expect(compareRanked(ordered, ranked[i - 1]!, ranked[i]!)).toBeLessThanOrEqual(0);
      }
    });
  });

  test('the ranking does not depend on the order of the catalog (offers with distinct labels)', () => {
    const distinct = (offers: Offer[]) => [...new Map(offers.map((o) => [offerLabel(o), o])).values()];
    fc.assert(
      fc.property(
        worldArb.chain((w) => {
          const offers = distinct(w.offers);
          return fc.tuple(
            fc.constant({ ...w, offers }),
            fc.shuffledSubarray(offers, { minLength: offers.length }),
          );
        }),
        ([{ spec, blocks, offers }, shuffled]) => {
          const a = rankOffers(spec, offers, blocks, NOW).ranked;
          const b = rankOffers(spec, shuffled, blocks, NOW).ranked;
          expect(b).toEqual(a);
        },
      ),
      params,
    );
  });

  test('nearestMisses: one per provider and GPU model, the closest of each, with the reasons of its closest alternative, fewest first then cheapest', () => {
    forEveryWorld(({ spec, offers, blocks, alts }) => {
      const wantsGpu = alts.some((a) => a.gpu);
      const group = (o: Offer) => `${o.provider}|${o.gpuType ?? ''}`;
      const broken = new Map(offers.map((o) => [o, alts.map((a) => violations(a, o, blocks, NOW).sort())]));
      const fewest = (o: Offer) => Math.min(...broken.get(o)!.map((v) => v.length));
      // A machine without GPUs counts as one constraint further off for a GPU request.
      const score = (o: Offer) => fewest(o) + (wantsGpu && o.gpuCount === 0 ? 1 : 0);
      const before = (p: Offer, q: Offer) =>
        score(p) < score(q) || (score(p) === score(q) && p.pricePerHour <= q.pricePerHour);

      const misses = nearestMisses(spec, offers, blocks, NOW, offers.length);
      const groups = new Set(offers.map(group));
      expect(misses.map((m) => group(m.offer)).sort()).toEqual([...groups].sort());
      const problems: string[] = [];
      misses.forEach((m, i) => {
        const what = `${offerLabel(m.offer)} ${JSON.stringify(m.reasons)}`;
        if (!broken.has(m.offer)) return problems.push(`${what} is not an input offer`);
        // Every reason of one closest alternative, each naming the constraint it breaks.
        const named = m.reasons.map((r) => constraintOf(r) ?? r).sort();
        if (m.reasons.length !== fewest(m.offer))
          problems.push(`${what}: closest misses by ${fewest(m.offer)}`);
        if (!broken.get(m.offer)!.some((v) => v.join() === named.join())) {
          problems.push(`${what}: alternatives break ${JSON.stringify(broken.get(m.offer))}`);
        }
        // No other offer of its group is closer, or as close and cheaper.
        for (const o of offers) {
          if (group(o) === group(m.offer) && !before(m.offer, o)) {
            problems.push(`${what}: ${offerLabel(o)} ${o.pricePerHour}/h is nearer`);
          }
        }
        if (i > 0 && !before(misses[i - 1]!.offer, m.offer)) problems.push(`${what} is out of order`);
      });
      expect(problems).toEqual([]);
      // The limit keeps the first ones.
      const limit = Math.max(1, Math.floor(groups.size / 2));
      expect(nearestMisses(spec, offers, blocks, NOW, limit)).toEqual(misses.slice(0, limit));
    });
  });
});

// Keep the generators honest: the worlds they make must exercise what the properties claim.
test('the generators make worlds with and without fits, alternatives, blocks and price ties', () => {
  const worlds = fc.sample(worldArb, { numRuns: 300, seed: 42 });
  const stats = { fitting: 0, none: 0, alternatives: 0, orderedAcross: 0, blocked: 0, ties: 0 };
  for (const { spec, offers, blocks } of worlds) {
    const alts = alternativesOf(spec);
    const fits = offers.map((o) => firstFit(alts, o, blocks)).filter((i) => i >= 0);
    if (fits.length > 0) stats.fitting++;
    else stats.none++;
    if (alts.length > 1) stats.alternatives++;
    if (isOrdered(spec) && new Set(fits).size > 1) stats.orderedAcross++;
    if (offers.some((o) => alts.some((a) => violations(a, o, blocks, NOW).includes('blocked'))))
      stats.blocked++;
    const prices = offers.filter((o) => firstFit(alts, o, blocks) >= 0).map((o) => o.pricePerHour);
    if (new Set(prices).size < prices.length) stats.ties++;
  }
  expect(stats.fitting).toBeGreaterThan(60);
  expect(stats.none).toBeGreaterThan(60);
  expect(stats.alternatives).toBeGreaterThan(60);
  expect(stats.orderedAcross).toBeGreaterThan(4);
  expect(stats.blocked).toBeGreaterThan(50);
  expect(stats.ties).toBeGreaterThan(15);
});
