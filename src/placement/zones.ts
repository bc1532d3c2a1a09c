/**
 * Zones by id and by name alike. AWS catalogs hold AZ ids (`use1-az1`, the same in every
 * account) while people write zone names (`us-east-1a`, which AWS maps to ids per account), so a
 * zone pattern is matched against both: one that matches either form matches, and a deny of
 * either denies. The name is known only where the provider has described its zones
 * (`Offer.zoneName`); elsewhere (a catalog browsed without an AWS account) only ids match.
 */
import type { Matcher } from './rank';

/** Why the zone `id` (named `name`, when known) is excluded by `m`, or undefined. */
export function zoneExcluded(m: Matcher, id: string, name: string | undefined): string | undefined {
  const hit = (patterns: RegExp[] | undefined) =>
    !!patterns?.some((p) => p.test(id) || (name !== undefined && p.test(name)));
  const label = name === undefined || name === id ? id : `${id} (${name})`;
  if (hit(m.deny)) return `zone ${label} denied`;
  if (m.allow && !hit(m.allow)) return `zone ${label} not in [${m.allowText}]`;
  return undefined;
}
