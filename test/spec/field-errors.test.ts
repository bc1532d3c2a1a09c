/**
 * Every field of a workload spec, given a value it cannot take, is rejected at its own path with
 * a message that says what it expected and what it got; and the edge values it can take pass.
 * validate.test.ts covers the document as a whole (YAML errors, several problems at once, the
 * normalised form); this file walks the fields one by one.
 */
import { validateSpec, type SpecProblem } from '../../src/spec/load';

/** A minimal valid spec; each case below adds or replaces one section of it. */
const BASE = { name: 'train-llm', kind: 'job', command: ['python', 'train.py'] };

function problems(section: Record<string, unknown>): SpecProblem[] {
  const result = validateSpec({ ...BASE, ...section });
  if (result.ok) throw new Error(`expected ${JSON.stringify(section)} to be rejected, but it parsed`);
  return result.problems;
}

const bad: Array<[string, Record<string, unknown>, string, string]> = [
  // resources.gpu
  [
    'a GPU request that is a number',
    { resources: { gpu: 5 } },
    'resources.gpu',
    'expected a GPU request such as "H100:8" or {type, count}, got 5',
  ],
  [
    'an empty list of GPU types',
    { resources: { gpu: { type: [] } } },
    'resources.gpu.type',
    'expected at least one GPU type, got an empty list',
  ],
  [
    'a GPU count that is a boolean',
    { resources: { gpu: { count: true } } },
    'resources.gpu.count',
    'expected a positive integer or a range such as "4..8", got true',
  ],
  [
    'a GPU count range with a fractional lower bound',
    { resources: { gpu: { count: '1.5..3' } } },
    'resources.gpu.count',
    'expected a range of positive integers such as "4..8", got "1.5..3"',
  ],
  [
    'a GPU count range with a fractional upper bound',
    { resources: { gpu: { count: '2..3.5' } } },
    'resources.gpu.count',
    'expected a range of positive integers such as "4..8", got "2..3.5"',
  ],
  [
    'a GPU count range from zero',
    { resources: { gpu: { count: '0..4' } } },
    'resources.gpu.count',
    'expected a range of positive integers such as "4..8", got "0..4"',
  ],
  [
    'a GPU count range whose bounds are reversed',
    { resources: { gpu: { count: '8..4' } } },
    'resources.gpu.count',
    'the lower bound 8 is above the upper bound 4 in "8..4"',
  ],
  [
    'a GPU memory that is a word',
    { resources: { gpu: { memory: 'lots' } } },
    'resources.gpu.memory',
    'expected a positive size such as "16GB", got "lots"',
  ],
  [
    'a GPU memory range with a bound that is a word',
    { resources: { gpu: { memory: '40GB..lots' } } },
    'resources.gpu.memory',
    'expected a size or range such as "64GB", "64GB.." or "64GB..256GB", got "40GB..lots"',
  ],
  [
    'a GPU memory that is a boolean',
    { resources: { gpu: { memory: true } } },
    'resources.gpu.memory',
    'expected a GPU memory size or range such as "40GB..", got true',
  ],
  [
    'a GPU shorthand with a count of zero',
    { resources: { gpu: 'A100:0' } },
    'resources.gpu',
    'expected a GPU request such as "H100:8", "A100:4..8" or "any", got "A100:0"',
  ],
  [
    'a GPU shorthand without a type',
    { resources: { gpu: ':2' } },
    'resources.gpu',
    'expected a GPU request such as "H100:8", "A100:4..8" or "any", got ":2"',
  ],
  // resources: cpu, memory, disk
  [
    'a CPU count that is a boolean',
    { resources: { cpu: true } },
    'resources.cpu',
    'expected a vCPU count or range such as 16 or "16..32", got true',
  ],
  [
    'a CPU range with a bound that is a word',
    { resources: { cpu: '16..x' } },
    'resources.cpu',
    'expected a number or range such as "8", "4..8" or "16..", got "16..x"',
  ],
  ['a CPU count of zero', { resources: { cpu: 0 } }, 'resources.cpu', 'expected a positive number, got 0'],
  [
    'a memory that is a boolean',
    { resources: { memory: true } },
    'resources.memory',
    'expected a size or range such as "64GB" or "64GB..256GB", got true',
  ],
  [
    'a disk that is a boolean',
    { resources: { disk: true } },
    'resources.disk',
    'expected a size such as "16GB", got true',
  ],
  [
    'a disk of zero',
    { resources: { disk: '0GB' } },
    'resources.disk',
    'expected a positive size such as "16GB", got "0GB"',
  ],
  [
    'a negative disk',
    { resources: { disk: -5 } },
    'resources.disk',
    'expected a positive size such as "16GB", got -5',
  ],
  // resources: alternatives
  [
    'an empty list of alternatives',
    { resources: { anyOf: [] } },
    'resources.anyOf',
    'expected a list of alternatives, got an empty list',
  ],
  [
    'anyOf that is not a list',
    { resources: { anyOf: 'x' } },
    'resources.anyOf',
    'expected a list of alternatives, got "x"',
  ],
  [
    'ordered that is not a list',
    { resources: { ordered: 'x' } },
    'resources.ordered',
    'expected a list of alternatives, got "x"',
  ],
  [
    'an alternative that is a number',
    { resources: { anyOf: [5] } },
    'resources.anyOf[0]',
    'expected an object with gpu, cpu, memory, disk or placement, got 5',
  ],
  [
    'an alternative with an unknown key',
    { resources: { anyOf: [{ foo: 1 }] } },
    'resources.anyOf[0]',
    'unknown key "foo"',
  ],
  [
    'both anyOf and ordered',
    { resources: { anyOf: [{ gpu: 'A100' }], ordered: [{ gpu: 'H100' }] } },
    'resources.ordered',
    'use either anyOf or ordered, not both',
  ],
  // placement
  ['a placement that is a number', { placement: 5 }, 'placement', 'expected an object, got 5'],
  [
    'providers given as one name',
    { placement: { providers: 'aws' } },
    'placement.providers',
    'expected a list of provider names or {allow, deny}, got "aws"',
  ],
  [
    'an empty list of providers',
    { placement: { providers: [] } },
    'placement.providers',
    'expected at least one provider name, got an empty list',
  ],
  [
    'an empty provider name',
    { placement: { providers: [''] } },
    'placement.providers[0]',
    'expected a provider name, got ""',
  ],
  [
    'an empty allow list of providers',
    { placement: { providers: { allow: [] } } },
    'placement.providers.allow',
    'expected at least one provider name, got an empty list',
  ],
  [
    'an empty deny list of providers',
    { placement: { providers: { deny: [] } } },
    'placement.providers.deny',
    'expected at least one provider name, got an empty list',
  ],
  [
    'an allow list of providers given as one name',
    { placement: { providers: { allow: 'aws' } } },
    'placement.providers',
    'expected a list of provider names or {allow, deny}, got an object',
  ],
  [
    'providers with a key other than allow and deny',
    { placement: { providers: { other: ['x'] } } },
    'placement.providers',
    'unknown key "other"',
  ],
  [
    'regions given as one name',
    { placement: { regions: 'us' } },
    'placement.regions',
    'expected a list of regions or {allow, deny}, got "us"',
  ],
  [
    'an empty list of regions',
    { placement: { regions: [] } },
    'placement.regions',
    'expected at least one region, got an empty list',
  ],
  [
    'zones given as a number',
    { placement: { zones: 5 } },
    'placement.zones',
    'expected a list of zones or {allow, deny}, got 5',
  ],
  [
    'an empty deny list of zones',
    { placement: { zones: { deny: [] } } },
    'placement.zones.deny',
    'expected at least one zone, got an empty list',
  ],
  [
    'a maximum price of zero',
    { placement: { maxPricePerHour: 0 } },
    'placement.maxPricePerHour',
    'expected a positive number, got 0',
  ],
  [
    'a maximum price that is a word',
    { placement: { maxPricePerHour: 'x' } },
    'placement.maxPricePerHour',
    'expected a positive number, got "x"',
  ],
  [
    'an empty instance type',
    { placement: { instanceType: '' } },
    'placement.instanceType',
    'expected an instance type, got ""',
  ],
  [
    'an instance type that is a number',
    { placement: { instanceType: 5 } },
    'placement.instanceType',
    'expected an instance type, got 5',
  ],
  ['a hedge of 0', { placement: { hedge: 0 } }, 'placement.hedge', 'expected an integer from 1 to 5, got 0'],
  ['a hedge of 6', { placement: { hedge: 6 } }, 'placement.hedge', 'expected an integer from 1 to 5, got 6'],
  [
    'a fractional hedge',
    { placement: { hedge: 1.5 } },
    'placement.hedge',
    'expected an integer from 1 to 5, got 1.5',
  ],
  [
    'a hedge that is a word',
    { placement: { hedge: 'two' } },
    'placement.hedge',
    'expected an integer from 1 to 5, got "two"',
  ],
  // health
  ['a health section that is a number', { health: 5 }, 'health', 'expected an object, got 5'],
  [
    'an HTTP check that is a number',
    { health: { http: 5 } },
    'health.http',
    'expected an object with path, port, interval, timeout, failureThreshold, got 5',
  ],
  [
    'an HTTP check path that is a number',
    { health: { http: { path: 5 } } },
    'health.http.path',
    'expected a path such as "/healthz", got 5',
  ],
  [
    'an HTTP check path without the leading slash',
    { health: { http: { path: 'healthz' } } },
    'health.http.path',
    'expected a path starting with "/", got "healthz"',
  ],
  [
    'an HTTP check port of 0',
    { health: { http: { port: 0 } } },
    'health.http.port',
    'expected a port from 1 to 65535, got 0',
  ],
  [
    'an HTTP check port of 65536',
    { health: { http: { port: 65536 } } },
    'health.http.port',
    'expected a port from 1 to 65535, got 65536',
  ],
  [
    'a fractional HTTP check port',
    { health: { http: { port: 80.5 } } },
    'health.http.port',
    'expected a port from 1 to 65535, got 80.5',
  ],
  [
    'an HTTP check port that is a word',
    { health: { http: { port: 'x' } } },
    'health.http.port',
    'expected a port from 1 to 65535, got "x"',
  ],
  [
    'a failure threshold of 0',
    { health: { http: { failureThreshold: 0 } } },
    'health.http.failureThreshold',
    'expected a positive integer, got 0',
  ],
  [
    'a fractional failure threshold',
    { health: { http: { failureThreshold: 1.5 } } },
    'health.http.failureThreshold',
    'expected a positive integer, got 1.5',
  ],
  [
    'a failure threshold that is a word',
    { health: { http: { failureThreshold: 'x' } } },
    'health.http.failureThreshold',
    'expected a positive integer, got "x"',
  ],
  [
    'an HTTP check interval under 0.1s',
    { health: { http: { interval: '50ms' } } },
    'health.http.interval',
    'expected a duration of at least 0.1s, got "50ms"',
  ],
  [
    'an HTTP check timeout under 0.1s',
    { health: { http: { timeout: '50ms' } } },
    'health.http.timeout',
    'expected a duration of at least 0.1s, got "50ms"',
  ],
  // recovery
  ['a recovery section that is a number', { recovery: 5 }, 'recovery', 'expected an object, got 5'],
  [
    'a fractional restart limit',
    { recovery: { maxRestarts: 1.5 } },
    'recovery.maxRestarts',
    'expected a non-negative integer, got 1.5',
  ],
  [
    'a restart limit that is a word',
    { recovery: { maxRestarts: 'x' } },
    'recovery.maxRestarts',
    'expected a non-negative integer, got "x"',
  ],
  [
    'restart exit codes given as one number',
    { recovery: { restartExitCodes: 75 } },
    'recovery.restartExitCodes',
    'expected a list of exit codes, got 75',
  ],
  [
    'a negative restart exit code',
    { recovery: { restartExitCodes: [-1] } },
    'recovery.restartExitCodes[0]',
    'expected a non-negative integer, got -1',
  ],
  [
    'a backoff that is a number',
    { recovery: { backoff: 5 } },
    'recovery.backoff',
    'expected an object with initial and max, got 5',
  ],
  [
    'an initial backoff that is a word',
    { recovery: { backoff: { initial: 'x' } } },
    'recovery.backoff.initial',
    'expected a duration such as "30s" or "5m", got "x"',
  ],
  [
    'a negative maximum backoff',
    { recovery: { backoff: { max: -1 } } },
    'recovery.backoff.max',
    'expected a duration such as "30s" or "5m", got -1',
  ],
  [
    'a drain that is a word',
    { recovery: { drain: 'x' } },
    'recovery.drain',
    'expected a duration such as "30s" or "5m", got "x"',
  ],
  [
    'a restart window under 1s',
    { recovery: { restartWindow: '500ms' } },
    'recovery.restartWindow',
    'expected a duration of at least 1s, got "500ms"',
  ],
  [
    'a start-failure limit of 0',
    { recovery: { maxStartFailures: 0 } },
    'recovery.maxStartFailures',
    'expected an integer from 1 to 1000, got 0',
  ],
  [
    'a start-failure limit of 1001',
    { recovery: { maxStartFailures: 1001 } },
    'recovery.maxStartFailures',
    'expected an integer from 1 to 1000, got 1001',
  ],
  [
    'a fractional start-failure limit',
    { recovery: { maxStartFailures: 2.5 } },
    'recovery.maxStartFailures',
    'expected an integer from 1 to 1000, got 2.5',
  ],
  [
    'a negative recovery limit',
    { recovery: { maxRecoveries: -1 } },
    'recovery.maxRecoveries',
    'expected a non-negative integer, got -1',
  ],
  [
    'a recovery window of 0s',
    { recovery: { recoveryWindow: '0s' } },
    'recovery.recoveryWindow',
    'expected a duration of at least 1s, got "0s"',
  ],
  [
    'a stop grace over 10 minutes',
    { recovery: { stopGrace: '11m' } },
    'recovery.stopGrace',
    'expected a duration of at most 600s, got "11m"',
  ],
  // budget, env
  [
    'a budget that is a number',
    { budget: 5 },
    'budget',
    'expected an object such as { maxTotal: 50 }, got 5',
  ],
  [
    'a budget of zero dollars',
    { budget: { maxTotal: 0 } },
    'budget.maxTotal',
    'expected a positive number of US dollars, got 0',
  ],
  [
    'a budget that is a word',
    { budget: { maxTotal: 'x' } },
    'budget.maxTotal',
    'expected a positive number of US dollars, got "x"',
  ],
  ['an env that is a number', { env: 5 }, 'env', 'expected a map of names to strings, got 5'],
];

