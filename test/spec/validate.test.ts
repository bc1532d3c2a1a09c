import { parseSpecText, validateSpec, type SpecProblem, type SpecResult } from '../../src/spec/load';
import type { WorkloadSpec, WorkloadSpecInput } from '../../src/spec/workload-spec';

/** A minimal valid spec; each bad case below changes exactly one thing in it. */
const VALID_YAML = ['name: train-llm', 'kind: job', 'command: [python, train.py]', ''].join('\n');

/** The valid spec with extra YAML lines appended. */
const withYaml = (...lines: string[]): string => VALID_YAML + lines.join('\n') + '\n';

/** The problems of a result that must have failed; fails the test when it passed. */
function problemsOf(result: SpecResult): SpecProblem[] {
  if (result.ok)
    throw new Error(`expected the spec to be rejected, but it parsed to ${JSON.stringify(result.spec)}`);
  return result.problems;
}

/** The spec of a result that must have passed; fails the test, listing the problems, when it did not. */
function specOf(result: SpecResult): WorkloadSpec {
  if (!result.ok) throw new Error(`expected the spec to be valid, got ${JSON.stringify(result.problems)}`);
  return result.spec;
}

describe('a spec that is wrong is rejected with the path and reason of the problem', () => {
  interface BadCase {
    behaviour: string;
    text: string;
    path: string;
    message: string;
  }

  const cases: BadCase[] = [
    // wrong type
    {
      behaviour: 'a number where kind expects "service" or "job" (kind: 5)',
      text: 'name: train-llm\nkind: 5\ncommand: [python]\n',
      path: 'kind',
      message: 'expected "service" or "job", got 5',
    },
    {
      behaviour: 'a kind that is neither "service" nor "job"',
      text: 'name: train-llm\nkind: batch\ncommand: [python]\n',
      path: 'kind',
      message: 'expected "service" or "job", got "batch"',
    },
    {
      behaviour: 'a command written as a shell line instead of a list',
      text: 'name: train-llm\nkind: job\ncommand: python train.py\n',
      path: 'command',
      message: 'expected a list of strings (argv), got "python train.py"',
    },
    {
      behaviour: 'a command argument that is a number',
      text: 'name: train-llm\nkind: job\ncommand: [python, 5]\n',
      path: 'command[1]',
      message: 'expected a string, got 5',
    },
    {
      behaviour: 'a GPU type that is a number',
      text: withYaml('resources:', '  gpu:', '    type: 100'),
      path: 'resources.gpu.type',
      message: 'expected a GPU type, a list of GPU types, or "any", got 100',
    },
    {
      behaviour: 'an empty GPU type inside a list, located by its index',
      text: withYaml('resources:', '  gpu:', '    type: [A100, ""]'),
      path: 'resources.gpu.type[1]',
      message: 'expected a GPU type, got ""',
    },
    {
      behaviour: 'a resources section that is present but empty (null)',
      text: withYaml('resources:'),
      path: 'resources',
      message: 'expected an object, got null',
    },
    // missing required field
    {
      behaviour: 'a spec without a command',
      text: 'name: train-llm\nkind: job\n',
      path: 'command',
      message: 'expected a list of strings (argv), got nothing',
    },
    {
      behaviour: 'a spec without a name',
      text: 'kind: job\ncommand: [python]\n',
      path: 'name',
      message: 'expected a name, got nothing',
    },
    {
      behaviour: 'a spec without a kind',
      text: 'name: train-llm\ncommand: [python]\n',
      path: 'kind',
      message: 'expected "service" or "job", got nothing',
    },
    {
      behaviour: 'a GPU shorthand whose count is not a number',
      text: withYaml('resources:', '  gpu: "H100:x"'),
      path: 'resources.gpu',
      message: 'expected a GPU request such as "H100:8", "A100:4..8" or "any", got "H100:x"',
    },
    {
      behaviour: 'a CPU range whose bounds are reversed',
      text: withYaml('resources:', '  cpu: "32..16"'),
      path: 'resources.cpu',
      message: 'the lower bound 32 is above the upper bound 16 in "32..16"',
    },
    {
      behaviour: 'a spot policy that is not never, allow or require',
      text: withYaml('placement:', '  spot: sometimes'),
      path: 'placement.spot',
      message: 'expected "never", "allow" or "require", got "sometimes"',
    },
    // malformed GPU count
    {
      behaviour: 'a GPU count written as a word ("eight")',
      text: withYaml('resources:', '  gpu:', '    type: A100', '    count: eight'),
      path: 'resources.gpu.count',
      message: 'expected a positive integer, got "eight"',
    },
    {
      behaviour: 'a fractional GPU count (1.5)',
      text: withYaml('resources:', '  gpu:', '    type: A100', '    count: 1.5'),
      path: 'resources.gpu.count',
      message: 'expected a positive integer, got 1.5',
    },
    {
      behaviour: 'a GPU count of zero',
      text: withYaml('resources:', '  gpu:', '    type: A100', '    count: 0'),
      path: 'resources.gpu.count',
      message: 'expected a positive integer, got 0',
    },
    // negative numbers
    {
      behaviour: 'a negative CPU count (cpu: -2)',
      text: withYaml('resources:', '  cpu: -2'),
      path: 'resources.cpu',
      message: 'expected a positive number, got -2',
    },
    {
      behaviour: 'a CPU count that is not a number (.nan)',
      text: withYaml('resources:', '  cpu: .nan'),
      path: 'resources.cpu',
      message: 'expected a vCPU count or range such as 16 or "16..32", got NaN',
    },
    {
      behaviour: 'a negative restart limit (maxRestarts: -1)',
      text: withYaml('recovery:', '  maxRestarts: -1'),
      path: 'recovery.maxRestarts',
      message: 'expected a non-negative integer, got -1',
    },
    {
      behaviour: 'a negative cooldown in seconds',
      text: withYaml('recovery:', '  cooldown: -5'),
      path: 'recovery.cooldown',
      message: 'expected a duration such as "30s" or "5m", got -5',
    },
    // unknown keys
    {
      behaviour: 'an unknown top-level key',
      text: withYaml('replicas: 2'),
      path: '(root)',
      message: 'unknown key "replicas"',
    },
    {
      behaviour: 'an unknown key nested in resources.gpu',
      text: withYaml('resources:', '  gpu:', '    type: A100', '    vram: 80GB'),
      path: 'resources.gpu',
      message: 'unknown key "vram"',
    },
    {
      behaviour: 'an unknown key nested in health',
      text: withYaml('health:', '  interval: 5s'),
      path: 'health',
      message: 'unknown key "interval"',
    },
    {
      behaviour: 'two unknown top-level keys, named together in one problem',
      text: withYaml('foo: 1', 'bar: 2'),
      path: '(root)',
      message: 'unknown keys "foo", "bar"',
    },
    // bad duration
    {
      behaviour: 'a duration that is a word ("soon")',
      text: withYaml('health:', '  heartbeatTimeout: soon'),
      path: 'health.heartbeatTimeout',
      message: 'expected a duration such as "30s" or "5m", got "soon"',
    },
    {
      behaviour: 'a heartbeat timeout below the 1s minimum (500ms)',
      text: withYaml('health:', '  heartbeatTimeout: 500ms'),
      path: 'health.heartbeatTimeout',
      message: 'expected a duration of at least 1s, got "500ms"',
    },
    {
      behaviour: 'a startup grace below the 1s minimum given as seconds (0.5)',
      text: withYaml('health:', '  startupGrace: 0.5'),
      path: 'health.startupGrace',
      message: 'expected a duration of at least 1s, got 0.5',
    },
    // bad memory size
    {
      behaviour: 'a memory size that is a word ("lots")',
      text: withYaml('resources:', '  memory: lots'),
      path: 'resources.memory',
      message: 'expected a positive size such as "16GB", got "lots"',
    },
    {
      behaviour: 'a memory size with an unknown unit ("16 potatoes")',
      text: withYaml('resources:', '  memory: 16 potatoes'),
      path: 'resources.memory',
      message: 'expected a positive size such as "16GB", got "16 potatoes"',
    },
    {
      behaviour: 'a memory size of zero ("0GB")',
      text: withYaml('resources:', '  memory: 0GB'),
      path: 'resources.memory',
      message: 'expected a positive size such as "16GB", got "0GB"',
    },
    // bad name
    {
      behaviour: 'a name with upper-case letters',
      text: 'name: Train-LLM\nkind: job\ncommand: [python]\n',
      path: 'name',
      message:
        'expected lower-case letters, digits and dashes (at most 63, no dash at either end), got "Train-LLM"',
    },
    {
      behaviour: 'a name that starts with a dash',
      text: 'name: -train\nkind: job\ncommand: [python]\n',
      path: 'name',
      message:
        'expected lower-case letters, digits and dashes (at most 63, no dash at either end), got "-train"',
    },
    {
      behaviour: 'a name longer than 63 characters',
      text: `name: ${'a'.repeat(64)}\nkind: job\ncommand: [python]\n`,
      path: 'name',
      message: `expected lower-case letters, digits and dashes (at most 63, no dash at either end), got "${'a'.repeat(64)}"`,
    },
    {
      behaviour: 'a name that is a number',
      text: 'name: 123\nkind: job\ncommand: [python]\n',
      path: 'name',
      message: 'expected a name, got 123',
    },
    // empty command list
    {
      behaviour: 'an empty command list',
      text: 'name: train-llm\nkind: job\ncommand: []\n',
      path: 'command',
      message: 'expected at least the program name, got an empty list',
    },
    // env values
    {
      behaviour: 'an env value that is an object',
      text: withYaml('env:', '  FOO:', '    bar: 1'),
      path: 'env.FOO',
      message: 'expected a string, got an object',
    },
    {
      behaviour: 'an env value that is empty (null)',
      text: withYaml('env:', '  FOO:'),
      path: 'env.FOO',
      message: 'expected a string, got null',
    },
    // env names that driftless sets itself
    {
      behaviour: "an env that sets CUDA_VISIBLE_DEVICES (the GPUs are the instance's)",
      text: withYaml('env:', '  CUDA_VISIBLE_DEVICES: "0,1,2,3"'),
      path: 'env.CUDA_VISIBLE_DEVICES',
      message: 'set by driftless from the GPUs the instance was given; a workload cannot choose its GPUs',
    },
    {
      behaviour: 'an env that sets a DRIFTLESS_* name',
      text: withYaml('env:', '  DRIFTLESS_INSTANCE_ID: i-123'),
      path: 'env.DRIFTLESS_INSTANCE_ID',
      message:
        'DRIFTLESS_* names are set by driftless (DRIFTLESS_INSTANCE_ID, DRIFTLESS_WORKLOAD); choose another name',
    },
    {
      behaviour: 'an env that sets PORT for a workload with an HTTP health check',
      text: withYaml('env:', '  PORT: 8080', 'health:', '  http: { path: /healthz }'),
      path: 'env.PORT',
      message:
        'set by driftless for a workload with an HTTP health check (health.http.port chooses the port)',
    },
    {
      behaviour: 'an env section that is a list',
      text: withYaml('env: [FOO=bar]'),
      path: 'env',
      message: 'expected a map of names to strings, got a list',
    },
    // the document itself
    {
      behaviour: 'a JSON document that is a list',
      text: '[{"name": "train-llm", "kind": "job", "command": ["python"]}]',
      path: '(root)',
      message: 'expected a workload spec (a mapping with name, kind and command), got a list',
    },
    {
      behaviour: 'a document that is a bare string',
      text: 'hello\n',
      path: '(root)',
      message: 'expected a workload spec (a mapping with name, kind and command), got "hello"',
    },
    {
      behaviour: 'an empty file',
      text: '',
      path: '(root)',
      message: 'the file is empty',
    },
    {
      behaviour: 'a file holding only whitespace and comments',
      text: '\n   \n# nothing here yet\n',
      path: '(root)',
      message: 'the file is empty',
    },
  ];

  test.each(cases)('rejects $behaviour at $path', ({ text, path, message }) => {
    expect(problemsOf(parseSpecText(text))).toEqual([{ path, message }]);
  });
});

