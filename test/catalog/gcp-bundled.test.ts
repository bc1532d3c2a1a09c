/** GCP host + accelerator pricing checked by hand against rows of the bundled data/catalog/gcp.csv. */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { catalogFromCsv } from '../../src/catalog/catalog';
import { GCP_BUILT_IN_GPUS, gcpShape } from '../../src/catalog/gcp-shapes';
import type { Offer } from '../../src/common/offer';

const text = readFileSync(path.join(__dirname, '..', '..', 'data', 'catalog', 'gcp.csv'), 'utf8');
const { offers, anomalies, rows } = catalogFromCsv('gcp', text);

function priceOf(instanceType: string, zone: string, spot: boolean, gpu?: [string, number]): number {
  const found = offers.filter(
    (o) =>
      o.instanceType === instanceType &&
      o.zone === zone &&
      o.spot === spot &&
      (gpu ? o.gpuType === gpu[0] && o.gpuCount === gpu[1] : o.gpuCount === 0),
  );
  expect(found).toHaveLength(1);
  return (found[0] as Offer).pricePerHour;
}

const gpusOn = (instanceType: string, zone: string) =>
  offers
    .filter((o) => o.instanceType === instanceType && o.zone === zone && !o.spot && o.gpuCount > 0)
    .map((o) => `${o.gpuType} x${o.gpuCount}`);

