import { gpuMemoryGbFromGpuInfo, parseCsv, parseSkypilotCsv } from '../../src/catalog/skypilot-csv';

const AWS_HEADER =
  'InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone';
const GCP_HEADER =
  'InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice';
const P4D_GPU_INFO =
  "{'Gpus': [{'Name': 'A100', 'Manufacturer': 'NVIDIA', 'Count': 8.0, 'MemoryInfo': {'SizeInMiB': 40960}}], 'TotalGpuMemoryInMiB': 327680}";

describe('parseCsv', () => {
  it('keeps commas inside a quoted field and turns "" into one quote', () => {
    const { records, problems } = parseCsv('a,"b, c","say ""hi""",d\n');
    expect(problems).toEqual([]);
    expect(records).toEqual([{ line: 1, fields: ['a', 'b, c', 'say "hi"', 'd'] }]);
  });

  it('reads CRLF, LF and lone CR line endings alike and keeps no \\r in fields', () => {
    const { records } = parseCsv('a,b\r\nc,d\ne,f\rg,h');
    expect(records.map((r) => r.fields)).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e', 'f'],
      ['g', 'h'],
    ]);
    expect(records.map((r) => r.line)).toEqual([1, 2, 3, 4]);
  });

  it.each<[string, string, Array<[number, string[]]>]>([
    [
      'skips # comment lines and blank lines but counts them for line numbers',
      '# source\n\n#x,y\nh1,h2\r\n   \r\n# between\r\nv1,v2\r\n\r\n',
      [
        [4, ['h1', 'h2']],
        [7, ['v1', 'v2']],
      ],
    ],
    [
      'treats # as a comment only at the start of a line, not inside a quoted field or later on a line',
      'a,"x\n# not a comment",b#c\nd,e\n',
      [
        [1, ['a', 'x\n# not a comment', 'b#c']],
        [3, ['d', 'e']],
      ],
    ],
    [
      'keeps a CRLF inside a quoted field and numbers the following record after it',
      '"one\r\ntwo",x\r\ny,z\r\n',
      [
        [1, ['one\r\ntwo', 'x']],
        [3, ['y', 'z']],
      ],
    ],
  ])('%s', (_what, text, expected) => {
    expect(parseCsv(text).records).toEqual(expected.map(([line, fields]) => ({ line, fields })));
  });

  it('returns empty trailing fields and drops a byte-order mark', () => {
    const { records } = parseCsv('\ufeffa,,\n');
    expect(records).toEqual([{ line: 1, fields: ['a', '', ''] }]);
  });

  it('reports a quoted field left open at the end of the text', () => {
    const { records, problems } = parseCsv('a,b\nc,"unterminated\nmore');
    expect(problems).toEqual(['line 2: quoted field is not closed before the end of the file']);
    expect(records).toHaveLength(2);
  });

  it('reports text after a closing quote and keeps it in the field', () => {
    const { records, problems } = parseCsv('"ab"cd,e\n');
    expect(problems).toEqual(['line 1: unexpected text after a closing quote']);
    expect(records[0]?.fields).toEqual(['abcd', 'e']);
  });
});

