/**
 * Catalog rows -> offers. Pure: no I/O, no clock; the same rows give the same offers in the same
 * order and the same anomalies. Nothing here throws for bad data: what looks wrong is left out
 * and described in `anomalies`.
 *
 * Two conventions, both from SkyPilot's catalogs:
 * - a machine row that names its accelerators (AWS: `p4d.24xlarge,A100,8.0,...`), or that has no
 *   GPUs at all, is priced whole: one on-demand offer from Price and one spot offer from SpotPrice;
 * - a machine row with empty accelerator columns whose type is in the GCP shape table
 *   (./gcp-shapes.ts) is a host-only price: its offers add the accelerator row (empty
 *   InstanceType) for the same zone, GPU model and GPU count. The Price of an accelerator row is
 *   for all of its AcceleratorCount GPUs, so it is added as it is (never multiplied).
 *
 * Rules (each broken one is an anomaly line, never an exception):
 * - several machine rows for the same instance type and zone are merged into one: a field that is
 *   empty in some rows takes the value of the others, conflicting prices take the highest
 *   (never underestimate a cost), other conflicting fields take the first row's value;
 * - no Price: no on-demand offer; no SpotPrice: no spot offer (not an anomaly: many types have
 *   none); a price of zero or below is dropped; a spot price above the on-demand price is dropped;
 * - a GCP host is paired only when both its row and the accelerator row have that price (on-demand
 *   and spot separately); a host whose GPUs have no accelerator row in its zone gives no offer
 *   (one anomaly per machine family and zone); N1 hosts also give a CPU-only offer;
 * - a machine row without vCPUs or MemoryGiB gives no offer.
 */
import type { Offer } from '../common/offer';
import {
  GCP_BUILT_IN_GPUS,
  gcpGpu,
  N1_ATTACHABLE,
  gcpShape,
  isGcpGpuFamily,
  machineFamily,
} from './gcp-shapes';
import { gpuMemoryGbFromGpuInfo, type CatalogRow } from './skypilot-csv';

export interface OffersFromRows {
  offers: Offer[];
  anomalies: string[];
}

/** One machine or accelerator after duplicate rows are merged. */
interface Merged {
  lines: number[];
  instanceType?: string;
  acceleratorName?: string;
  acceleratorCount?: number;
  vcpus?: number;
  memoryGib?: number;
  gpuMemoryGb?: number;
  price?: number;
  spotPrice?: number;
  region: string;
  zone: string;
}

interface Accelerator {
  m: Merged;
  price?: number;
  spot?: number;
  used: boolean;
}

/** Sums of two prices, without float noise: rounded to a millionth of a dollar. */
const add = (a: number, b: number) => Math.round((a + b) * 1e6) / 1e6;

const linesText = (lines: number[]) =>
  lines.length === 1 ? `line ${lines[0]}` : `lines ${lines.join(', ')}`;

