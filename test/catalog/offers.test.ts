import { offersFromRows } from '../../src/catalog/offers';
import { parseSkypilotCsv } from '../../src/catalog/skypilot-csv';
import type { Offer } from '../../src/common/offer';

const AWS_HEADER =
  'InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone';
const GCP_HEADER =
  'InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice';

const gpuInfo = (name: string, count: number, mib: number) =>
  `"{'Gpus': [{'Name': '${name}', 'Manufacturer': 'NVIDIA', 'Count': ${count}, 'MemoryInfo': {'SizeInMiB': ${mib}}}], 'TotalGpuMemoryInMiB': ${count * mib}}"`;
const P4D = gpuInfo('A100', 8, 40960);

/** Offers and anomalies of CSV lines under a header (line 1 is the header). */
function offersOf(provider: string, header: string, lines: string[]) {
  const { rows, problems } = parseSkypilotCsv([header, ...lines].join('\n'), provider);
  expect(problems).toEqual([]);
  return offersFromRows(provider, rows);
}
const aws = (lines: string[]) => offersOf('aws', AWS_HEADER, lines);
const gcp = (lines: string[]) => offersOf('gcp', GCP_HEADER, lines);

const find = (offers: Offer[], spot: boolean, more: Partial<Offer> = {}) =>
  offers.filter((o) => o.spot === spot && Object.entries(more).every(([k, v]) => o[k as keyof Offer] === v));

/** The on-demand and the spot offer of one machine at provider/region/zone, in that order. */
function bothPrices(
  where: string,
  machine: Omit<Offer, 'provider' | 'region' | 'zone' | 'spot' | 'pricePerHour'>,
  onDemand: number,
  spot: number,
): Offer[] {
  const [provider = '', region = '', zone = ''] = where.split('/');
  return [
    { provider, region, zone, ...machine, spot: false, pricePerHour: onDemand },
    { provider, region, zone, ...machine, spot: true, pricePerHour: spot },
  ];
}