describe('a file that is not valid YAML or JSON is rejected with the line and column of the error', () => {
  test('reports an unterminated flow list with its line number and a "not valid YAML or JSON" message', () => {
    const problems = problemsOf(parseSpecText('name: train-llm\nkind: job\ncommand: [python, train.py\n'));
    expect(problems.length).toBeGreaterThanOrEqual(1);
    for (const p of problems) {
      expect(p.path).toMatch(/^line \d+, column \d+$/);
      expect(p.message).toMatch(/^not valid YAML or JSON: /);
    }
    expect(problems[0]?.message).toContain('must be sufficiently indented and end with a ]');
  });

  test('reports a tab used for indentation on line 2', () => {
    const problems = problemsOf(parseSpecText('name: train-llm\n\tkind: job\n'));
    expect(problems).toEqual([
      {
        path: 'line 2, column 1',
        message: expect.stringContaining('not valid YAML or JSON: Tabs are not allowed'),
      },
    ]);
  });

  test('reports a JSON object with a missing comma at the line of the next member', () => {
    const text = '{\n  "name": "train-llm",\n  "kind": "job"\n  "command": ["python"]\n}\n';
    expect(problemsOf(parseSpecText(text))).toEqual([
      {
        path: 'line 4, column 3',
        message: expect.stringContaining('not valid YAML or JSON: Missing , between'),
      },
    ]);
  });

  test('rejects a key given twice, at the line of the second one', () => {
    const text = 'name: train-llm\nkind: job\nname: other\ncommand: [python]\n';
    expect(problemsOf(parseSpecText(text))).toEqual([
      { path: 'line 3, column 1', message: expect.stringContaining('Map keys must be unique') },
    ]);
  });

  test('rejects a file with two YAML documents instead of using only the first', () => {
    const problems = problemsOf(parseSpecText(VALID_YAML + '---\n' + VALID_YAML));
    expect(problems).toEqual([
      { path: 'line 4, column 1', message: expect.stringContaining('multiple documents') },
    ]);
  });
});