describe('parseSkypilotCsv', () => {
  it('types an AWS row: numbers parsed, the quoted GpuInfo kept whole', () => {
    const text = `# comment\n${AWS_HEADER}\np4d.24xlarge,A100,8.0,96.0,1152.0,"${P4D_GPU_INFO}",32.7726,10.5438,us-east-1,use1-az2\n`;
    const { rows, problems } = parseSkypilotCsv(text, 'aws');
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      {
        line: 3,
        instanceType: 'p4d.24xlarge',
        acceleratorName: 'A100',
        acceleratorCount: 8,
        vcpus: 96,
        memoryGib: 1152,
        gpuInfo: P4D_GPU_INFO,
        price: 32.7726,
        spotPrice: 10.5438,
        region: 'us-east-1',
        zone: 'use1-az2',
      },
    ]);
  });

  it('reads the GCP column order and turns empty cells into undefined', () => {
    const text = [
      GCP_HEADER,
      'a2-highgpu-8g,96.0,680.0,,,,us-central1,us-central1-a,5.91582,2.36604',
      ",,,A100,8,{'Gpus': [{'MemoryInfo': {'SizeInMiB': 40960}}]},us-central1,us-central1-a,23.47126,9.1776",
    ].join('\r\n');
    const { rows, problems } = parseSkypilotCsv(text, 'gcp');
    expect(problems).toEqual([]);
    expect(rows[0]).toEqual({
      line: 2,
      instanceType: 'a2-highgpu-8g',
      acceleratorName: undefined,
      acceleratorCount: undefined,
      vcpus: 96,
      memoryGib: 680,
      gpuInfo: undefined,
      price: 5.91582,
      spotPrice: 2.36604,
      region: 'us-central1',
      zone: 'us-central1-a',
    });
    expect(rows[1]).toMatchObject({
      instanceType: undefined,
      acceleratorName: 'A100',
      acceleratorCount: 8,
      vcpus: undefined,
      memoryGib: undefined,
      price: 23.47126,
      spotPrice: 9.1776,
    });
  });

  it('rejects a header that lacks a required column, naming it', () => {
    const header = AWS_HEADER.replace(',SpotPrice', '');
    expect(() => parseSkypilotCsv(`${header}\n`, 'aws')).toThrow(
      /aws catalog: header \(line 1\) lacks required column "SpotPrice"/,
    );
  });

  it('names every missing column when several are missing', () => {
    expect(() => parseSkypilotCsv('InstanceType,Price\nx,1\n', 'gcp')).toThrow(
      /lacks required columns "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB", "SpotPrice", "Region", "AvailabilityZone"/,
    );
  });

  it('rejects a file with no header at all', () => {
    expect(() => parseSkypilotCsv('# only a comment\n\n', 'aws')).toThrow(/aws catalog: no header line/);
  });

  it('rejects a header that repeats a column', () => {
    expect(() => parseSkypilotCsv(`${AWS_HEADER},Price\n`, 'aws')).toThrow(/repeats column "Price"/);
  });

  it('accepts columns in any order, ignores extra columns and does without GpuInfo', () => {
    const text =
      'Extra,Region,AvailabilityZone,SpotPrice,Price,MemoryGiB,vCPUs,AcceleratorCount,AcceleratorName,InstanceType\n' +
      'z,r1,r1-a,,1.5,16,4,,,m1\n';
    const { rows, problems } = parseSkypilotCsv(text, 'other');
    expect(problems).toEqual([]);
    expect(rows).toEqual([
      expect.objectContaining({
        instanceType: 'm1',
        vcpus: 4,
        memoryGib: 16,
        price: 1.5,
        spotPrice: undefined,
        region: 'r1',
        zone: 'r1-a',
        gpuInfo: undefined,
      }),
    ]);
  });

  it('reports rows with the wrong number of fields, non-numbers, no region or no type, and leaves them out', () => {
    const text = [
      AWS_HEADER,
      'ok.large,,,2,8,,0.1,0.05,us-east-1,use1-az1',
      'short.large,,,2,8,,0.1,0.05,us-east-1',
      'bad.large,,,two,8,,0.1,0.05,us-east-1,use1-az1',
      'noregion.large,,,2,8,,0.1,0.05,,use1-az1',
      ',,,2,8,,0.1,0.05,us-east-1,use1-az1',
    ].join('\n');
    const { rows, problems } = parseSkypilotCsv(text, 'aws');
    expect(rows.map((r) => r.instanceType)).toEqual(['ok.large']);
    expect(problems).toEqual([
      'line 3: expected 10 fields as in the header, got 9',
      'line 4: vCPUs "two" is not a number',
      'line 5: Region is empty',
      'line 6: both InstanceType and AcceleratorName are empty',
    ]);
  });

  it('reads "nan" as an empty number', () => {
    const { rows } = parseSkypilotCsv(`${AWS_HEADER}\nm.large,,,2,8,,0.1,nan,us-east-1,use1-az1\n`, 'aws');
    expect(rows[0]?.spotPrice).toBeUndefined();
    expect(rows[0]?.price).toBe(0.1);
  });
});

describe('gpuMemoryGbFromGpuInfo', () => {
  it('reads the per-GPU SizeInMiB of an AWS GpuInfo as whole GB', () => {
    expect(gpuMemoryGbFromGpuInfo(P4D_GPU_INFO, 8)).toBe(40);
  });

  it('reads the short GCP form', () => {
    expect(gpuMemoryGbFromGpuInfo("{'Gpus': [{'MemoryInfo': {'SizeInMiB': 81920}}]}")).toBe(80);
  });

  it('rounds to the nearest GB (A10G 22888 MiB -> 22, L40S 45776 MiB -> 45, H200 144384 MiB -> 141)', () => {
    expect(gpuMemoryGbFromGpuInfo("{'Gpus': [{'MemoryInfo': {'SizeInMiB': 22888}}]}")).toBe(22);
    expect(gpuMemoryGbFromGpuInfo("{'Gpus': [{'MemoryInfo': {'SizeInMiB': 45776}}]}")).toBe(45);
    expect(gpuMemoryGbFromGpuInfo("{'Gpus': [{'MemoryInfo': {'SizeInMiB': 144384}}]}")).toBe(141);
  });

  it('reads JSON with double quotes too', () => {
    expect(gpuMemoryGbFromGpuInfo('{"Gpus": [{"MemoryInfo": {"SizeInMiB": 16384}}]}')).toBe(16);
  });

  it('falls back to the total divided by the GPU count', () => {
    expect(gpuMemoryGbFromGpuInfo("{'Gpus': [{'Name': 'X'}], 'TotalGpuMemoryInMiB': 65536}", 4)).toBe(16);
  });

  it('gives undefined when there is no memory figure', () => {
    expect(gpuMemoryGbFromGpuInfo(undefined)).toBeUndefined();
    expect(gpuMemoryGbFromGpuInfo("{'Gpus': [{'Name': 'X'}]}", 1)).toBeUndefined();
    expect(gpuMemoryGbFromGpuInfo("{'Gpus': [{'MemoryInfo': {'SizeInMiB': 0}}]}")).toBeUndefined();
  });
});
