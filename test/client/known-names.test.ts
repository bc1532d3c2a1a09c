import type { Offer } from '../../src/common/offer';
import {
  editDistance,
  knownNames,
  nearestNames,
  targetWithZoneId,
  unknownNames,
  unmatchedZones,
} from '../../src/client/services/known-names';
import { WorkloadSpec, type WorkloadSpecInput } from '../../src/spec/workload-spec';

const spec = (
  resources: WorkloadSpecInput['resources'] = {},
  placement: WorkloadSpecInput['placement'] = {},
) => WorkloadSpec.parse({ name: 'n', kind: 'job', command: ['x'], resources, placement });

const offer = (gpuType: string | undefined, extra: Partial<Offer> = {}): Offer => ({
  provider: 'aws',
  region: 'us-east-1',
  zone: 'use1-az1',
  instanceType: 't',
  gpuType,
  gpuCount: 1,
  vcpus: 4,
  memoryGb: 16,
  spot: false,
  pricePerHour: 1,
  ...extra,
});

const known = knownNames([
  offer('H100'),
  offer('A100'),
  offer('A100-80GB'),
  offer('L4'),
  offer(undefined),
  offer('MyCustomGPU', { provider: 'local', region: 'lab', zone: 'lab' }),
]);

describe('editDistance and nearestNames', () => {
  test('case-insensitive, a transposition is one edit', () => {
    expect(editDistance('h100', 'H100')).toBe(0);
    expect(editDistance('gpc', 'gcp')).toBe(1);
    expect(editDistance('H1000', 'H100')).toBe(1);
  });

  test('only names within a slip are suggested', () => {
    expect(nearestNames('H1000', known.gpuTypes)).toEqual(['H100']);
    expect(nearestNames('awss', known.providers)).toEqual(['aws']);
    expect(nearestNames('azure', known.providers)).toEqual([]);
  });
});

describe('unknownNames', () => {
  test('an unknown GPU is named with the nearest known one', () => {
    expect(unknownNames(spec({ gpu: 'H1000:8' }), known)).toEqual([
      { path: 'resources.gpu.type', message: 'unknown GPU "H1000": did you mean H100?' },
    ]);
  });

  test('without a near one, the known GPUs are listed', () => {
    const [p] = unknownNames(spec({ gpu: 'FOO:8' }), known);
    expect(p?.message).toBe('unknown GPU "FOO": known GPUs are A100, A100-80GB, H100, L4, MyCustomGPU');
  });

  test("a local pool's custom GPU type, a bare model of a variant and any case are known", () => {
    expect(unknownNames(spec({ gpu: 'mycustomgpu' }), known)).toEqual([]);
    expect(unknownNames(spec({ gpu: { type: ['a100', 'h100'] } }), known)).toEqual([]);
    expect(unknownNames(spec({ gpu: 'any' }), known)).toEqual([]);
  });

  test('GPU models are left alone when a provider could not list its offers', () => {
    expect(unknownNames(spec({ gpu: 'FOO' }), known, false)).toEqual([]);
  });

  test('an unknown provider, allowed or denied, is a problem; globs must match one', () => {
    expect(unknownNames(spec({}, { providers: ['azure'] }), known)).toEqual([
      {
        path: 'placement.providers',
        message: 'unknown provider "azure": known providers are local, aws, gcp',
      },
    ]);
    expect(unknownNames(spec({}, { providers: { deny: ['gpc'] } }), known)).toEqual([
      { path: 'placement.providers.deny', message: 'unknown provider "gpc": did you mean gcp?' },
    ]);
    expect(unknownNames(spec({}, { providers: ['a*', 'GCP'] }), known)).toEqual([]);
    expect(unknownNames(spec({}, { providers: ['z*'] }), known)).toHaveLength(1);
  });

  test('alternatives are checked at their own paths', () => {
    const s = spec({ anyOf: [{ gpu: 'H100' }, { gpu: 'L5', placement: { providers: ['lambda'] } }] });
    expect(unknownNames(s, known).map((p) => p.path)).toEqual([
      'resources.anyOf[1].gpu.type',
      'resources.anyOf[1].placement.providers',
    ]);
  });
});

describe('unmatchedZones', () => {
  const offers = [offer('H100'), offer('H100', { zone: 'use1-az2', zoneName: 'us-east-1c' })];

  test('a zone matching an id or a known name is fine', () => {
    expect(unmatchedZones(spec({}, { zones: ['use1-az1', 'us-east-1c', 'use1-*'] }), offers)).toEqual([]);
  });

  test('an AWS zone name no offer knows warns with how AWS zones are named', () => {
    const [w] = unmatchedZones(spec({}, { zones: { deny: ['us-east-1a'] } }), offers);
    expect(w).toMatch(/^zone "us-east-1a" matches no zone of any offer \(AWS catalogs name zones by AZ id/);
  });
});

describe('targetWithZoneId (migrate --to)', () => {
  const offers = [offer('H100', { zone: 'use1-az2', zoneName: 'us-east-1c' })];

  test('a zone name becomes the id the workflow knows the location by', () => {
    expect(targetWithZoneId('aws/us-east-1/us-east-1c', offers)).toBe('aws/us-east-1/use1-az2');
  });

  test('an id, a region, or a name no offer has stay as given', () => {
    expect(targetWithZoneId('aws/us-east-1/use1-az2', offers)).toBe('aws/us-east-1/use1-az2');
    expect(targetWithZoneId('aws/us-east-1', offers)).toBe('aws/us-east-1');
    expect(targetWithZoneId('aws/us-east-1/us-east-1a', offers)).toBe('aws/us-east-1/us-east-1a');
    expect(targetWithZoneId('gcp/us-east-1/us-east-1c', offers)).toBe('gcp/us-east-1/us-east-1c');
  });
});
