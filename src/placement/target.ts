/**
 * Migration targets: "provider", "provider/region" or "provider/region/zone" (for a local pool,
 * "local/<pool>"). Pure, so the workflow's update validator can use it.
 */
import type { Location, Offer } from '../common/offer';

export interface Target {
  provider: string;
  region?: string;
  zone?: string;
}

const PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Parses a target; throws an Error that says what was expected. */
export function parseTarget(text: string): Target {
  const parts = text.trim().split('/');
  if (parts.length > 3 || parts.some((p) => !PART.test(p))) {
    throw new Error(
      `expected a target such as "gcp", "gcp/us-central1" or "aws/us-east-1/use1-az1", got ${JSON.stringify(text)}`,
    );
  }
  const [provider, region, zone] = parts as [string, string?, string?];
  return { provider, ...(region ? { region } : {}), ...(zone ? { zone } : {}) };
}

export function targetLabel(t: Target): string {
  return [t.provider, t.region, t.zone].filter(Boolean).join('/');
}

/** Whether the location is at (or inside) the target. */
export function targetCovers(t: Target, l: Pick<Offer, 'provider' | 'region' | 'zone'>): boolean {
  return (
    t.provider === l.provider &&
    (t.region === undefined || t.region === l.region) &&
    (t.zone === undefined || t.zone === l.zone)
  );
}

/** provider/region/zone of an offer or instance: the unit a migration moves between. */
export function locationKey(l: Pick<Location, 'provider'> & { region?: string; zone?: string }): string {
  return [l.provider, l.region ?? '', l.zone ?? ''].join('/');
}

/** Inverse of {@link locationKey}. */
export function locationOfKey(key: string): Required<Location> {
  const [provider = '', region = '', zone = ''] = key.split('/');
  return { provider, region, zone };
}