describe('offersFromRows: machine rows priced whole (AWS)', () => {
  it('gives one on-demand and one spot offer for a row with both prices', () => {
    const { offers, anomalies } = aws([
      `p4d.24xlarge,A100,8.0,96.0,1152.0,${P4D},32.7726,10.5438,us-east-1,use1-az2`,
    ]);
    const machine = { instanceType: 'p4d.24xlarge', vcpus: 96, memoryGb: 1152 };
    const gpus = { gpuType: 'A100', gpuCount: 8, gpuMemoryGb: 40 };
    expect(offers).toEqual(bothPrices('aws/us-east-1/use1-az2', { ...machine, ...gpus }, 32.7726, 10.5438));
    expect(anomalies).toEqual([]);
  });

  it('gives only the on-demand offer when SpotPrice is empty, without an anomaly', () => {
    const { offers, anomalies } = aws([
      `g6.xlarge,L4,1.0,4.0,16.0,${gpuInfo('L4', 1, 22888)},0.8048,,us-west-2,usw2-az2`,
    ]);
    expect(offers).toHaveLength(1);
    expect(offers[0]).toMatchObject({
      spot: false,
      pricePerHour: 0.8048,
      gpuType: 'L4',
      gpuCount: 1,
      gpuMemoryGb: 22,
    });
    expect(anomalies).toEqual([]);
  });

  it('leaves GPU memory unknown when GpuInfo has no memory figure', () => {
    const { offers } = aws([`x.large,T4,1.0,4.0,16.0,,1.0,0.5,us-east-1,use1-az1`]);
    expect(offers[0]).not.toHaveProperty('gpuMemoryGb');
    expect(offers[0]?.gpuType).toBe('T4');
  });

  it('makes a row without accelerators a CPU-only offer: no GPU type, zero GPUs', () => {
    const { offers } = aws(['m5.large,,,2.0,8.0,,0.096,0.04,us-east-1,use1-az1']);
    expect(offers).toHaveLength(2);
    for (const o of offers) {
      expect(o.gpuCount).toBe(0);
      expect(o.gpuType).toBeUndefined();
    }
  });

  it('uses the region as the zone when AvailabilityZone is empty', () => {
    const { offers } = aws(['m5.large,,,2.0,8.0,,0.096,,us-east-1,']);
    expect(offers[0]).toMatchObject({ region: 'us-east-1', zone: 'us-east-1' });
  });

  it('merges duplicate rows for one type and zone into one pair of offers and says so', () => {
    const { offers, anomalies } = aws([
      `p4de.24xlarge,A100-80GB,8.0,96.0,1152.0,${gpuInfo('A100', 8, 81920)},40.96575,7.807400,us-east-1,use1-az4`,
      `p4de.24xlarge,A100-80GB,8.0,96.0,1152.0,${gpuInfo('A100-80GB', 8, 81920)},40.96575,,us-east-1,use1-az4`,
      `p4de.24xlarge,A100-80GB,8.0,96.0,1152.0,${gpuInfo('A100-80GB', 8, 81920)},40.96575,,us-east-1,use1-az5`,
    ]);
    expect(find(offers, false, { zone: 'use1-az4' })).toHaveLength(1);
    expect(find(offers, true, { zone: 'use1-az4' })).toEqual([
      expect.objectContaining({ pricePerHour: 7.8074, gpuType: 'A100-80GB', gpuCount: 8, gpuMemoryGb: 80 }),
    ]);
    expect(find(offers, false, { zone: 'use1-az5' })).toHaveLength(1);
    expect(offers).toHaveLength(3);
    expect(anomalies).toEqual([
      'aws: p4de.24xlarge in use1-az4: 2 rows for the same zone (lines 2, 3) merged into one; ' +
        'SpotPrice 7.8074 on line 2, empty on line 3: kept 7.8074; GpuInfo text differs',
    ]);
  });

  it('merges conflicting duplicate prices to the highest, whatever the row order', () => {
    const a = 'x.large,T4,1.0,4.0,16.0,,1.2,0.3,us-east-1,use1-az1';
    const b = 'x.large,T4,1.0,4.0,16.0,,1.5,0.4,us-east-1,use1-az1';
    const one = aws([a, b]);
    const two = aws([b, a]);
    expect(one.offers.map((o) => o.pricePerHour)).toEqual([1.5, 0.4]);
    expect(two.offers).toEqual(one.offers);
    expect(one.anomalies[0]).toMatch(
      /Price 1.2 on line 2, 1.5 on line 3: kept 1.5; SpotPrice 0.3 on line 2, 0.4 on line 3: kept 0.4/,
    );
  });

  it('reports identical duplicate rows as merged too', () => {
    const row = 'x.large,T4,1.0,4.0,16.0,,1.2,0.3,us-east-1,use1-az1';
    const { offers, anomalies } = aws([row, row]);
    expect(offers).toHaveLength(2);
    expect(anomalies).toEqual([
      'aws: x.large in use1-az1: 2 rows for the same zone (lines 2, 3) merged into one (identical)',
    ]);
  });

  it('gives the same offers and anomalies for the same rows every time', () => {
    const lines = [
      `p4d.24xlarge,A100,8.0,96.0,1152.0,${P4D},32.7726,10.5438,us-east-1,use1-az2`,
      'x.large,T4,1.0,4.0,16.0,,1.2,0.3,us-east-1,use1-az1',
      'x.large,T4,1.0,4.0,16.0,,1.5,,us-east-1,use1-az1',
    ];
    expect(aws(lines)).toEqual(aws(lines));
  });
});

