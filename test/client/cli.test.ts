import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { CLI, cli, makeEnv, temporalClient, type TestEnv } from '../support/harness';

// The real CLI binary in a child process; validate needs no server, the rest use the run's one.
let env: TestEnv;

beforeAll(async () => {
  env = await makeEnv([{ name: 'p' }]);
});

afterAll(async () => {
  await env?.cleanup();
});

const good = 'name: web\nkind: service\ncommand: [sleep, "100"]\n';

// Each: [what is wrong, file text, path that must be named, part of the message]
const badSpecs: Array<[string, string, string, RegExp]> = [
  ['wrong type', 'name: web\nkind: 5\ncommand: [x]\n', 'kind', /expected "service" or "job", got 5/],
  ['missing field', 'name: web\nkind: job\n', 'command', /expected a list of strings \(argv\), got nothing/],
  [
    'malformed GPU count',
    good + 'resources: {gpu: {type: A100, count: eight}}\n',
    'resources.gpu.count',
    /expected a positive integer, got "eight"/,
  ],
  [
    'fractional GPU count',
    good + 'resources: {gpu: {type: A100, count: 1.5}}\n',
    'resources.gpu.count',
    /positive integer/,
  ],
  ['negative cpu', good + 'resources: {cpu: -2}\n', 'resources.cpu', /expected a positive number, got -2/],
  [
    'negative restarts',
    good + 'recovery: {maxRestarts: -1}\n',
    'recovery.maxRestarts',
    /non-negative integer, got -1/,
  ],
  ['broken YAML', 'name: web\nkind: [service\n', 'line', /not valid YAML or JSON/],
  ['unknown top-level key', good + 'replicas: 3\n', '(root)', /unknown key "replicas"/],
  ['unknown nested key', good + 'health: {probe: x}\n', 'health', /unknown key "probe"/],
  [
    'bad duration',
    good + 'health: {heartbeatTimeout: soon}\n',
    'health.heartbeatTimeout',
    /expected a duration/,
  ],
  ['bad memory size', good + 'resources: {memory: lots}\n', 'resources.memory', /expected a positive size/],
  ['upper-case name', 'name: Web\nkind: job\ncommand: [x]\n', 'name', /lower-case letters/],
  ['empty command', 'name: web\nkind: job\ncommand: []\n', 'command', /at least the program name/],
  ['not a mapping', '[1, 2]\n', '(root)', /expected a workload spec/],
];

describe('validate', () => {
  test.each(badSpecs)(
    'rejects a spec with %s: exit 2 and the path is named',
    async (_what, text, path, message) => {
      const file = join(env.dir, 'bad.yaml');
      await writeFile(file, text);
      const r = await cli(['validate', file], env.env);
      expect(r.code).toBe(2);
      const line = r.stdout.split('\n').find((l) => l.startsWith(`${file}: ${path}`));
      expect(line).toBeDefined();
      expect(line).toMatch(message);
    },
  );

  test('accepts a good spec with exit 0', async () => {
    const file = join(env.dir, 'good.yaml');
    await writeFile(file, good);
    const r = await cli(['validate', file], env.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('valid (service web)');
  });

  test('--json prints one document listing every problem', async () => {
    const file = join(env.dir, 'many.yaml');
    await writeFile(file, 'name: Web\nkind: svc\ncommand: []\n');
    const r = await cli(['validate', file, '--json'], env.env);
    expect(r.code).toBe(2);
    const doc = JSON.parse(r.stdout) as { valid: boolean; problems: Array<{ path: string }> };
    expect(doc.valid).toBe(false);
    expect(doc.problems.map((p) => p.path).sort()).toEqual(['command', 'kind', 'name']);
  });

  test('a missing file exits 2 and says so', async () => {
    const r = await cli(['validate', join(env.dir, 'nope.yaml')], env.env);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/no such file/);
  });
});