describe('all problems in a spec are reported at once', () => {
  test('reports every field that is wrong, one problem per field, each with its own path', () => {
    const text = [
      'name: Bad_Name',
      'kind: batch',
      'command: []',
      'resources:',
      '  cpu: -2',
      '  memory: lots',
      '  gpu:',
      '    type: A100',
      '    count: eight',
      'health:',
      '  heartbeatTimeout: soon',
      'recovery:',
      '  maxRestarts: -1',
      'replicas: 3',
      '',
    ].join('\n');
    const problems = problemsOf(parseSpecText(text));
    expect(problems.map((p) => p.path).sort()).toEqual(
      [
        '(root)',
        'command',
        'health.heartbeatTimeout',
        'kind',
        'name',
        'recovery.maxRestarts',
        'resources.cpu',
        'resources.gpu.count',
        'resources.memory',
      ].sort(),
    );
    expect(problems).toEqual(
      expect.arrayContaining([
        { path: 'name', message: expect.stringContaining('got "Bad_Name"') },
        { path: 'kind', message: 'expected "service" or "job", got "batch"' },
        { path: 'resources.gpu.count', message: 'expected a positive integer, got "eight"' },
        { path: '(root)', message: 'unknown key "replicas"' },
      ]),
    );
  });

  test('reports two bad items of the same list separately, by index', () => {
    const problems = problemsOf(parseSpecText('name: train-llm\nkind: job\ncommand: [python, 1, true]\n'));
    expect(problems).toEqual([
      { path: 'command[1]', message: 'expected a string, got 1' },
      { path: 'command[2]', message: 'expected a string, got true' },
    ]);
  });
});