describe('bundled GCP catalog: host + accelerator prices', () => {
  it('reads every data row of the file', () => {
    expect(rows).toBe(792);
  });

  it('prices a2-highgpu-8g in us-central1-a as 5.91582 + 23.47126 on-demand and 2.36604 + 9.1776 spot', () => {
    expect(priceOf('a2-highgpu-8g', 'us-central1-a', false, ['A100', 8])).toBeCloseTo(29.38708, 9);
    expect(priceOf('a2-highgpu-8g', 'us-central1-a', true, ['A100', 8])).toBeCloseTo(11.54364, 9);
  });

  it('prices a2-highgpu-1g in us-central1-a as 0.73948 + 2.93391 (spot 0.29576 + 1.1472)', () => {
    expect(priceOf('a2-highgpu-1g', 'us-central1-a', false, ['A100', 1])).toBeCloseTo(3.67339, 9);
    expect(priceOf('a2-highgpu-1g', 'us-central1-a', true, ['A100', 1])).toBeCloseTo(1.44296, 9);
  });

  it('keeps the regional H100 gap: a3-highgpu-8g is 43.06615 in us-central1-a but 87.83247 in us-east4-a', () => {
    expect(priceOf('a3-highgpu-8g', 'us-central1-a', false, ['H100', 8])).toBeCloseTo(9.46006 + 33.60609, 9);
    expect(priceOf('a3-highgpu-8g', 'us-east4-a', false, ['H100', 8])).toBeCloseTo(9.46006 + 78.37241, 9);
  });

  it('pairs g2 machine types with their L4 count (g2-standard-4: 0.14679 + 0.56004; -24: 0.88075 + 1.12008)', () => {
    expect(gpusOn('g2-standard-4', 'us-central1-a')).toEqual(['L4 x1']);
    expect(gpusOn('g2-standard-24', 'us-central1-a')).toEqual(['L4 x2']);
    expect(gpusOn('g2-standard-48', 'us-central1-a')).toEqual(['L4 x4']);
    expect(gpusOn('g2-standard-96', 'us-central1-a')).toEqual(['L4 x8']);
    expect(priceOf('g2-standard-4', 'us-central1-a', false, ['L4', 1])).toBeCloseTo(0.70683, 9);
    expect(priceOf('g2-standard-24', 'us-central1-a', false, ['L4', 2])).toBeCloseTo(2.00083, 9);
    expect(priceOf('g2-standard-24', 'us-central1-a', true, ['L4', 2])).toBeCloseTo(0.35242 + 0.4462, 9);
  });

  it('prices n1-standard-4 + T4 x1 in us-central1-a as 0.19 + 0.35', () => {
    expect(priceOf('n1-standard-4', 'us-central1-a', false, ['T4', 1])).toBeCloseTo(0.54, 9);
    expect(priceOf('n1-standard-4', 'us-central1-a', false)).toBeCloseTo(0.19, 9);
  });

  it('applies the n1 vCPU limits: n1-standard-64 gets T4 x4, V100 x8 and P100 x4 but not T4 x1 or x2', () => {
    // us-central1-a has T4 and V100 rows but no P100 rows.
    expect(gpusOn('n1-standard-64', 'us-central1-a')).toEqual(['T4 x4', 'V100 x8']);
    expect(gpusOn('n1-standard-64', 'us-central1-c')).toEqual(['T4 x4', 'V100 x8', 'P100 x4']);
    expect(priceOf('n1-standard-64', 'us-central1-a', false, ['T4', 4])).toBeCloseTo(3.03998 + 1.4, 9);
  });

  it('applies the V100 limits: n1-standard-8 takes V100 x1, n1-standard-16 does not but takes V100 x2', () => {
    expect(gpusOn('n1-standard-8', 'us-central1-a')).toEqual(
      expect.arrayContaining(['V100 x1', 'V100 x2', 'V100 x4', 'V100 x8']),
    );
    expect(gpusOn('n1-standard-16', 'us-central1-a')).not.toContain('V100 x1');
    expect(gpusOn('n1-standard-16', 'us-central1-a')).toContain('V100 x2');
    expect(priceOf('n1-standard-8', 'us-central1-a', false, ['V100', 1])).toBeCloseTo(0.38 + 2.48, 9);
  });

  it('never offers a built-in GPU machine type without its GPUs, and every n1 GPU offer respects the vCPU limits', () => {
    for (const o of offers) {
      const shape = gcpShape(o.instanceType);
      expect(shape).toBeDefined();
      if (shape?.kind === 'built-in') {
        expect([o.instanceType, o.gpuType, o.gpuCount]).toEqual([o.instanceType, shape.gpu, shape.count]);
      } else if (shape && o.gpuCount > 0) {
        const option = shape.options.find((x) => x.gpu === o.gpuType && x.count === o.gpuCount);
        expect(option).toBeDefined();
        expect(o.vcpus).toBeLessThanOrEqual(option?.maxVcpus ?? -1);
      }
    }
  });

  it('has offers for every built-in machine type and zone in the file (every one finds its GPU row)', () => {
    const hostKeys = new Set(
      text
        .split('\n')
        .filter((l) => /^(a2|a3|g2)-/.test(l))
        .map((l) => {
          const f = l.split(',');
          return `${f[0]}|${f[7]}`;
        }),
    );
    const offered = new Set(
      offers.filter((o) => o.instanceType in GCP_BUILT_IN_GPUS).map((o) => `${o.instanceType}|${o.zone}`),
    );
    expect(offered).toEqual(hostKeys);
    expect(hostKeys.size).toBe(32 + 16 + 44 + 136);
  });

  it('gives n1 hosts in asia-east1-b (no attachable GPU rows there) only CPU-only offers', () => {
    const there = offers.filter((o) => o.zone === 'asia-east1-b' && o.instanceType.startsWith('n1-'));
    expect(there.length).toBeGreaterThan(0);
    expect(there.every((o) => o.gpuCount === 0 && o.gpuType === undefined)).toBe(true);
  });

  it('uses the GCP GPU memory table (A100 40, A100-80GB 80, H100 80, L4 24, T4/V100/P100 16)', () => {
    const memory = new Map(offers.filter((o) => o.gpuType).map((o) => [o.gpuType, o.gpuMemoryGb]));
    expect(Object.fromEntries(memory)).toEqual({
      A100: 40,
      'A100-80GB': 80,
      H100: 80,
      L4: 24,
      T4: 16,
      V100: 16,
      P100: 16,
    });
  });

  it('finds nothing odd in the bundled GCP file', () => {
    expect(anomalies).toEqual([]);
  });
});