describe('usage and failures', () => {
  test('an unknown command or option exits 2', async () => {
    expect((await cli(['frobnicate'], env.env)).code).toBe(2);
    expect((await cli(['status', 'x', '--bogus'], env.env)).code).toBe(2);
    expect((await cli(['apply'], env.env)).code).toBe(2);
  });

  test('--help exits 0 and lists the commands', async () => {
    const r = await cli(['--help'], env.env);
    expect(r.code).toBe(0);
    for (const c of ['apply', 'status', 'ls', 'stop', 'validate', 'pool', 'dev', 'worker', 'demo']) {
      expect(r.stdout).toMatch(new RegExp(`^  ${c}\\b`, 'm'));
    }
  });

  test('apply of an invalid spec exits 2 and starts no workflow', async () => {
    const file = join(env.dir, 'invalid-apply.yaml');
    await writeFile(file, 'name: never-started\nkind: job\ncommand: []\n');
    const r = await cli(['apply', file], env.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/command: expected at least the program name/);
    const client = await temporalClient();
    try {
      await expect(client.workflow.getHandle('workload-never-started').describe()).rejects.toThrow(
        /not found/i,
      );
    } finally {
      await client.connection.close();
    }
  });

  test('status of an unknown workload exits 2', async () => {
    const r = await cli(['status', 'no-such-workload'], env.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no workload named no-such-workload/);
  });

  test('an unreachable Temporal server exits 3 with a next step', async () => {
    const r = await cli(['ls'], { ...env.env, TEMPORAL_ADDRESS: '127.0.0.1:1' });
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/cannot reach Temporal at 127\.0\.0\.1:1/);
    expect(r.stderr).toMatch(/driftless dev/);
  });

  test('an invalid config file exits 2 and names the field', async () => {
    const cfg = join(env.dir, 'bad-config.yaml');
    await writeFile(cfg, 'providers: {local: {pools: [{name: "Bad Name"}]}}\n');
    const r = await cli(['--config', cfg, 'pool', 'ls'], env.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/providers\.local\.pools\[0\]\.name/);
  });

  test('pool down of an unknown pool exits 2 and lists the configured pools', async () => {
    const r = await cli(['pool', 'down', 'atlantis'], env.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no local pool named "atlantis"/);
    expect(r.stderr).toMatch(/configured: p/);
  });
});

describe('apply plan', () => {
  test('apply prints the chosen offer and the next candidates before it starts', async () => {
    const file = join(env.dir, 'plan.yaml');
    await writeFile(file, 'name: plan-me\nkind: job\ncommand: [sleep, "1"]\nresources: {gpu: A100:1}\n');
    // No worker serves this task queue: the workflow starts and waits, which is all this needs.
    const r = await cli(['apply', file, '--json'], env.env);
    try {
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(
        /plan for plan-me \(gpu A100:1\):\n\s+1\. local\/p p:1xA100\s+\$1\/h\s+<- first choice/,
      );
      expect(JSON.parse(r.stdout)).toMatchObject({
        outcome: 'started',
        plan: { fits: 1, candidates: [{ offer: 'local/p p:1xA100', pricePerHour: 1 }] },
      });
    } finally {
      const client = await temporalClient();
      await client.workflow.getHandle('workload-plan-me').terminate('test over');
      await client.connection.close();
    }
  });
});