export function offersFromRows(provider: string, rows: readonly CatalogRow[]): OffersFromRows {
  const offers: Offer[] = [];
  const anomalies: string[] = [];
  const note = (text: string) => anomalies.push(`${provider}: ${text}`);

  // --- group and merge -------------------------------------------------------------------------
  const machineGroups = new Map<string, CatalogRow[]>();
  const acceleratorGroups = new Map<string, CatalogRow[]>();
  for (const row of rows) {
    const zone = row.zone ?? row.region;
    if (row.instanceType) {
      push(machineGroups, `${row.instanceType}|${row.region}|${zone}`, row);
    } else if (row.acceleratorName) {
      push(acceleratorGroups, `${row.acceleratorName}|${row.acceleratorCount}|${row.region}|${zone}`, row);
    }
  }
  const machines = [...machineGroups.values()].map((g) => merge(g, note));

  // --- accelerator rows (GCP), by zone, model and count ----------------------------------------
  const accelerators = new Map<string, Accelerator>();
  const acceleratorKey = (zone: string, gpu: string, count: number) => `${zone}|${gpu}|${count}`;
  for (const group of acceleratorGroups.values()) {
    const m = merge(group, note);
    const label = `accelerator ${m.acceleratorName} x${m.acceleratorCount ?? '?'} in ${m.zone} (${linesText(m.lines)})`;
    if (m.acceleratorCount === undefined || !(m.acceleratorCount > 0)) {
      note(`${label}: AcceleratorCount is not a positive number; row ignored`);
      continue;
    }
    const { price, spot } = cleanPrices(
      m,
      label,
      'no on-demand offers with these GPUs',
      'no spot offers with these GPUs',
      note,
    );
    accelerators.set(acceleratorKey(m.zone, m.acceleratorName ?? '', m.acceleratorCount), {
      m,
      price,
      spot,
      used: false,
    });
  }

  // --- machines --------------------------------------------------------------------------------
  const emit = (
    base: Omit<Offer, 'spot' | 'pricePerHour'>,
    price: number | undefined,
    spot: number | undefined,
    label: string,
  ) => {
    if (price !== undefined) offers.push({ ...base, spot: false, pricePerHour: price });
    if (spot === undefined) return;
    if (price !== undefined && spot > price) {
      note(`${label}: spot price ${spot} above on-demand price ${price}; no spot offer`);
      return;
    }
    offers.push({ ...base, spot: true, pricePerHour: spot });
  };
  const hostBase = (m: Merged, vcpus: number, memoryGb: number) => ({
    provider,
    region: m.region,
    zone: m.zone,
    instanceType: m.instanceType ?? '',
    vcpus,
    memoryGb,
  });
  /** family|zone -> GPU (model x count) a built-in host needed but the zone has no row for. */
  const missingGpus = new Map<string, Set<string>>();
  /** Machine types of GPU families the shape table does not know -> rows. */
  const unknownGpuHosts = new Map<string, number[]>();
  const memoryMismatch = new Set<string>();

  const pairedGpuMemory = (gpu: string, acc: Accelerator): number | undefined => {
    const fromInfo = acc.m.gpuMemoryGb;
    const known = gcpGpu(gpu)?.memoryGb;
    if (known !== undefined && fromInfo !== undefined && known !== fromInfo && !memoryMismatch.has(gpu)) {
      memoryMismatch.add(gpu);
      note(
        `accelerator ${gpu}: GpuInfo says ${fromInfo} GB per GPU (${linesText(acc.m.lines)}), the GCP table ${known} GB; using ${known}`,
      );
    }
    return known ?? fromInfo;
  };

  const pair = (
    m: Merged,
    vcpus: number,
    memoryGb: number,
    host: { price?: number; spot?: number },
    gpu: string,
    count: number,
  ) => {
    const acc = accelerators.get(acceleratorKey(m.zone, gpu, count));
    if (!acc) return false;
    acc.used = true;
    const gpuMemoryGb = pairedGpuMemory(gpu, acc);
    const base = {
      ...hostBase(m, vcpus, memoryGb),
      gpuType: gpu,
      gpuCount: count,
      ...(gpuMemoryGb !== undefined ? { gpuMemoryGb } : {}),
    };
    const price =
      host.price !== undefined && acc.price !== undefined ? add(host.price, acc.price) : undefined;
    const spot = host.spot !== undefined && acc.spot !== undefined ? add(host.spot, acc.spot) : undefined;
    emit(
      base,
      price,
      spot,
      `${m.instanceType} + ${gpu} x${count} in ${m.zone} (${linesText([...m.lines, ...acc.m.lines])})`,
    );
    return true;
  };

  for (const m of machines) {
    const type = m.instanceType ?? '';
    const label = `${type} in ${m.zone} (${linesText(m.lines)})`;
    if (m.vcpus === undefined || m.memoryGib === undefined) {
      note(`${label}: no ${m.vcpus === undefined ? 'vCPUs' : 'MemoryGiB'}; no offer`);
      continue;
    }
    const { vcpus, memoryGib } = m;

    if (m.acceleratorName !== undefined) {
      // Priced whole (AWS).
      if (m.acceleratorCount === undefined || !(m.acceleratorCount > 0)) {
        note(`${label}: AcceleratorName ${m.acceleratorName} without a positive AcceleratorCount; no offer`);
        continue;
      }
      const { price, spot } = cleanPrices(m, label, 'no on-demand offer', 'no spot offer', note);
      const base = {
        ...hostBase(m, vcpus, memoryGib),
        gpuType: m.acceleratorName,
        gpuCount: m.acceleratorCount,
        ...(m.gpuMemoryGb !== undefined ? { gpuMemoryGb: m.gpuMemoryGb } : {}),
      };
      emit(base, price, spot, label);
      continue;
    }

    const shape = gcpShape(type);
    if (!shape) {
      if (isGcpGpuFamily(type)) {
        push(unknownGpuHosts, type, ...m.lines);
        continue;
      }
      const { price, spot } = cleanPrices(m, label, 'no on-demand offer', 'no spot offer', note);
      emit({ ...hostBase(m, vcpus, memoryGib), gpuCount: 0 }, price, spot, label);
      continue;
    }

    const host = cleanPrices(
      m,
      label,
      'no on-demand offers for this host',
      'no spot offers for this host',
      note,
    );
    if (shape.kind === 'built-in') {
      if (!pair(m, vcpus, memoryGib, host, shape.gpu, shape.count)) {
        const key = `${machineFamily(type)} in ${m.zone}`;
        const set = missingGpus.get(key) ?? new Set<string>();
        set.add(`${shape.gpu} x${shape.count}`);
        missingGpus.set(key, set);
      }
    } else {
      emit({ ...hostBase(m, vcpus, memoryGib), gpuCount: 0 }, host.price, host.spot, label);
      for (const option of shape.options) {
        if (vcpus <= option.maxVcpus) pair(m, vcpus, memoryGib, host, option.gpu, option.count);
      }
    }
  }

  // --- what could not be paired ----------------------------------------------------------------
  for (const [where, gpus] of missingGpus) {
    note(`${where}: no accelerator row for ${[...gpus].join(', ')}; those machine types give no offer there`);
  }
  for (const [type, lines] of unknownGpuHosts) {
    note(
      `${type}: a GPU machine type the GCP shape table does not know (its GPUs cannot be priced); ` +
        `no offer from ${lines.length} row${lines.length > 1 ? 's' : ''}`,
    );
  }
  const shapes = new Set<string>([
    ...Object.values(GCP_BUILT_IN_GPUS).map((s) => `${s.gpu} x${s.count}`),
    ...N1_ATTACHABLE.map((o) => `${o.gpu} x${o.count}`),
  ]);
  const unknownShape = new Map<string, number>();
  const unusedInZone = new Map<string, { used: boolean; rows: number }>();
  for (const acc of accelerators.values()) {
    const what = `${acc.m.acceleratorName} x${acc.m.acceleratorCount}`;
    if (!shapes.has(what)) {
      unknownShape.set(what, (unknownShape.get(what) ?? 0) + 1);
      continue;
    }
    const key = `${acc.m.acceleratorName} in ${acc.m.zone}`;
    const entry = unusedInZone.get(key) ?? { used: false, rows: 0 };
    entry.used ||= acc.used;
    entry.rows++;
    unusedInZone.set(key, entry);
  }
  for (const [what, n] of unknownShape) {
    note(
      `accelerator ${what}: no machine type in the GCP shape table takes it; ${n} row${n > 1 ? 's' : ''} ignored`,
    );
  }
  for (const [key, { used, rows: n }] of unusedInZone) {
    if (!used)
      note(`accelerator ${key}: no machine row in that zone takes it; ${n} row${n > 1 ? 's' : ''} unused`);
  }

  return { offers, anomalies };
}

