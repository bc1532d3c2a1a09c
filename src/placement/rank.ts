/**
 * Placement: rank offers against a spec and explain every offer passed over. Pure functions, no
 * I/O; the place activity, `driftless offers` and `apply`'s plan all use these.
 */
import type { Offer } from '../providers/types';
import { formatRange, inRange, type Range } from '../spec/ranges';
import type { Candidate, PlacementConstraints, Resources, WorkloadSpec } from '../spec/workload-spec';

/** A location skipped until `until` (epoch ms) after a failure there. */
export interface Block {
  provider: string;
  region?: string;
  zone?: string;
  until: number;
  /** What happened there, e.g. "CapacityError", "losing an instance". */
  reason: string;
}

export interface RejectedOffer {
  offer: Offer;
  reason: string;
}

/** An offer that fits, with the alternative (0-based, from anyOf/ordered) it fits. */
export type RankedOffer = Offer & { candidate: number };

/** The ranked offers for a spec and why each other offer was passed over. */
export interface Placement {
  ranked: RankedOffer[];
  rejected: RejectedOffer[];
}

/** The parts of a spec placement looks at. */
export type PlacementSpec = Pick<WorkloadSpec, 'resources' | 'placement'>;

export function offerLabel(
  o: Pick<Offer, 'provider' | 'region' | 'zone' | 'instanceType'> & { spot?: boolean },
): string {
  const where = o.region === o.zone ? `${o.provider}/${o.region}` : `${o.provider}/${o.region}/${o.zone}`;
  return `${where} ${o.instanceType}${o.spot ? ' (spot)' : ''}`;
}

export function blockLabel(b: Pick<Block, 'provider' | 'region' | 'zone'>): string {
  return [b.provider, b.region, b.region !== b.zone ? b.zone : undefined].filter(Boolean).join('/');
}

/** Does this block cover the offer's location? A block without region covers the provider. */
export function blockCovers(b: Block, o: Offer): boolean {
  if (b.provider !== o.provider) return false;
  if (b.region !== undefined && b.region !== o.region) return false;
  if (b.zone !== undefined && b.zone !== o.zone) return false;
  return true;
}

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 16);

/** `us-*`, `europe-west4-?` -> an anchored, case-insensitive RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

interface Matcher {
  allow?: RegExp[];
  deny?: RegExp[];
  allowText: string;
}

function matcher(ad: { allow?: string[]; deny?: string[] } | undefined): Matcher | undefined {
  if (!ad || (!ad.allow && !ad.deny)) return undefined;
  return {
    allow: ad.allow?.map(globToRegExp),
    deny: ad.deny?.map(globToRegExp),
    allowText: (ad.allow ?? []).join(', '),
  };
}

/** Why `name` is excluded by the matcher, or undefined. */
function excluded(kind: string, name: string, m: Matcher | undefined): string | undefined {
  if (!m) return undefined;
  if (m.deny?.some((r) => r.test(name))) return `${kind} ${name} denied`;
  if (m.allow && !m.allow.some((r) => r.test(name))) return `${kind} ${name} not in [${m.allowText}]`;
  return undefined;
}

/** One alternative, compiled once so that checking an offer allocates nothing until it fails. */
interface Compiled {
  index: number;
  providers?: Matcher;
  regions?: Matcher;
  zones?: Matcher;
  gpu?: { types?: Set<string>; typeText: string; count: Range; memory?: Range };
  cpu?: Range;
  memory?: Range;
  spot: PlacementConstraints['spot'];
  maxPrice?: number;
  instanceType?: string;
}

