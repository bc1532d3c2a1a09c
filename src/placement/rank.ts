/**
 * Placement: rank offers against a spec. Pure functions, no I/O; imported by activities and,
 * for types, by the workflow.
 */
import type { Offer } from '../providers/types';
import type { WorkloadSpec } from '../spec/workload-spec';

/** A location skipped until `until` (epoch ms) after a failure there. */
export interface Block {
  provider: string;
  region?: string;
  zone?: string;
  until: number;
  /** What happened there, e.g. "capacity error", "agent lost". */
  reason: string;
}

export interface RejectedOffer {
  offer: Offer;
  reason: string;
}

/** The ranked offers for a spec and why each other offer was passed over. */
export interface Placement {
  ranked: Offer[];
  rejected: RejectedOffer[];
}

export function offerLabel(o: Pick<Offer, 'provider' | 'region' | 'zone' | 'instanceType'>): string {
  return o.region === o.zone
    ? `${o.provider}/${o.region} ${o.instanceType}`
    : `${o.provider}/${o.region}/${o.zone} ${o.instanceType}`;
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

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

/** Why this offer cannot host the spec, or undefined when it can. */
export function rejectionReason(
  spec: WorkloadSpec,
  offer: Offer,
  blocks: Block[],
  now: number,
): string | undefined {
  const allowed = spec.placement.providers;
  if (allowed && !allowed.includes(offer.provider)) {
    return `provider ${offer.provider} not in [${allowed.join(', ')}]`;
  }
  const gpu = spec.resources.gpu;
  if (gpu) {
    const wanted = gpu.type.map((t) => t.toLowerCase());
    if (offer.gpuCount === 0 || !offer.gpuType) return `no GPU (${gpu.type.join('|')} needed)`;
    if (!wanted.includes(offer.gpuType.toLowerCase())) {
      return `gpu ${offer.gpuType} not in [${gpu.type.join(', ')}]`;
    }
    if (offer.gpuCount !== gpu.count) return `${offer.gpuCount} GPUs, ${gpu.count} requested`;
  } else if (offer.gpuCount > 0) {
    return `has ${offer.gpuCount} GPUs, none requested`;
  }
  const { cpu, memory } = spec.resources;
  if (cpu !== undefined && offer.vcpus < cpu) return `${offer.vcpus} vCPUs, ${cpu} needed`;
  if (memory !== undefined && offer.memoryGb < memory)
    return `${offer.memoryGb}GB memory, ${memory}GB needed`;
  const block = blocks.find((b) => b.until > now && blockCovers(b, offer));
  if (block) return `${blockLabel(block)} blocked until ${clock(block.until)} after ${block.reason}`;
  return undefined;
}

/** Every offer that fits, cheapest first (ties: fewer GPUs, then name); the rest with reasons. */
export function rankOffers(spec: WorkloadSpec, offers: Offer[], blocks: Block[], now: number): Placement {
  const ranked: Offer[] = [];
  const rejected: RejectedOffer[] = [];
  for (const offer of offers) {
    const reason = rejectionReason(spec, offer, blocks, now);
    if (reason) rejected.push({ offer, reason });
    else ranked.push(offer);
  }
  ranked.sort(
    (a, b) =>
      a.pricePerHour - b.pricePerHour ||
      a.gpuCount - b.gpuCount ||
      (offerLabel(a) < offerLabel(b) ? -1 : offerLabel(a) > offerLabel(b) ? 1 : 0),
  );
  return { ranked, rejected };
}