function push<K, V>(map: Map<K, V[]>, key: K, ...values: V[]) {
  const list = map.get(key);
  if (list) list.push(...values);
  else map.set(key, [...values]);
}

/** Prices usable for offers, with every rule broken reported. */
function cleanPrices(
  m: Merged,
  label: string,
  noOnDemand: string,
  noSpot: string,
  note: (text: string) => void,
): { price?: number; spot?: number } {
  let price = m.price;
  let spot = m.spotPrice;
  if (price === undefined) {
    note(`${label}: no on-demand Price; ${noOnDemand}`);
  } else if (!(price > 0)) {
    note(`${label}: on-demand Price ${price} is not positive; ${noOnDemand}`);
    price = undefined;
  }
  if (spot !== undefined && !(spot > 0)) {
    note(`${label}: SpotPrice ${spot} is not positive; ${noSpot}`);
    spot = undefined;
  }
  if (price !== undefined && spot !== undefined && spot > price) {
    note(`${label}: SpotPrice ${spot} above on-demand Price ${price}; ${noSpot}`);
    spot = undefined;
  }
  return { price, spot };
}

type Field =
  'acceleratorName' | 'acceleratorCount' | 'vcpus' | 'memoryGib' | 'gpuMemoryGb' | 'price' | 'spotPrice';