/** The alternatives of a spec: the base alone, or the base with each anyOf/ordered override. */
export function expandCandidates(
  spec: PlacementSpec,
): Array<{ resources: Resources; placement: PlacementConstraints }> {
  const overrides: Candidate[] | undefined = spec.resources.ordered ?? spec.resources.anyOf;
  if (!overrides) return [{ resources: spec.resources, placement: spec.placement }];
  return overrides.map(({ placement, ...resources }) => ({
    resources: { ...spec.resources, ...stripUndefined(resources), anyOf: undefined, ordered: undefined },
    placement: { ...spec.placement, ...stripUndefined(placement ?? {}) },
  }));
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function compile(spec: PlacementSpec): Compiled[] {
  return expandCandidates(spec).map(({ resources: r, placement: p }, index) => ({
    index,
    providers: matcher(p.providers),
    regions: matcher(p.regions),
    zones: matcher(p.zones),
    gpu: r.gpu && {
      types: r.gpu.type && new Set(r.gpu.type.map((t) => t.toLowerCase())),
      typeText: r.gpu.type ? r.gpu.type.join(', ') : 'any',
      count: r.gpu.count,
      memory: r.gpu.memory,
    },
    cpu: r.cpu,
    memory: r.memory,
    spot: p.spot,
    maxPrice: p.maxPricePerHour,
    instanceType: p.instanceType,
  }));
}

const price = (n: number) => `${Math.round(n * 100) / 100}/h`;

/**
 * Why this offer does not fit one alternative. Returns the first reason, or, with `all`, pushes
 * every reason into it (for nearest misses).
 */
function check(c: Compiled, o: Offer, blocks: Block[], now: number, all?: string[]): string | undefined {
  const fail = (reason: string | undefined): string | undefined => {
    if (reason === undefined) return undefined;
    if (all) {
      all.push(reason);
      return undefined;
    }
    return reason;
  };
  let r: string | undefined;
  if ((r = fail(excluded('provider', o.provider, c.providers)))) return r;
  if (c.instanceType && o.instanceType !== c.instanceType) {
    if ((r = fail(`instance type ${o.instanceType} is not the pinned ${c.instanceType}`))) return r;
  }
  const g = c.gpu;
  if (g) {
    if (o.gpuCount === 0 || !o.gpuType) {
      if ((r = fail(`no GPU (${g.typeText}:${formatRange(g.count)} requested)`))) return r;
    } else {
      if (g.types && !g.types.has(o.gpuType.toLowerCase())) {
        if ((r = fail(`gpu ${o.gpuType} not in [${g.typeText}]`))) return r;
      }
      if (!inRange(o.gpuCount, g.count)) {
        if ((r = fail(`${o.gpuCount} GPUs, ${formatRange(g.count)} requested`))) return r;
      }
      if (g.memory && (o.gpuMemoryGb === undefined || !inRange(o.gpuMemoryGb, g.memory))) {
        const have = o.gpuMemoryGb === undefined ? 'unknown GPU memory' : `${o.gpuMemoryGb}GB per GPU`;
        if ((r = fail(`${have}, ${formatRange(g.memory, 'GB')} requested`))) return r;
      }
    }
  } else if (o.gpuCount > 0) {
    if ((r = fail(`${o.gpuCount} GPUs, none requested`))) return r;
  }
  if (c.cpu && !inRange(o.vcpus, c.cpu)) {
    if ((r = fail(`${o.vcpus} vCPUs, ${formatRange(c.cpu)} requested`))) return r;
  }
  if (c.memory && !inRange(o.memoryGb, c.memory)) {
    if ((r = fail(`${o.memoryGb}GB memory, ${formatRange(c.memory, 'GB')} requested`))) return r;
  }
  if (o.spot && c.spot === 'never') {
    if ((r = fail('spot offer, spot: never'))) return r;
  } else if (!o.spot && c.spot === 'require') {
    if ((r = fail('on-demand offer, spot: require'))) return r;
  }
  if ((r = fail(excluded('region', o.region, c.regions)))) return r;
  if ((r = fail(excluded('zone', o.zone, c.zones)))) return r;
  if (c.maxPrice !== undefined && o.pricePerHour > c.maxPrice) {
    if ((r = fail(`price ${price(o.pricePerHour)} over max ${price(c.maxPrice)}`))) return r;
  }
  for (const b of blocks) {
    if (b.until > now && blockCovers(b, o)) {
      const where = b.zone ? `zone ${b.zone}` : b.region ? `region ${b.region}` : `provider ${b.provider}`;
      if ((r = fail(`${where} blocked until ${clock(b.until)} after ${b.reason}`))) return r;
      break;
    }
  }
  return undefined;
}

/**
 * Every offer that fits, best first, and every other offer with its reason. Best: for `ordered`
 * the earliest alternative, then the lowest price; otherwise the lowest price. Ties: fewer GPUs,
 * then the label, so the order is deterministic.
 */
export function rankOffers(spec: PlacementSpec, offers: Offer[], blocks: Block[], now: number): Placement {
  const compiled = compile(spec);
  const ordered = !!spec.resources.ordered;
  const active = blocks.filter((b) => b.until > now);
  const ranked: RankedOffer[] = [];
  const rejected: RejectedOffer[] = [];
  for (const offer of offers) {
    let fit = -1;
    let reason: string | undefined;
    let reasons: string[] | undefined;
    for (const c of compiled) {
      const why = check(c, offer, active, now);
      if (why === undefined) {
        fit = c.index;
        break;
      }
      reason ??= why;
      if (compiled.length > 1) (reasons ??= []).push(`alternative ${c.index + 1}: ${why}`);
    }
    if (fit >= 0) ranked.push({ ...offer, candidate: fit });
    else rejected.push({ offer, reason: reasons ? reasons.join('; ') : reason! });
  }
  ranked.sort(
    (a, b) =>
      (ordered ? a.candidate - b.candidate : 0) ||
      a.pricePerHour - b.pricePerHour ||
      a.gpuCount - b.gpuCount ||
      compareText(offerLabel(a), offerLabel(b)),
  );
  return { ranked, rejected };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Why the offer does not fit (the first reason of the first alternative), or undefined. */
export function rejectionReason(
  spec: PlacementSpec,
  offer: Offer,
  blocks: Block[],
  now: number,
): string | undefined {
  const placement = rankOffers(spec, [offer], blocks, now);
  return placement.rejected[0]?.reason;
}

/**
 * When nothing fits: the offers that miss by the fewest constraints (cheapest first among equals),
 * each with every reason it misses by.
 */
export function nearestMisses(
  spec: PlacementSpec,
  offers: Offer[],
  blocks: Block[],
  now: number,
  limit = 5,
): Array<{ offer: Offer; reasons: string[] }> {
  const compiled = compile(spec);
  const scored = offers.map((offer) => {
    let best: string[] | undefined;
    for (const c of compiled) {
      const all: string[] = [];
      check(c, offer, blocks, now, all);
      if (!best || all.length < best.length) best = all;
    }
    return { offer, reasons: best ?? [] };
  });
  scored.sort((a, b) => a.reasons.length - b.reasons.length || a.offer.pricePerHour - b.offer.pricePerHour);
  return scored.slice(0, limit);
}
