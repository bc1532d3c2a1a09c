/**
 * Placement: rank offers against a spec and explain every offer passed over. Pure functions, no
 * I/O; the place activity, `driftless offers` and `apply`'s plan all use these.
 */
import type { Offer } from '../common/offer';
import { formatRange, inRange, type Range } from '../spec/ranges';
import type { Candidate, PlacementConstraints, Resources, WorkloadSpec } from '../spec/workload-spec';
import { zoneExcluded } from './zones';

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

/**
 * A requested GPU model matches the offer's GPU by name, ignoring case; a bare model also
 * matches its memory variants ("A100" matches "A100-80GB"; ask for "A100-80GB", or use
 * `gpu.memory`, to be specific).
 */
export function gpuTypeMatches(requested: ReadonlySet<string>, offered: string): boolean {
  const o = offered.toLowerCase();
  if (requested.has(o)) return true;
  const variant = /^(.+)-\d+gb$/.exec(o);
  return !!variant && requested.has(variant[1]!);
}

/** `us-*`, `europe-west4-?` -> an anchored, case-insensitive RegExp. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

export interface Matcher {
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
  /**
   * Verdicts that depend on one field of the offer, by field and value: catalogs repeat the same
   * regions, GPU models and counts thousands of times, so each is judged (and its reason text
   * built) once per ranking.
   */
  memo: Record<'provider' | 'type' | 'count' | 'gpuMem' | 'cpu' | 'ram' | 'region' | 'zone', Verdicts>;
}

type Verdicts = Map<string | number | undefined, string | null>;

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
    memo: {
      provider: new Map(),
      type: new Map(),
      count: new Map(),
      gpuMem: new Map(),
      cpu: new Map(),
      ram: new Map(),
      region: new Map(),
      zone: new Map(),
    },
  }));
}

/** "32.77/h"; below a dollar two significant digits ("0.0042/h"), so small prices stay visible. */
const price = (n: number) => `${n >= 1 ? Math.round(n * 100) / 100 : Number(n.toPrecision(2))}/h`;

// Verdicts that depend on one field, memoised per ranking. Module-level functions, not closures:
// this runs once per offer per alternative, 100,000 times for a large catalog.
function providerVerdict(c: Compiled, v: string): string | undefined {
  let r = c.memo.provider.get(v);
  if (r === undefined) c.memo.provider.set(v, (r = excluded('provider', v, c.providers) ?? null));
  return r ?? undefined;
}
function regionVerdict(c: Compiled, v: string): string | undefined {
  let r = c.memo.region.get(v);
  if (r === undefined) c.memo.region.set(v, (r = excluded('region', v, c.regions) ?? null));
  return r ?? undefined;
}
function zoneVerdict(c: Compiled, id: string, name: string | undefined): string | undefined {
  const key = name === undefined || name === id ? id : `${id}|${name}`;
  let r = c.memo.zone.get(key);
  if (r === undefined) c.memo.zone.set(key, (r = zoneExcluded(c.zones!, id, name) ?? null));
  return r ?? undefined;
}
function typeVerdict(c: Compiled, g: NonNullable<Compiled['gpu']>, v: string): string | undefined {
  let r = c.memo.type.get(v);
  if (r === undefined) {
    r = !g.types || gpuTypeMatches(g.types, v) ? null : `gpu ${v} not in [${g.typeText}]`;
    c.memo.type.set(v, r);
  }
  return r ?? undefined;
}
function countVerdict(c: Compiled, g: NonNullable<Compiled['gpu']>, v: number): string | undefined {
  let r = c.memo.count.get(v);
  if (r === undefined) {
    r = inRange(v, g.count) ? null : `${v} GPUs, ${formatRange(g.count)} requested`;
    c.memo.count.set(v, r);
  }
  return r ?? undefined;
}
function gpuMemoryVerdict(c: Compiled, want: Range, v: number | undefined): string | undefined {
  let r = c.memo.gpuMem.get(v);
  if (r === undefined) {
    const have = v === undefined ? 'unknown GPU memory' : `${v}GB per GPU`;
    r = v !== undefined && inRange(v, want) ? null : `${have}, ${formatRange(want, 'GB')} requested`;
    c.memo.gpuMem.set(v, r);
  }
  return r ?? undefined;
}
function cpuVerdict(c: Compiled, want: Range, v: number): string | undefined {
  let r = c.memo.cpu.get(v);
  if (r === undefined)
    c.memo.cpu.set(v, (r = inRange(v, want) ? null : `${v} vCPUs, ${formatRange(want)} requested`));
  return r ?? undefined;
}
function ramVerdict(c: Compiled, want: Range, v: number): string | undefined {
  let r = c.memo.ram.get(v);
  if (r === undefined) {
    c.memo.ram.set(v, (r = inRange(v, want) ? null : `${v}GB memory, ${formatRange(want, 'GB')} requested`));
  }
  return r ?? undefined;
}