const FIELD_NAMES: Record<Field, string> = {
  acceleratorName: 'AcceleratorName',
  acceleratorCount: 'AcceleratorCount',
  vcpus: 'vCPUs',
  memoryGib: 'MemoryGiB',
  gpuMemoryGb: 'GPU memory (GB, from GpuInfo)',
  price: 'Price',
  spotPrice: 'SpotPrice',
};

/**
 * Rows for the same key (instance type or accelerator, region, zone) -> one. A field empty in
 * some rows takes the others' value; conflicting prices take the highest, other conflicting
 * fields the first row's value. More than one row is an anomaly saying what was chosen.
 */
function merge(group: CatalogRow[], note: (text: string) => void): Merged {
  const first = group[0] as CatalogRow;
  const withMemory = group.map((r) => ({
    ...r,
    gpuMemoryGb: gpuMemoryGbFromGpuInfo(r.gpuInfo, r.acceleratorCount),
  }));
  const lines = group.map((r) => r.line);
  const m: Merged = {
    lines,
    instanceType: first.instanceType,
    region: first.region,
    zone: first.zone ?? first.region,
  };
  const notes: string[] = [];
  for (const field of Object.keys(FIELD_NAMES) as Field[]) {
    const values = withMemory.map((r) => r[field]);
    const defined = values.filter((v): v is NonNullable<typeof v> => v !== undefined);
    const distinct = [...new Set(defined)];
    if (distinct.length === 0) continue;
    const isPrice = field === 'price' || field === 'spotPrice';
    const chosen = isPrice ? Math.max(...(distinct as number[])) : distinct[0];
    (m as unknown as Record<string, unknown>)[field] = chosen;
    if (group.length === 1 || (distinct.length === 1 && defined.length === values.length)) continue;
    const each = values.map((v, k) => `${v === undefined ? 'empty' : v} on line ${lines[k]}`).join(', ');
    notes.push(`${FIELD_NAMES[field]} ${each}: kept ${chosen}`);
  }
  if (group.length > 1) {
    const infos = new Set(group.map((r) => r.gpuInfo ?? ''));
    if (infos.size > 1) notes.push('GpuInfo text differs');
    const what =
      first.instanceType ?? `accelerator ${first.acceleratorName} x${first.acceleratorCount ?? '?'}`;
    note(
      `${what} in ${m.zone}: ${group.length} rows for the same zone (${linesText(lines)}) merged into one` +
        (notes.length > 0 ? `; ${notes.join('; ')}` : ' (identical)'),
    );
  }
  return m;
}
