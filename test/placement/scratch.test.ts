import fc from 'fast-check';
import { rankOffers } from '../../src/placement/rank';
import { __world } from './rank.property.test';
test('stats', () => {
  const NOW = Date.parse('2025-03-01T12:00:00.000Z');
  const worlds = fc.sample(__world, { numRuns: 1000 });
  const r = worlds.map((w) => rankOffers(w.spec, w.offers, w.blocks, NOW));
  console.log(JSON.stringify({
    fitting: r.filter((x) => x.ranked.length > 0).length,
    multiRanked: r.filter((x) => x.ranked.length > 1).length,
    ordered: worlds.filter((w) => w.spec.resources.ordered).length,
    anyOf: worlds.filter((w) => w.spec.resources.anyOf).length,
    orderedFit: worlds.filter((w, i) => w.spec.resources.ordered && new Set(r[i]!.ranked.map(o=>o.candidate)).size > 1).length,
    offers: worlds.reduce((a, w) => a + w.offers.length, 0) / worlds.length,
    rankedPerOffer: r.reduce((a, x) => a + x.ranked.length, 0) / worlds.reduce((a, w) => a + w.offers.length, 0),
    blockedReason: r.filter((x) => x.rejected.some((y) => y.reason.includes('blocked'))).length,
  }));
});