/**
 * Why this offer does not fit one alternative: the first reason, or, with `all`, every reason
 * pushed into it (for nearest misses) and undefined returned.
 */
function check(c: Compiled, o: Offer, blocks: Block[], now: number, all?: string[]): string | undefined {
  let r: string | undefined;
  if (c.providers && (r = providerVerdict(c, o.provider))) {
    if (!all) return r;
    all.push(r);
  }
  if (c.instanceType && o.instanceType !== c.instanceType) {
    r = `instance type ${o.instanceType} is not the pinned ${c.instanceType}`;
    if (!all) return r;
    all.push(r);
  }
  const g = c.gpu;
  if (g) {
    if (o.gpuCount === 0 || !o.gpuType) {
      r = `no GPU (${g.typeText}:${formatRange(g.count)} requested)`;
      if (!all) return r;
      all.push(r);
    } else {
      if (g.types && (r = typeVerdict(c, g, o.gpuType))) {
        if (!all) return r;
        all.push(r);
      }
      if ((r = countVerdict(c, g, o.gpuCount))) {
        if (!all) return r;
        all.push(r);
      }
      if (g.memory && (r = gpuMemoryVerdict(c, g.memory, o.gpuMemoryGb))) {
        if (!all) return r;
        all.push(r);
      }
    }
  } else if (o.gpuCount > 0) {
    r = `${o.gpuCount} GPUs, none requested`;
    if (!all) return r;
    all.push(r);
  }
  if (c.cpu && (r = cpuVerdict(c, c.cpu, o.vcpus))) {
    if (!all) return r;
    all.push(r);
  }
  if (c.memory && (r = ramVerdict(c, c.memory, o.memoryGb))) {
    if (!all) return r;
    all.push(r);
  }
  if (o.spot ? c.spot === 'never' : c.spot === 'require') {
    r = o.spot ? 'spot offer, spot: never' : 'on-demand offer, spot: require';
    if (!all) return r;
    all.push(r);
  }
  if (c.regions && (r = regionVerdict(c, o.region))) {
    if (!all) return r;
    all.push(r);
  }
  if (c.zones && (r = zoneVerdict(c, o.zone, o.zoneName))) {
    if (!all) return r;
    all.push(r);
  }
  if (c.maxPrice !== undefined && o.pricePerHour > c.maxPrice) {
    r = `price ${price(o.pricePerHour)} over max ${price(c.maxPrice)}`;
    if (!all) return r;
    all.push(r);
  }
  for (const b of blocks) {
    if (b.until > now && blockCovers(b, o)) {
      const where = b.zone ? `zone ${b.zone}` : b.region ? `region ${b.region}` : `provider ${b.provider}`;
      r = `${where} blocked until ${clock(b.until)} after ${b.reason}`;
      if (!all) return r;
      all.push(r);
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
 * When nothing fits: the offers that miss by the fewest constraints (cheapest first among equals,
 * one per provider and GPU model), each with every reason it misses by.
 */
export function nearestMisses(
  spec: PlacementSpec,
  offers: Offer[],
  blocks: Block[],
  now: number,
  limit = 5,
): Array<{ offer: Offer; reasons: string[] }> {
  const compiled = compile(spec);
  const wantsGpu = compiled.some((c) => c.gpu);
  const scored = offers.map((offer) => {
    let best: string[] | undefined;
    for (const c of compiled) {
      const all: string[] = [];
      check(c, offer, blocks, now, all);
      if (!best || all.length < best.length) best = all;
    }
    // A machine without GPUs is a poor "near miss" for a GPU request.
    const score = (best?.length ?? 0) + (wantsGpu && offer.gpuCount === 0 ? 1 : 0);
    return { offer, reasons: best ?? [], score };
  });
  scored.sort((a, b) => a.score - b.score || a.offer.pricePerHour - b.offer.pricePerHour);
  // One per provider and GPU model, so the misses show what else there is.
  const seen = new Set<string>();
  const out: Array<{ offer: Offer; reasons: string[] }> = [];
  for (const { offer, reasons } of scored) {
    const key = `${offer.provider}|${offer.gpuType ?? ''}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ offer, reasons });
    if (out.length >= limit) break;
  }
  return out;
}