describe('offersFromRows: anomalies', () => {
  it('drops a spot price above the on-demand price and keeps the on-demand offer', () => {
    const { offers, anomalies } = aws(['x.large,T4,1.0,4.0,16.0,,1.0,1.2,us-east-1,use1-az1']);
    expect(offers).toEqual([expect.objectContaining({ spot: false, pricePerHour: 1 })]);
    expect(anomalies).toEqual([
      'aws: x.large in use1-az1 (line 2): SpotPrice 1.2 above on-demand Price 1; no spot offer',
    ]);
  });

  it('keeps a spot price equal to the on-demand price', () => {
    const { offers, anomalies } = aws([
      'g5.48xlarge,A10G,8.0,192.0,768.0,,20.3681,20.368100,eu-central-1,euc1-az2',
    ]);
    expect(offers.map((o) => [o.spot, o.pricePerHour])).toEqual([
      [false, 20.3681],
      [true, 20.3681],
    ]);
    expect(anomalies).toEqual([]);
  });

  it('gives no on-demand offer without a Price, but keeps the spot offer', () => {
    const { offers, anomalies } = aws([
      `p5e.48xlarge,H200,8.0,192.0,2048.0,${gpuInfo('H200', 8, 144384)},,16.389500,us-east-2,use2-az1`,
    ]);
    expect(offers).toEqual([
      expect.objectContaining({ spot: true, pricePerHour: 16.3895, gpuType: 'H200', gpuMemoryGb: 141 }),
    ]);
    expect(anomalies).toEqual([
      'aws: p5e.48xlarge in use2-az1 (line 2): no on-demand Price; no on-demand offer',
    ]);
  });

  it('drops zero and negative prices', () => {
    const { offers, anomalies } = aws([
      'zero.large,T4,1.0,4.0,16.0,,0,0.3,us-east-1,use1-az1',
      'neg.large,T4,1.0,4.0,16.0,,1.0,-0.1,us-east-1,use1-az1',
      'zspot.large,T4,1.0,4.0,16.0,,1.0,0.0,us-east-1,use1-az1',
    ]);
    expect(offers.map((o) => [o.instanceType, o.spot, o.pricePerHour])).toEqual([
      ['zero.large', true, 0.3],
      ['neg.large', false, 1],
      ['zspot.large', false, 1],
    ]);
    expect(anomalies).toEqual([
      'aws: zero.large in use1-az1 (line 2): on-demand Price 0 is not positive; no on-demand offer',
      'aws: neg.large in use1-az1 (line 3): SpotPrice -0.1 is not positive; no spot offer',
      'aws: zspot.large in use1-az1 (line 4): SpotPrice 0 is not positive; no spot offer',
    ]);
  });

  it('gives no offer for a machine row without vCPUs or memory', () => {
    const { offers, anomalies } = aws([
      'x.large,T4,1.0,,16.0,,1.0,0.5,us-east-1,use1-az1',
      'y.large,T4,1.0,4.0,,,1.0,0.5,us-east-1,use1-az1',
    ]);
    expect(offers).toEqual([]);
    expect(anomalies).toEqual([
      'aws: x.large in use1-az1 (line 2): no vCPUs; no offer',
      'aws: y.large in use1-az1 (line 3): no MemoryGiB; no offer',
    ]);
  });

  it('gives no offer for an AcceleratorName without a positive count', () => {
    const { offers, anomalies } = aws(['x.large,T4,,4.0,16.0,,1.0,0.5,us-east-1,use1-az1']);
    expect(offers).toEqual([]);
    expect(anomalies).toEqual([
      'aws: x.large in use1-az1 (line 2): AcceleratorName T4 without a positive AcceleratorCount; no offer',
    ]);
  });
});