describe('each field of a spec, given a value it cannot take, is rejected at its path with what it expected', () => {
  test.each(bad)('%s', (_behaviour, section, path, message) => {
    expect(problems(section)).toEqual([{ path, message }]);
  });

  test('a budget without maxTotal names the missing field, and an unknown key beside it', () => {
    expect(problems({ budget: { foo: 1 } })).toEqual([
      { path: 'budget.maxTotal', message: 'expected a positive number of US dollars, got nothing' },
      { path: 'budget', message: 'unknown key "foo"' },
    ]);
  });
});

describe('the edge values of each bounded field are accepted', () => {
  const good: Array<[string, Record<string, unknown>]> = [
    ['a hedge of 1', { placement: { hedge: 1 } }],
    ['a hedge of 5', { placement: { hedge: 5 } }],
    ['an HTTP check port of 1', { health: { http: { port: 1 } } }],
    ['an HTTP check port of 65535', { health: { http: { port: 65535 } } }],
    ['a failure threshold of 1', { health: { http: { failureThreshold: 1 } } }],
    ['an HTTP check interval and timeout of 0.1s', { health: { http: { interval: '100ms', timeout: 0.1 } } }],
    ['a start-failure limit of 1', { recovery: { maxStartFailures: 1 } }],
    ['a start-failure limit of 1000', { recovery: { maxStartFailures: 1000 } }],
    ['a recovery limit of 0', { recovery: { maxRecoveries: 0 } }],
    ['a restart window and recovery window of 1s', { recovery: { restartWindow: '1s', recoveryWindow: 1 } }],
    ['a stop grace of 0s', { recovery: { stopGrace: 0 } }],
    ['a stop grace of exactly 10 minutes', { recovery: { stopGrace: '10m' } }],
    ['a restart exit code of 0', { recovery: { restartExitCodes: [0] } }],
    ['a GPU count range from 1', { resources: { gpu: { count: '1..8' } } }],
    ['a GPU count range open above', { resources: { gpu: { count: '2..' } } }],
    ['a tiny but positive maximum price', { placement: { maxPricePerHour: 0.01 } }],
    ['a budget of one cent', { budget: { maxTotal: 0.01 } }],
  ];
  test.each(good)('%s', (_behaviour, section) => {
    const result = validateSpec({ ...BASE, ...section });
    expect(result.ok ? [] : result.problems).toEqual([]);
  });

  test('the edge values are kept as given (parsed to milliseconds where they are durations)', () => {
    const result = validateSpec({
      ...BASE,
      placement: { hedge: 5 },
      health: { http: { port: 65535, interval: '100ms', failureThreshold: 1 } },
      recovery: { maxStartFailures: 1000, stopGrace: '10m', recoveryWindow: '1s' },
    });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.spec.placement.hedge).toBe(5);
    expect(result.spec.health.http).toMatchObject({ port: 65535, interval: 100, failureThreshold: 1 });
    expect(result.spec.recovery).toMatchObject({
      maxStartFailures: 1000,
      stopGrace: 600_000,
      recoveryWindow: 1000,
    });
  });
});