describe('validateSpec checks an already-parsed document', () => {
  test('accepts a plain object and returns the parsed spec with defaults', () => {
    const input: WorkloadSpecInput = { name: 'svc', kind: 'service', command: ['node', 'server.js'] };
    const spec = specOf(validateSpec(input));
    expect(spec.name).toBe('svc');
    expect(spec.kind).toBe('service');
    expect(spec.command).toEqual(['node', 'server.js']);
    expect(spec.recovery.maxRestarts).toBe(3);
  });

  test.each([
    ['undefined', undefined, 'got nothing'],
    ['null', null, 'got null'],
    ['a list', [], 'got an empty list'],
    ['a number', 42, 'got 42'],
  ])('rejects %s as the document, at (root)', (_what, doc, got) => {
    expect(problemsOf(validateSpec(doc))).toEqual([
      {
        path: '(root)',
        message: `expected a workload spec (a mapping with name, kind and command), ${got}`,
      },
    ]);
  });

  test('does not modify the document it is given', () => {
    const doc = { name: 'svc', kind: 'service', command: ['x'], resources: { gpu: { type: 'A100' } } };
    const before = JSON.parse(JSON.stringify(doc)) as unknown;
    specOf(validateSpec(doc));
    expect(doc).toEqual(before);
  });
});

