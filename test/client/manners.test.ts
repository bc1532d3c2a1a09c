import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/client/main';
import { CLI, cli, makeEnv, temporalClient, type TestEnv } from '../support/harness';

// CLI manners (issue 14): help, names the installation does not know, unconfigured providers,
// validate --config. Through the real CLI process; none of these needs a worker.
let env: TestEnv;

beforeAll(async () => {
  env = await makeEnv([{ name: 'lab', gpus: { type: 'MyGpu', count: 2 }, pricePerGpuHour: 1 }], {
    catalog: { maxAge: 'off' },
  });
  env.env.XDG_CACHE_HOME = join(env.dir, 'cache');
});

afterAll(async () => {
  await env?.cleanup();
});

/** Every command and subcommand of the program. */
function commands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...commands(c)]);
}

describe('help', () => {
  test('durations show as typed: apply --help says (default: 10m), never 600000', async () => {
    const r = await cli(['apply', '--help'], env.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--timeout <duration>\s+how long --wait waits \(default: 10m\)/);
    expect(r.stdout).not.toMatch(/600000/);
  });

  test('no command shows a duration default in milliseconds', () => {
    for (const c of commands(buildProgram())) {
      for (const o of c.options) {
        if (o.flags.includes('<duration>') && o.defaultValue !== undefined)
          expect([c.name(), o.flags, o.defaultValueDescription]).toEqual([
            c.name(),
            o.flags,
            expect.stringMatching(/^\d+(ms|[smhd])(\d+[smh])*$/),
          ]);
      }
    }
  });

  test("every command's help lists the global options", async () => {
    const globals = ['--config', '--address', '--namespace', '--profile', '--task-queue', '--state-dir'];
    for (const c of commands(buildProgram())) {
      const help = c.helpInformation();
      expect([c.name(), help.includes('Global Options:')]).toEqual([c.name(), true]);
      for (const g of globals) expect([c.name(), g, help.includes(g)]).toEqual([c.name(), g, true]);
    }
    const r = await cli(['status', '--help'], env.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Global Options:[\s\S]*--state-dir <dir>/);
  });
});

describe('names the installation does not know', () => {
  test('apply of a spec with an unknown provider exits 2 with the known ones, starting nothing', async () => {
    const file = join(env.dir, 'azure.yaml');
    await writeFile(file, 'name: on-azure\nkind: job\ncommand: [x]\nplacement: {providers: [azure]}\n');
    const r = await cli(['apply', file], env.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `${file}: placement.providers: unknown provider "azure": known providers are local, aws, gcp`,
    );
    const client = await temporalClient();
    try {
      await expect(client.workflow.getHandle('workload-on-azure').describe()).rejects.toThrow(/not found/i);
    } finally {
      await client.connection.close();
    }
  });

  test('apply of a spec with a mistyped GPU exits 2 with the nearest one', async () => {
    const file = join(env.dir, 'typo.yaml');
    await writeFile(file, 'name: typo\nkind: job\ncommand: [x]\nresources: {gpu: "H1000:8"}\n');
    const r = await cli(['apply', file], env.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: resources.gpu.type: unknown GPU "H1000": did you mean H100?`);
  });

  test('offers --provider azure and --gpu FOO:8 exit 2 naming the flag', async () => {
    const p = await cli(['offers', '--provider', 'azure'], env.env);
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/--provider: unknown provider "azure": known providers are local, aws, gcp/);
    const g = await cli(['offers', '--gpu', 'FOO:8'], env.env);
    expect(g.code).toBe(2);
    expect(g.stderr).toMatch(/--gpu: unknown GPU "FOO": known GPUs are .*H100/);
  });

  test("a local pool's own GPU type is known", async () => {
    const r = await cli(['offers', '--gpu', 'MyGpu:2', '--json'], env.env);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { rows: Array<{ provider: string; gpuType: string }> };
    expect(doc.rows[0]).toMatchObject({ provider: 'local', gpuType: 'MyGpu' });
  });

  test('offers --zone us-east-1a without a configured aws warns how AWS zones are named', async () => {
    const r = await cli(['offers', '--gpu', 'H100:8', '--zone', 'us-east-1a'], env.env);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /warning: zone "us-east-1a" matches no zone of any offer \(AWS catalogs name zones by AZ id/,
    );
  });
});

describe('offers of providers that are not configured', () => {
  test('are marked, and the output ends with how to configure them', async () => {
    const r = await cli(['offers', '--gpu', 'H100:8', '--limit', '50'], env.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^aws \(not configured\) +us-/m);
    expect(r.stdout).toContain(
      'aws is not configured: add providers.aws to driftless.config.yaml (README: Running against AWS and GCP)',
    );
    const j = await cli(['offers', '--gpu', 'H100:8', '--json'], env.env);
    const doc = JSON.parse(j.stdout) as { rows: Array<{ configured: boolean }>; unconfigured: string[] };
    expect(doc.unconfigured).toEqual(expect.arrayContaining(['aws', 'gcp']));
    expect(doc.rows.every((x) => x.configured === false)).toBe(true);
  });

  test("a configured provider's rows are not marked", async () => {
    const r = await cli(['offers', '--gpu', 'MyGpu:1'], env.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^local +lab/m);
    expect(r.stdout).not.toMatch(/not configured/);
  });
});

describe('validate --config', () => {
  test('a valid config file exits 0', async () => {
    const r = await cli(['validate', '--config', env.configPath], env.env);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${env.configPath}: valid config (providers: local)\n`);
  });

  test('an invalid one exits 2 with every problem and its path', async () => {
    const file = join(env.dir, 'bad-config.yaml');
    await writeFile(
      file,
      'owner: Not_Valid\nreconcile: {every: soon}\nworker: {maxConcurrentActivities: 0}\n',
    );
    const r = await cli(['validate', '--config', file], env.env);
    expect(r.code).toBe(2);
    const lines = r.stdout.trim().split('\n');
    for (const path of ['owner', 'reconcile.every', 'worker.maxConcurrentActivities'])
      expect(lines.some((l) => l.startsWith(`${file}: ${path}: `))).toBe(true);
    const j = await cli(['validate', '--config', file, '--json'], env.env);
    expect(j.code).toBe(2);
    const doc = JSON.parse(j.stdout) as { valid: boolean; config: { problems: unknown[] } };
    expect(doc.valid).toBe(false);
    expect(doc.config.problems).toHaveLength(3);
  });

  test('a missing config file exits 2', async () => {
    const r = await cli(['validate', '--config', join(env.dir, 'nope.yaml')], env.env);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/cannot read config file .*nope\.yaml: ENOENT/);
  });

  test('validate with neither a spec nor --config is a usage error', async () => {
    const r = await cli(['validate'], env.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/give a spec file, or --config FILE/);
  });
});

test('status --watch --json is refused (exit 2): --json prints one document', async () => {
  const r = await cli(['status', 'x', '--watch', '--json'], env.env);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/--watch and --json do not go together/);
});

test('a reader that goes away (| head) ends the output quietly, without a stack trace', async () => {
  const child = spawn(process.execPath, [CLI, 'offers', '--gpu', 'any', '--limit', '0'], {
    env: env.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  // Closed before the child writes a byte: every write of it meets EPIPE.
  child.stdout.destroy();
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  expect(stderr).not.toMatch(/EPIPE|Unhandled/);
  expect(code).toBe(0);
});