describe('offersFromRows: GCP hosts + accelerator rows', () => {
  const A100 = "{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]}";

  it('prices a built-in GPU host as host row + accelerator row of that count, on-demand and spot', () => {
    const { offers, anomalies } = gcp([
      'a2-highgpu-8g,96.0,680.0,,,,us-central1,us-central1-a,5.91582,2.36604',
      `,,,A100,1,${A100},us-central1,us-central1-a,2.93391,1.1472`,
      `,,,A100,8,${A100},us-central1,us-central1-a,23.47126,9.1776`,
    ]);
    const machine = { instanceType: 'a2-highgpu-8g', vcpus: 96, memoryGb: 680 };
    const gpus = { gpuType: 'A100', gpuCount: 8, gpuMemoryGb: 40 };
    expect(offers).toEqual(
      bothPrices('gcp/us-central1/us-central1-a', { ...machine, ...gpus }, 29.38708, 11.54364),
    );
    // The count-1 row is not used by an 8-GPU host but the zone's A100 rows are used, so no anomaly.
    expect(anomalies).toEqual([]);
  });

  it('gives no spot offer when the host or the accelerator row has no spot price', () => {
    const noHostSpot = gcp([
      'a2-highgpu-1g,12.0,85.0,,,,us-central1,us-central1-a,0.73948,',
      `,,,A100,1,${A100},us-central1,us-central1-a,2.93391,1.1472`,
    ]);
    expect(noHostSpot.offers.map((o) => [o.spot, o.pricePerHour])).toEqual([[false, 3.67339]]);
    const noGpuSpot = gcp([
      'a2-highgpu-1g,12.0,85.0,,,,us-central1,us-central1-a,0.73948,0.29576',
      `,,,A100,1,${A100},us-central1,us-central1-a,2.93391,`,
    ]);
    expect(noGpuSpot.offers.map((o) => [o.spot, o.pricePerHour])).toEqual([[false, 3.67339]]);
  });

  it('gives no on-demand offer when the accelerator row has no Price, and says so once for that row', () => {
    const { offers, anomalies } = gcp([
      'a2-highgpu-1g,12.0,85.0,,,,us-central1,us-central1-a,0.73948,0.29576',
      `,,,A100,1,${A100},us-central1,us-central1-a,,1.1472`,
    ]);
    expect(offers.map((o) => [o.spot, o.pricePerHour])).toEqual([[true, 1.44296]]);
    expect(anomalies).toEqual([
      'gcp: accelerator A100 x1 in us-central1-a (line 3): no on-demand Price; no on-demand offers with these GPUs',
    ]);
  });

  it('drops an accelerator spot price above its on-demand price, so its hosts get no spot offer', () => {
    const { offers, anomalies } = gcp([
      'a3-highgpu-1g,26.0,234.0,,,,asia-northeast1,asia-northeast1-b,1.18251,0.5',
      ",,,H100,1,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 81920}}]},asia-northeast1,asia-northeast1-b,4.20076,10.01876",
    ]);
    expect(offers.map((o) => [o.spot, o.pricePerHour, o.gpuMemoryGb])).toEqual([[false, 5.38327, 80]]);
    expect(anomalies).toEqual([
      'gcp: accelerator H100 x1 in asia-northeast1-b (line 3): SpotPrice 10.01876 above on-demand Price 4.20076; no spot offers with these GPUs',
    ]);
  });

  it('does not pair GPUs across zones; hosts without their GPUs give no offer and one anomaly per family and zone', () => {
    const { offers, anomalies } = gcp([
      'a2-highgpu-1g,12.0,85.0,,,,us-central1,us-central1-b,0.73948,0.29576',
      'a2-highgpu-8g,96.0,680.0,,,,us-central1,us-central1-b,5.91582,2.36604',
      `,,,A100,1,${A100},us-central1,us-central1-a,2.93391,1.1472`,
    ]);
    expect(offers).toEqual([]);
    expect(anomalies).toEqual([
      'gcp: a2-highgpu in us-central1-b: no accelerator row for A100 x1, A100 x8; those machine types give no offer there',
      'gcp: accelerator A100 in us-central1-a: no machine row in that zone takes it; 1 row unused',
    ]);
  });

  it('pairs g2 sizes with their L4 counts: g2-standard-4 x1, g2-standard-24 x2, g2-standard-96 x8', () => {
    const L4 = "{'Gpus': [{'MemoryInfo': {'SizeInMiB': 24576}}]}";
    const { offers } = gcp([
      'g2-standard-24,24.0,96.0,,,,us-central1,us-central1-a,0.88075,0.35242',
      'g2-standard-4,4.0,16.0,,,,us-central1,us-central1-a,0.14679,0.05874',
      'g2-standard-96,96.0,384.0,,,,us-central1,us-central1-a,3.52301,1.40966',
      `,,,L4,1,${L4},us-central1,us-central1-a,0.56004,0.2231`,
      `,,,L4,2,${L4},us-central1,us-central1-a,1.12008,0.4462`,
      `,,,L4,8,${L4},us-central1,us-central1-a,4.48032,1.7848`,
    ]);
    expect(
      find(offers, false).map((o) => [o.instanceType, o.gpuType, o.gpuCount, o.gpuMemoryGb, o.pricePerHour]),
    ).toEqual([
      ['g2-standard-24', 'L4', 2, 24, 2.00083],
      ['g2-standard-4', 'L4', 1, 24, 0.70683],
      ['g2-standard-96', 'L4', 8, 24, 8.00333],
    ]);
  });

  it('attaches T4 to n1 hosts only within the vCPU limit per count, and keeps the host as a CPU-only offer', () => {
    const T4 = "{'Gpus': [{'MemoryInfo': {'SizeInMiB': 16384}}]}";
    const { offers, anomalies } = gcp([
      'n1-standard-4,4.0,15.0,,,,us-central1,us-central1-a,0.19,0.04815',
      'n1-standard-64,64.0,240.0,,,,us-central1,us-central1-a,3.03998,0.7704',
      `,,,T4,1,${T4},us-central1,us-central1-a,0.35,0.14`,
      `,,,T4,2,${T4},us-central1,us-central1-a,0.7,0.28`,
      `,,,T4,4,${T4},us-central1,us-central1-a,1.4,0.56`,
    ]);
    const onDemand = find(offers, false).map((o) => [o.instanceType, o.gpuType, o.gpuCount, o.pricePerHour]);
    expect(onDemand).toEqual([
      ['n1-standard-4', undefined, 0, 0.19],
      ['n1-standard-4', 'T4', 1, 0.54],
      ['n1-standard-4', 'T4', 2, 0.89],
      ['n1-standard-4', 'T4', 4, 1.59],
      ['n1-standard-64', undefined, 0, 3.03998],
      ['n1-standard-64', 'T4', 4, 4.43998],
    ]);
    expect(find(offers, true)).toHaveLength(6);
    expect(anomalies).toEqual([]);
  });

  it('gives an n1 host in a zone without attachable GPUs only its CPU-only offers, without an anomaly', () => {
    const { offers, anomalies } = gcp(['n1-highmem-8,8.0,52.0,,,,asia-east1,asia-east1-b,0.53,0.1']);
    expect(offers.map((o) => [o.gpuCount, o.spot])).toEqual([
      [0, false],
      [0, true],
    ]);
    expect(anomalies).toEqual([]);
  });

  it('gives no offer for a GPU-family machine type the shape table does not know', () => {
    const { offers, anomalies } = gcp([
      'a3-megagpu-8g,208.0,1872.0,,,,us-central1,us-central1-a,9.4,2.1',
      'a3-megagpu-8g,208.0,1872.0,,,,us-central1,us-central1-b,9.4,2.1',
    ]);
    expect(offers).toEqual([]);
    expect(anomalies).toEqual([
      'gcp: a3-megagpu-8g: a GPU machine type the GCP shape table does not know (its GPUs cannot be priced); no offer from 2 rows',
    ]);
  });

  it('makes other GCP machine types CPU-only offers', () => {
    const { offers } = gcp(['e2-standard-4,4.0,16.0,,,,us-central1,us-central1-a,0.134,0.04']);
    expect(offers.map((o) => [o.instanceType, o.gpuCount, o.spot, o.pricePerHour])).toEqual([
      ['e2-standard-4', 0, false, 0.134],
      ['e2-standard-4', 0, true, 0.04],
    ]);
  });

  it('reports accelerator counts no machine type takes', () => {
    const { offers, anomalies } = gcp([
      `,,,A100,16,${A100},us-central1,us-central1-a,46.9,18.3`,
      `,,,A100,16,${A100},us-central1,us-central1-b,46.9,18.3`,
    ]);
    expect(offers).toEqual([]);
    expect(anomalies).toEqual([
      'gcp: accelerator A100 x16: no machine type in the GCP shape table takes it; 2 rows ignored',
    ]);
  });
});