describe('a valid spec is parsed to its normalised form', () => {
  const FULL_YAML = [
    'name: train-llm',
    'kind: job',
    'command: [python, train.py, --epochs, "3"]',
    'env:',
    '  WANDB_MODE: offline',
    'resources:',
    '  gpu:',
    '    type: [A100, H100]',
    '    count: 8',
    '  cpu: 32',
    '  memory: 512GiB',
    'placement:',
    '  providers: [local, lambda]',
    'health:',
    '  heartbeatTimeout: 30s',
    '  startupGrace: 10m',
    'recovery:',
    '  maxRestarts: 5',
    '  cooldown: 1h30m',
    '',
  ].join('\n');

  const FULL_JSON = JSON.stringify(
    {
      name: 'train-llm',
      kind: 'job',
      command: ['python', 'train.py', '--epochs', '3'],
      env: { WANDB_MODE: 'offline' },
      resources: { gpu: { type: ['A100', 'H100'], count: 8 }, cpu: 32, memory: '512GiB' },
      placement: { providers: ['local', 'lambda'] },
      health: { heartbeatTimeout: '30s', startupGrace: '10m' },
      recovery: { maxRestarts: 5, cooldown: '1h30m' },
    },
    null,
    2,
  );

  // The spec's documented defaults, written out once for the tests below.
  const DEFAULT_HEALTH = { heartbeatTimeout: 15_000, startupGrace: 120_000 };
  const DEFAULT_RECOVERY = {
    maxRestarts: 3,
    cooldown: 300_000,
    restartExitCodes: [],
    backoff: { initial: 1000, max: 60_000 },
    drain: 5000,
  };

  test('a YAML spec and the same spec written as JSON parse to equal output', () => {
    const fromYaml = specOf(parseSpecText(FULL_YAML));
    const fromJson = specOf(parseSpecText(FULL_JSON));
    expect(fromJson).toEqual(fromYaml);
  });

  test('the full spec parses to milliseconds, GB and lists', () => {
    expect(specOf(parseSpecText(FULL_YAML))).toEqual({
      name: 'train-llm',
      kind: 'job',
      command: ['python', 'train.py', '--epochs', '3'],
      env: { WANDB_MODE: 'offline' },
      resources: {
        gpu: { type: ['A100', 'H100'], count: { min: 8, max: 8 }, memory: undefined },
        cpu: { min: 32 },
        memory: { min: (512 * 1024 ** 3) / 1e9 },
      },
      placement: { providers: { allow: ['local', 'lambda'] }, spot: 'never', hedge: 1 },
      health: { heartbeatTimeout: 30_000, startupGrace: 600_000 },
      recovery: { ...DEFAULT_RECOVERY, maxRestarts: 5, cooldown: 5_400_000 },
    });
  });

  test('applies the defaults when health, recovery, env, resources and placement are left out', () => {
    expect(specOf(parseSpecText(VALID_YAML))).toEqual({
      name: 'train-llm',
      kind: 'job',
      command: ['python', 'train.py'],
      env: {},
      resources: {},
      placement: { spot: 'never', hedge: 1 },
      health: DEFAULT_HEALTH,
      recovery: DEFAULT_RECOVERY,
    });
  });

  test('fills in the other defaults of a section that is given in part', () => {
    const spec = specOf(
      parseSpecText(withYaml('health:', '  heartbeatTimeout: 45s', 'recovery:', '  cooldown: 1m')),
    );
    expect(spec.health).toEqual({ ...DEFAULT_HEALTH, heartbeatTimeout: 45_000 });
    expect(spec.recovery).toEqual({ ...DEFAULT_RECOVERY, cooldown: 60_000 });
  });

  test('an empty health or recovery mapping gets all of its defaults', () => {
    const spec = specOf(parseSpecText(withYaml('health: {}', 'recovery: {}')));
    expect(spec.health).toEqual(DEFAULT_HEALTH);
    expect(spec.recovery).toEqual(DEFAULT_RECOVERY);
  });

  test('a GPU type given as a string becomes a one-element list, and the count defaults to 1', () => {
    const spec = specOf(parseSpecText(withYaml('resources:', '  gpu:', '    type: A100')));
    expect(spec.resources.gpu).toEqual({ type: ['A100'], count: { min: 1, max: 1 } });
  });

  test('a GPU type given as a list is kept as that list in order', () => {
    const spec = specOf(
      parseSpecText(withYaml('resources:', '  gpu:', '    type: [H100, A100]', '    count: 2')),
    );
    expect(spec.resources.gpu).toEqual({ type: ['H100', 'A100'], count: { min: 2, max: 2 } });
  });

  test.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2500ms', 2_500],
    ['20', 20_000],
  ])('converts the duration %j in the spec to %d ms', (text, ms) => {
    const spec = specOf(parseSpecText(withYaml('health:', `  heartbeatTimeout: ${text}`)));
    expect(spec.health.heartbeatTimeout).toBe(ms);
  });

  test('accepts a cooldown of zero, which has no minimum', () => {
    expect(specOf(parseSpecText(withYaml('recovery:', '  cooldown: 0'))).recovery.cooldown).toBe(0);
  });

  test('accepts a heartbeat timeout of exactly the 1s minimum', () => {
    expect(specOf(parseSpecText(withYaml('health:', '  heartbeatTimeout: 1s'))).health.heartbeatTimeout).toBe(
      1_000,
    );
  });

  test('accepts zero restarts', () => {
    expect(specOf(parseSpecText(withYaml('recovery:', '  maxRestarts: 0'))).recovery.maxRestarts).toBe(0);
  });

  test.each([
    ['16GB', 16],
    ['512MiB', 0.536870912],
    ['1.5TB', 1500],
    ['64', 64],
  ])('converts the memory size %j in the spec to %d GB', (text, gb) => {
    const spec = specOf(parseSpecText(withYaml('resources:', `  memory: ${text}`)));
    // One size means at least that much.
    expect(spec.resources.memory?.min).toBeCloseTo(gb, 12);
    expect(spec.resources.memory?.max).toBeUndefined();
  });

  test('turns number and boolean env values into strings', () => {
    const spec = specOf(parseSpecText(withYaml('env:', '  PORT: 8080', '  DEBUG: true', '  MODE: fast')));
    expect(spec.env).toEqual({ PORT: '8080', DEBUG: 'true', MODE: 'fast' });
  });

  test('accepts PORT in the env of a workload without an HTTP health check (the agent sets none)', () => {
    expect(specOf(parseSpecText(withYaml('env:', '  PORT: 18080'))).env).toEqual({ PORT: '18080' });
  });

  test('names every env name driftless sets that a spec tries to set, each at its own path', () => {
    const problems = problemsOf(
      parseSpecText(withYaml('env:', '  CUDA_VISIBLE_DEVICES: "1"', '  DRIFTLESS_WORKLOAD: x', '  OK: y')),
    );
    expect(problems.map((p) => p.path)).toEqual(['env.CUDA_VISIBLE_DEVICES', 'env.DRIFTLESS_WORKLOAD']);
  });

  test('accepts a name of exactly 63 characters', () => {
    const name = 'a'.repeat(62) + '1';
    expect(specOf(parseSpecText(`name: ${name}\nkind: service\ncommand: [x]\n`)).name).toBe(name);
  });

  test('accepts a file that starts with a byte-order mark', () => {
    expect(specOf(parseSpecText('\uFEFF' + VALID_YAML)).name).toBe('train-llm');
  });
});
