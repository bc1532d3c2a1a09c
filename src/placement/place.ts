/**
 * The steps of a placement around {@link rankOffers}: gathering every provider's offers, and
 * shaping the ranking for the workflow (where it could run, why not elsewhere, a move's target).
 * Pure but for {@link gatherOffers}, which only asks the providers it is given.
 */
import type { Location, Offer } from '../common/offer';
import type { Placement, RejectedOffer } from './rank';
import { locationKey, targetCovers, targetLabel, type Target } from './target';

/** What gathering offers needs of a provider. */
export interface OfferSource {
  readonly name: string;
  offers(): Promise<Offer[]>;
}

/** Every provider's offers, and "<provider>: <message>" for each provider that could not list them. */
export interface GatheredOffers {
  /** In the order of the providers given. */
  offers: Offer[];
  providerErrors: string[];
}

/** Asks every provider for its offers at once; a provider that fails is reported, not fatal. */
export async function gatherOffers(providers: Iterable<OfferSource>): Promise<GatheredOffers> {
  const answers = await Promise.all(
    [...providers].map(async (p) => {
      try {
        return { offers: await p.offers() };
      } catch (err) {
        return { offers: [], error: `${p.name}: ${(err as Error).message}` };
      }
    }),
  );
  return {
    offers: answers.flatMap((a) => a.offers),
    providerErrors: answers.flatMap((a) => (a.error === undefined ? [] : [a.error])),
  };
}

/** Every location (see {@link locationKey}) with a fitting offer, best first. */
export function fittingLocations(placement: Placement): string[] {
  return [...new Set(placement.ranked.map(locationKey))];
}

/** A reason about the location itself (denied, not allowed, blocked), not about some of its offers. */
const aboutPlace = (reason: string) => (/^(provider|region|zone) /.test(reason) ? 1 : 0);

/**
 * For each location without a fitting offer, why: a reason about the location itself before one
 * about some of its offers, then the most common.
 */
export function reasonsByLocation(
  rejected: RejectedOffer[],
  fitting: readonly string[],
): Record<string, string> {
  const counts = new Map<string, Map<string, number>>();
  for (const r of rejected) {
    const key = locationKey(r.offer);
    if (fitting.includes(key)) continue;
    const byReason = counts.get(key) ?? new Map<string, number>();
    byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
    counts.set(key, byReason);
  }
  const reasons: Record<string, string> = {};
  for (const [key, byReason] of counts) {
    reasons[key] = [...byReason].sort((a, b) => aboutPlace(b[0]) - aboutPlace(a[0]) || b[1] - a[1])[0]![0];
  }
  return reasons;
}

/** Where a move may go: only to `target`, never to `avoid` (the location it leaves). */
export interface MoveBounds {
  target?: Target;
  avoid?: Location;
}

/**
 * The placement with the ranked offers a move may not take moved to the front of the rejected
 * ones, each with its reason. Without bounds, the placement as it is.
 */
export function boundForMove<P extends Placement>(placement: P, { target, avoid }: MoveBounds): P {
  if (!target && !avoid) return placement;
  const reasonAgainst = (o: Offer): string | undefined => {
    if (avoid !== undefined && locationKey(o) === locationKey(avoid)) {
      return `${locationKey(o)} is the location being left`;
    }
    if (target !== undefined && !targetCovers(target, o))
      return `not at the migration target ${targetLabel(target)}`;
    return undefined;
  };
  const passed = placement.ranked.flatMap((o) => {
    const reason = reasonAgainst(o);
    return reason ? [{ offer: o, reason }] : [];
  });
  return {
    ...placement,
    ranked: placement.ranked.filter((o) => reasonAgainst(o) === undefined),
    rejected: [...passed, ...placement.rejected],
  };
}
