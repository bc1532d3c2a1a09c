/**
 * Names a spec (or `offers --gpu/--provider/--zone`) gives, checked against what this
 * installation knows: GPU models from the catalogs and the configured providers' offers (a local
 * pool with a custom GPU type included), providers from the registry. This is not in the spec's
 * schema on purpose: what is a known GPU depends on the installation, so `validate` (no config,
 * no catalogs) cannot say, and the worker never rejects a spec for it (a GPU no offer has makes
 * the workload wait for one, as before).
 */
import type { Offer } from '../../common/offer';
import { globToRegExp, gpuTypeMatches, type PlacementSpec } from '../../placement/rank';
import { PROVIDERS } from '../../providers/registry';
import type { SpecProblem } from '../../spec/load';

/** What the installation knows names of. */
export interface KnownNames {
  gpuTypes: string[];
  providers: string[];
}

/** The GPU models of `offers` and the registry's providers. */
export function knownNames(offers: Offer[]): KnownNames {
  const gpus = new Set<string>();
  for (const o of offers) if (o.gpuType) gpus.add(o.gpuType);
  return {
    gpuTypes: [...gpus].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
    providers: Object.keys(PROVIDERS),
  };
}

/** Edit distance with adjacent transpositions (optimal string alignment), case-insensitive. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known names nearest to `input`: the ones at the smallest edit distance, if that is small
 * enough to be a slip (1 for names up to 3 characters, else 2); at most `max`.
 */
export function nearestNames(input: string, known: readonly string[], max = 3): string[] {
  const limit = input.length <= 3 ? 1 : 2;
  let best = limit + 1;
  let found: string[] = [];
  for (const k of known) {
    const dist = editDistance(input, k);
    if (dist < best) [best, found] = [dist, [k]];
    else if (dist === best) found.push(k);
  }
  return found.slice(0, max);
}

const didYouMean = (near: string[]) =>
  near.length === 0
    ? ''
    : `: did you mean ${near.slice(0, -1).join(', ')}${near.length > 1 ? ' or ' : ''}${near.at(-1)}?`;

function listed(names: string[], max = 15): string {
  return names.length <= max
    ? names.join(', ')
    : `${names.slice(0, max).join(', ')}, ... (${names.length} in all)`;
}

type Alternative = {
  gpu?: { type?: string[] };
  placement?: { providers?: { allow?: string[]; deny?: string[] } };
};

/** The base of the spec and each anyOf/ordered alternative, with the path each is at. */
function alternatives(spec: PlacementSpec): Array<[string, Alternative]> {
  const out: Array<[string, Alternative]> = [['', { gpu: spec.resources.gpu, placement: spec.placement }]];
  const which = spec.resources.ordered ? 'ordered' : spec.resources.anyOf ? 'anyOf' : undefined;
  (which ? (spec.resources[which] ?? []) : []).forEach((alt, i) =>
    out.push([`resources.${which}[${i}].`, alt as Alternative]),
  );
  return out;
}

/**
 * Every GPU model and provider the spec names that the installation does not know, with the
 * nearest known names. `gpuTypesComplete: false` (a provider could not list its offers, so a
 * pool's custom GPU may be missing) leaves GPU models unchecked.
 */
export function unknownNames(spec: PlacementSpec, known: KnownNames, gpuTypesComplete = true): SpecProblem[] {
  const problems: SpecProblem[] = [];
  for (const [prefix, alt] of alternatives(spec)) {
    const gpuPath = prefix ? `${prefix}gpu.type` : 'resources.gpu.type';
    if (gpuTypesComplete && known.gpuTypes.length > 0) {
      for (const t of alt.gpu?.type ?? []) {
        if (known.gpuTypes.some((k) => gpuTypeMatches(new Set([t.toLowerCase()]), k))) continue;
        const near = nearestNames(t, known.gpuTypes);
        problems.push({
          path: gpuPath,
          message: `unknown GPU "${t}"${near.length ? didYouMean(near) : `: known GPUs are ${listed(known.gpuTypes)}`}`,
        });
      }
    }
    const providers = alt.placement?.providers;
    for (const [kind, list] of [
      ['allow', providers?.allow],
      ['deny', providers?.deny],
    ] as const) {
      for (const p of list ?? []) {
        const re = globToRegExp(p);
        if (known.providers.some((k) => re.test(k))) continue;
        const near = nearestNames(p, known.providers);
        problems.push({
          path: `${prefix || ''}placement.providers${kind === 'deny' ? '.deny' : ''}`,
          message: `unknown provider "${p}"${near.length ? didYouMean(near) : `: known providers are ${known.providers.join(', ')}`}`,
        });
      }
    }
  }
  return problems;
}

/**
 * Zone patterns of the spec that match no zone of `offers`, by id or by name: a warning, not an
 * error (a zone may simply have no offer), that says how AWS zones are named.
 */
export function unmatchedZones(spec: PlacementSpec, offers: Offer[]): string[] {
  const zones = new Set<string>();
  for (const o of offers) {
    zones.add(o.zone);
    if (o.zoneName) zones.add(o.zoneName);
  }
  const patterns = new Set<string>();
  const add = (z: { allow?: string[]; deny?: string[] } | undefined) =>
    [...(z?.allow ?? []), ...(z?.deny ?? [])].forEach((p) => patterns.add(p));
  add(spec.placement.zones);
  for (const alt of spec.resources.anyOf ?? spec.resources.ordered ?? []) add(alt.placement?.zones);
  const out: string[] = [];
  for (const p of patterns) {
    const re = globToRegExp(p);
    if ([...zones].some((z) => re.test(z))) continue;
    out.push(
      `zone "${p}" matches no zone of any offer` +
        (/^[a-z]{2}-[a-z]+-\d[a-z]$/.test(p)
          ? ' (AWS catalogs name zones by AZ id, such as use1-az1; a zone name like this one is known only in the regions of a configured aws provider, whose account maps names to ids)'
          : ''),
    );
  }
  return out;
}

/**
 * A migration target with its zone given by name (`aws/us-east-1/us-east-1b`) rewritten to the
 * zone's id (`aws/us-east-1/use1-az1`), which the workflow's locations use; unchanged when the
 * zone is an id already or no offer names it.
 */
export function targetWithZoneId(target: string, offers: Offer[]): string {
  const [provider, region, zone, ...rest] = target.split('/');
  if (!zone || rest.length) return target;
  const o = offers.find((x) => x.provider === provider && x.region === region && x.zoneName === zone);
  return o ? `${provider}/${region}/${o.zone}` : target;
}