describe('codec serve', () => {
  // Were the check missing, serve would start and never exit: the timeout makes that a quick failure.
  const QUICK = 30_000;
  // A key is set so that what refuses to start is the missing token, not the missing key.
  const withKey = (): NodeJS.ProcessEnv => ({
    ...env.env,
    DRIFTLESS_CODEC_KEY: Buffer.alloc(32, 7).toString('base64'),
  });

  test('without --token-env or --insecure-no-auth it exits 2 and names both flags', async () => {
    const r = await cli(['codec', 'serve', '--port', '1'], withKey(), QUICK);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/needs --token-env NAME .* or --insecure-no-auth/);
  });

  test('--token-env naming an unset variable exits 2 and names the variable', async () => {
    const e = withKey();
    delete e.DRIFTLESS_TEST_NO_SUCH_TOKEN;
    const r = await cli(
      ['codec', 'serve', '--port', '1', '--token-env', 'DRIFTLESS_TEST_NO_SUCH_TOKEN'],
      e,
      QUICK,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('the variable DRIFTLESS_TEST_NO_SUCH_TOKEN is not set or empty');
  });

  test('--token-env naming an empty variable or a short token exits 2, naming the variable and not the token', async () => {
    const empty = await cli(
      ['codec', 'serve', '--port', '1', '--token-env', 'CODEC_T'],
      {
        ...withKey(),
        CODEC_T: '',
      },
      QUICK,
    );
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('the variable CODEC_T is not set or empty');
    const short = await cli(
      ['codec', 'serve', '--port', '1', '--token-env', 'CODEC_T'],
      {
        ...withKey(),
        CODEC_T: 'short-secret',
      },
      QUICK,
    );
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('the token in CODEC_T has 12 characters; at least 16 are needed');
    expect(short.stderr).not.toContain('short-secret');
  });

  test('--help describes --token-env and --insecure-no-auth', async () => {
    const r = await cli(['codec', 'serve', '--help'], env.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--token-env <name>\s+name of the environment variable holding the bearer/);
    expect(r.stdout).toMatch(/--insecure-no-auth\s+accept requests without a token/);
  });
});

describe('hostile and unusual spec input', () => {
  /** An alias bomb: each level doubles what the next expands to (a billion "lol"s at depth 30). */
  const aliasBomb = (depth: number) => {
    const lines = ['a0: &a0 [lol, lol]'];
    for (let i = 1; i <= depth; i++) lines.push(`a${i}: &a${i} [*a${i - 1}, *a${i - 1}]`);
    return lines.join('\n') + `\nname: web\nkind: job\ncommand: [x]\nbomb: *a${depth}\n`;
  };

  test('a YAML alias bomb is refused with exit 2 and a short message, not a crash', async () => {
    const file = join(env.dir, 'bomb.yaml');
    await writeFile(file, aliasBomb(30));
    const r = await cli(['validate', file], env.env, 30_000);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/alias/i);
    expect(r.stdout + r.stderr).not.toMatch(/unexpected error|a bug/);
    expect((r.stdout + r.stderr).length).toBeLessThan(2000);
  });

  test('a binary file is refused with exit 2 without echoing its bytes', async () => {
    const file = join(env.dir, 'model.bin');
    const bytes = Buffer.alloc(3 << 20);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
    await writeFile(file, bytes);
    const r = await cli(['apply', file], env.env, 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/not a text file \(binary content at byte \d+\)/);
    expect(r.stdout.length + r.stderr.length).toBeLessThan(2000);
  });

  test('a spec over 256 KiB is refused with exit 2 naming the limit', async () => {
    const file = join(env.dir, 'huge.yaml');
    await writeFile(file, good + `env: { BIG: "${'x'.repeat(10 << 20)}" }\n`);
    const r = await cli(['validate', file], env.env, 30_000);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/the spec is 10\.0 MiB; a spec may be at most 256 KiB/);
    expect(r.stdout.length).toBeLessThan(2000);
  });

  test('endless input is refused, not read forever: /dev/zero, and text on stdin', async () => {
    const zero = await cli(['validate', '/dev/zero'], env.env, 30_000);
    expect(zero.code).toBe(2);
    expect(zero.stdout).toMatch(/not a text file \(binary content at byte 0\)/);
    const long = await cliWithStdin(['validate', '-'], good + `# ${'x'.repeat(1 << 20)}\n`);
    expect(long.code).toBe(2);
    expect(long.stdout).toMatch(/the spec is over 256 KiB; a spec may be at most 256 KiB/);
  });

  test('"-" reads the spec from stdin', async () => {
    const r = await cliWithStdin(['validate', '-'], good);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: '-: valid (service web)\n' });
    const bad = await cliWithStdin(['validate', '-', '--json'], 'name: web\nkind: 5\ncommand: [x]\n');
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout)).toMatchObject({ valid: false, problems: [{ path: 'kind' }] });
  });
});

/** The CLI with `input` on its stdin. */
function cliWithStdin(
  args: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: env.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`driftless ${args.join(' ')} timed out: ${stderr}`));
    }, 30_000);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    // The CLI may stop reading before the end (input over the limit): that is not an error here.
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
