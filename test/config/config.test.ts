import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TASK_QUEUE } from '../../src/common/names';
import { ConfigError, DEFAULT_CONFIG_FILE, loadConfig, type Config } from '../../src/config/config';

const FULL_FILE = `
temporal:
  address: file-host:7233
  namespace: file-ns
  taskQueue: file-queue
owner: file-owner
stateDir: /var/lib/driftless-file
providers:
  local:
    pools:
      - name: lab-a
        gpus: { type: A100, count: 2, memoryGb: 80 }
        pricePerGpuHour: 1.5
        bootDelay: 2s
`;

let dir: string;
let cwd: string;

beforeEach(async () => {
  // realpath: macOS tmpdir is a symlink and process.cwd() returns the resolved path.
  dir = await realpath(await mkdtemp(join(tmpdir(), 'driftless-config-test-')));
  cwd = process.cwd();
});

afterEach(async () => {
  process.chdir(cwd);
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** The ConfigError that `p` rejects with; fails the test if it resolves or throws something else. */
async function configError(p: Promise<unknown>): Promise<ConfigError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('loadConfig without any file', () => {
  beforeEach(() => process.chdir(dir));

  test('uses the defaults for every setting', async () => {
    const c = await loadConfig({}, {});
    expect(c.source).toBeUndefined();
    expect(c.temporal).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      taskQueue: DEFAULT_TASK_QUEUE,
      apiKey: undefined,
      tls: undefined,
    });
    expect(c.owner).toBe('driftless');
    expect(c.stateDir).toBe(join(homedir(), '.local/state/driftless'));
  });

  test('gives one local pool named "local" that detects its GPUs and is free', async () => {
    const c = await loadConfig({}, {});
    expect(c.providers.local?.pools).toEqual([
      {
        name: 'local',
        gpus: 'detect',
        pricePerGpuHour: 0,
        pricePerHour: 0,
        bootDelay: 0,
        readyDelay: 0,
        agents: 'process',
      },
    ]);
  });

  test('does not read process.env when an env object is passed', async () => {
    const saved = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = 'from-process-env:1';
    try {
      expect((await loadConfig({}, {})).temporal.address).toBe('127.0.0.1:7233');
    } finally {
      if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
      else process.env.TEMPORAL_ADDRESS = saved;
    }
  });
});

describe('loadConfig file selection', () => {
  test(`reads ./${DEFAULT_CONFIG_FILE} from the working directory when it exists`, async () => {
    const path = await write(DEFAULT_CONFIG_FILE, 'owner: from-cwd\n');
    process.chdir(dir);
    const c = await loadConfig({}, {});
    expect(c.source).toBe(path);
    expect(c.owner).toBe('from-cwd');
  });

  test('DRIFTLESS_CONFIG picks the file instead of the default one', async () => {
    await write(DEFAULT_CONFIG_FILE, 'owner: from-default\n');
    const chosen = await write('other.yaml', 'owner: from-env-file\n');
    process.chdir(dir);
    const c = await loadConfig({}, { DRIFTLESS_CONFIG: chosen });
    expect(c.source).toBe(chosen);
    expect(c.owner).toBe('from-env-file');
  });

  test('the configPath flag wins over DRIFTLESS_CONFIG', async () => {
    const flag = await write('flag.yaml', 'owner: from-flag-file\n');
    const env = await write('env.yaml', 'owner: from-env-file\n');
    const c = await loadConfig({ configPath: flag }, { DRIFTLESS_CONFIG: env });
    expect(c.source).toBe(flag);
    expect(c.owner).toBe('from-flag-file');
  });

  test('a relative configPath is resolved against the working directory', async () => {
    await mkdir(join(dir, 'conf'));
    const path = await write('conf/d.yaml', 'owner: relative\n');
    process.chdir(dir);
    const c = await loadConfig({ configPath: 'conf/d.yaml' }, {});
    expect(c.source).toBe(path);
  });

  test('an explicit configPath that does not exist throws ConfigError naming the path and ENOENT', async () => {
    const missing = join(dir, 'missing.yaml');
    const err = await configError(loadConfig({ configPath: missing }, {}));
    expect(err.message).toContain(missing);
    expect(err.message).toContain('ENOENT');
  });

  test('a DRIFTLESS_CONFIG that does not exist throws ConfigError', async () => {
    const missing = join(dir, 'nope.yaml');
    const err = await configError(loadConfig({}, { DRIFTLESS_CONFIG: missing }));
    expect(err.message).toContain(missing);
  });

  test('an empty file is valid and gives the defaults', async () => {
    const path = await write('empty.yaml', '');
    const c = await loadConfig({ configPath: path }, {});
    expect(c.source).toBe(path);
    expect(c.temporal.address).toBe('127.0.0.1:7233');
    expect(c.providers.local?.pools.map((p) => p.name)).toEqual(['local']);
  });
});

describe('loadConfig file contents', () => {
  test('takes every setting from the file when no flag or env overrides it', async () => {
    const path = await write('full.yaml', FULL_FILE);
    const c = await loadConfig({ configPath: path }, {});
    expect(c.temporal.address).toBe('file-host:7233');
    expect(c.temporal.namespace).toBe('file-ns');
    expect(c.temporal.taskQueue).toBe('file-queue');
    expect(c.owner).toBe('file-owner');
    expect(c.stateDir).toBe('/var/lib/driftless-file');
  });

  test('parses local pools with their defaults and bootDelay in milliseconds', async () => {
    const path = await write('full.yaml', FULL_FILE);
    const c = await loadConfig({ configPath: path }, {});
    expect(c.providers.local?.pools).toEqual([
      {
        name: 'lab-a',
        gpus: { type: 'A100', count: 2, memoryGb: 80 },
        pricePerGpuHour: 1.5,
        pricePerHour: 0,
        bootDelay: 2000,
        readyDelay: 0,
        agents: 'process',
      },
    ]);
  });

  test('a pool in scale mode (agents: shared) is accepted; another value names the field and the choices', async () => {
    const ok = await write(
      'shared.yaml',
      'providers:\n  local:\n    pools: [{ name: big, agents: shared }]\n',
    );
    expect((await loadConfig({ configPath: ok }, {})).providers.local?.pools[0]?.agents).toBe('shared');
    const bad = await write(
      'bad-agents.yaml',
      'providers:\n  local:\n    pools: [{ name: big, agents: many }]\n',
    );
    const err = await configError(loadConfig({ configPath: bad }, {}));
    expect(err.message).toContain('providers.local.pools[0].agents');
    expect(err.message).toMatch(/process.*shared/);
  });

  test('a file without providers still gets the default "local" pool', async () => {
    const path = await write('np.yaml', 'owner: x\nproviders: {}\n');
    const c = await loadConfig({ configPath: path }, {});
    expect(c.providers.local?.pools.map((p) => p.name)).toEqual(['local']);
  });

  test('invalid YAML throws ConfigError saying the file is not valid YAML', async () => {
    const path = await write('bad.yaml', 'temporal: [unclosed\n  address: x\n');
    const err = await configError(loadConfig({ configPath: path }, {}));
    expect(err.message).toContain(`config file ${path} is not valid YAML`);
  });

  test('an invalid pool name throws ConfigError naming providers.local.pools[0].name', async () => {
    const path = await write('badpool.yaml', 'providers:\n  local:\n    pools:\n      - name: Lab_A\n');
    const err = await configError(loadConfig({ configPath: path }, {}));
    expect(err.message).toContain(`config file ${path} is invalid`);
    expect(err.message).toContain(
      'providers.local.pools[0].name: expected lower-case letters, digits and dashes',
    );
    expect(err.problems).toEqual([
      { path: 'providers.local.pools[0].name', message: 'expected lower-case letters, digits and dashes' },
    ]);
  });

  test('reports every invalid field with its path', async () => {
    const path = await write(
      'many.yaml',
      [
        'temporal:',
        '  address: ""',
        'owner: Not Valid',
        'providers:',
        '  local:',
        '    pools:',
        '      - name: ok',
        '        gpus: { type: A100, count: -1 }',
        '        bootDelay: soon',
      ].join('\n'),
    );
    const err = await configError(loadConfig({ configPath: path }, {}));
    expect(err.problems.map((p) => p.path).sort()).toEqual(
      [
        'temporal.address',
        'owner',
        'providers.local.pools[0].gpus.count',
        'providers.local.pools[0].bootDelay',
      ].sort(),
    );
  });

  test('an unknown key is reported as unknown under its parent path', async () => {
    const path = await write('unknown.yaml', 'temporal:\n  adress: x:1\n');
    const err = await configError(loadConfig({ configPath: path }, {}));
    expect(err.problems).toEqual([{ path: 'temporal', message: 'unknown key "adress"' }]);
  });

  test('an empty pool list is rejected at providers.local.pools', async () => {
    const path = await write('nopools.yaml', 'providers:\n  local:\n    pools: []\n');
    const err = await configError(loadConfig({ configPath: path }, {}));
    expect(err.problems.map((p) => p.path)).toEqual(['providers.local.pools']);
  });

  test('a document that is not a mapping is rejected at (root)', async () => {
    const path = await write('list.yaml', '- a\n- b\n');
    const err = await configError(loadConfig({ configPath: path }, {}));
    expect(err.problems.map((p) => p.path)).toEqual(['(root)']);
  });
});

describe('loadConfig precedence: flag > env > file > default', () => {
  let path: string;
  beforeEach(async () => {
    path = await write('full.yaml', FULL_FILE);
  });

  /** The settings these tests resolve from three places. */
  const resolved = (c: Config) => ({
    address: c.temporal.address,
    namespace: c.temporal.namespace,
    taskQueue: c.temporal.taskQueue,
    stateDir: c.stateDir,
  });
  const ENV = {
    TEMPORAL_ADDRESS: 'env-host:7233',
    TEMPORAL_NAMESPACE: 'env-ns',
    DRIFTLESS_TASK_QUEUE: 'env-queue',
    DRIFTLESS_STATE_DIR: '/srv/env-state',
  };

  test('env beats the file for address, namespace, task queue, state dir and owner', async () => {
    const c = await loadConfig({ configPath: path }, { ...ENV, DRIFTLESS_OWNER: 'env-owner' });
    expect(resolved(c)).toEqual({
      address: 'env-host:7233',
      namespace: 'env-ns',
      taskQueue: 'env-queue',
      stateDir: '/srv/env-state',
    });
    expect(c.owner).toBe('env-owner');
  });

  test('flags beat env for address, namespace, task queue and state dir', async () => {
    const flags = { temporalAddress: 'flag-host:7233', namespace: 'flag-ns', taskQueue: 'flag-queue' };
    const c = await loadConfig({ configPath: path, ...flags, stateDir: '/srv/flag-state' }, ENV);
    expect(resolved(c)).toEqual({
      address: 'flag-host:7233',
      namespace: 'flag-ns',
      taskQueue: 'flag-queue',
      stateDir: '/srv/flag-state',
    });
  });

  test('flags beat the default when there is no file and no env', async () => {
    process.chdir(dir);
    const c = await loadConfig(
      { temporalAddress: 'flag-host:1', namespace: 'flag-ns', taskQueue: 'flag-q', stateDir: '/srv/s' },
      {},
    );
    expect(c.temporal).toMatchObject({ address: 'flag-host:1', namespace: 'flag-ns', taskQueue: 'flag-q' });
    expect(c.stateDir).toBe('/srv/s');
  });

  test('env beats the default when there is no file', async () => {
    process.chdir(dir);
    const c = await loadConfig({}, { TEMPORAL_ADDRESS: 'env:1', DRIFTLESS_OWNER: 'env-owner' });
    expect(c.temporal.address).toBe('env:1');
    expect(c.owner).toBe('env-owner');
  });
});

describe('loadConfig state directory', () => {
  test('a relative stateDir in the file is resolved against the file’s directory, not the cwd', async () => {
    await mkdir(join(dir, 'etc'));
    await mkdir(join(dir, 'elsewhere'));
    const path = await write('etc/driftless.yaml', 'stateDir: state/here\n');
    process.chdir(join(dir, 'elsewhere'));
    const c = await loadConfig({ configPath: path }, {});
    expect(c.stateDir).toBe(join(dir, 'etc', 'state/here'));
  });

  test('a relative state dir with no file is resolved against the working directory', async () => {
    process.chdir(dir);
    const c = await loadConfig({}, { DRIFTLESS_STATE_DIR: 'rel/state' });
    expect(c.stateDir).toBe(join(dir, 'rel/state'));
  });

  test.each([
    ['file', { file: 'stateDir: ~/x\n' }],
    ['env', { env: { DRIFTLESS_STATE_DIR: '~/x' } }],
    ['flag', { flag: '~/x' }],
  ])('expands "~/x" from the %s to a path in the home directory', async (_from, how) => {
    const path = await write('home.yaml', 'file' in how ? how.file : '');
    const c = await loadConfig(
      { configPath: path, stateDir: 'flag' in how ? how.flag : undefined },
      'env' in how ? how.env : {},
    );
    expect(c.stateDir).toBe(join(homedir(), 'x'));
  });

  test('expands a bare "~" to the home directory', async () => {
    process.chdir(dir);
    expect((await loadConfig({ stateDir: '~' }, {})).stateDir).toBe(homedir());
  });

  test('does not expand "~" in the middle of a path', async () => {
    process.chdir(dir);
    expect((await loadConfig({ stateDir: '/a/~/b' }, {})).stateDir).toBe('/a/~/b');
  });
});

const PEM = (what: string) => `-----BEGIN ${what}-----\nMIIB${what.length}\n-----END ${what}-----\n`;

describe('loadConfig: the Temporal connection through envconfig (TLS, API key, profiles)', () => {
  beforeEach(() => process.chdir(dir));

  test('TEMPORAL_API_KEY sets the api key and turns TLS on with the system roots', async () => {
    const c = await loadConfig({}, { TEMPORAL_API_KEY: 'secret' });
    expect(c.temporal.apiKey).toBe('secret');
    expect(c.temporal.tls).toEqual({});
  });

  test('TEMPORAL_TLS=false keeps TLS off even with an API key (a plaintext proxy in front)', async () => {
    const c = await loadConfig({}, { TEMPORAL_API_KEY: 'secret', TEMPORAL_TLS: 'false' });
    expect(c.temporal.apiKey).toBe('secret');
    expect(c.temporal.tls).toBeUndefined();
  });

  test('an empty TEMPORAL_API_KEY is treated as unset and leaves TLS off', async () => {
    const c = await loadConfig({}, { TEMPORAL_API_KEY: '' });
    expect(c.temporal.apiKey).toBeUndefined();
    expect(c.temporal.tls).toBeUndefined();
  });

  test.each(['true', '1'])('TEMPORAL_TLS=%s enables TLS without an api key', async (v) => {
    const c = await loadConfig({}, { TEMPORAL_TLS: v });
    expect(c.temporal.tls).toEqual({});
    expect(c.temporal.apiKey).toBeUndefined();
  });

  test.each(['false', '0'])('TEMPORAL_TLS=%s leaves TLS off', async (v) => {
    expect((await loadConfig({}, { TEMPORAL_TLS: v })).temporal.tls).toBeUndefined();
  });

  test('a client certificate turns TLS on; the files are read once, with the CA and server name', async () => {
    const env = {
      TEMPORAL_TLS_CLIENT_CERT_PATH: await write('c.pem', PEM('CERTIFICATE')),
      TEMPORAL_TLS_CLIENT_KEY_PATH: await write('k.pem', PEM('PRIVATE KEY')),
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: await write('ca.pem', PEM('CERTIFICATE')),
      TEMPORAL_TLS_SERVER_NAME: 'temporal.example',
    };
    const c = await loadConfig({}, env);
    expect(c.temporal.tls).toEqual({
      serverName: 'temporal.example',
      serverCaPem: PEM('CERTIFICATE'),
      clientCertPem: PEM('CERTIFICATE'),
      clientKeyPem: PEM('PRIVATE KEY'),
    });
  });

  test('a missing certificate file is a ConfigError naming the variable and the path', async () => {
    const missing = join(dir, 'nope.pem');
    const err = await loadConfig(
      {},
      { TEMPORAL_TLS_CLIENT_CERT_PATH: missing, TEMPORAL_TLS_CLIENT_KEY_PATH: missing },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/TEMPORAL_TLS_CLIENT_CERT.*nope\.pem.*ENOENT/);
  });

  test('a certificate file that is not PEM is a ConfigError', async () => {
    const env = {
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: await write('ca.txt', 'not a certificate'),
    };
    await expect(loadConfig({}, env)).rejects.toThrow(/TEMPORAL_TLS_SERVER_CA_CERT: expected a PEM/);
  });

  test('a client certificate without its key is a ConfigError', async () => {
    const env = { TEMPORAL_TLS_CLIENT_CERT_PATH: await write('c.pem', PEM('CERTIFICATE')) };
    await expect(loadConfig({}, env)).rejects.toThrow(/expected both/);
  });

  describe('temporal.toml profiles', () => {
    const toml = (caPath: string) => `
[profile.default]
address = "toml-default:7233"
namespace = "toml-ns"

[profile.cloud]
address = "acct.tmprl.cloud:7233"
namespace = "prod.acct"
api_key = "toml-key"

[profile.mtls]
address = "secure:7233"
[profile.mtls.tls]
server_ca_cert_path = "${caPath}"
server_name = "secure.example"
`;
    let tomlPath: string;
    beforeEach(async () => {
      tomlPath = await write('temporal.toml', toml(await write('ca.pem', PEM('CERTIFICATE'))));
    });

    test('the default profile of TEMPORAL_CONFIG_FILE supplies address and namespace', async () => {
      const c = await loadConfig({}, { TEMPORAL_CONFIG_FILE: tomlPath });
      expect(c.temporal).toMatchObject({ address: 'toml-default:7233', namespace: 'toml-ns' });
      expect(c.temporal.tls).toBeUndefined();
    });

    test('--profile picks a profile; its API key turns TLS on', async () => {
      const c = await loadConfig({ profile: 'cloud' }, { TEMPORAL_CONFIG_FILE: tomlPath });
      expect(c.temporal).toMatchObject({
        address: 'acct.tmprl.cloud:7233',
        namespace: 'prod.acct',
        apiKey: 'toml-key',
        tls: {},
      });
    });

    test('TEMPORAL_PROFILE picks a profile, and the profile reads its CA file', async () => {
      const c = await loadConfig({}, { TEMPORAL_CONFIG_FILE: tomlPath, TEMPORAL_PROFILE: 'mtls' });
      expect(c.temporal.tls).toEqual({ serverName: 'secure.example', serverCaPem: PEM('CERTIFICATE') });
    });

    test('temporal.profile in driftless.config.yaml picks a profile; the flag wins over it', async () => {
      const configPath = await write('p.yaml', 'temporal:\n  profile: cloud\n');
      const env = { TEMPORAL_CONFIG_FILE: tomlPath };
      expect((await loadConfig({ configPath }, env)).temporal.address).toBe('acct.tmprl.cloud:7233');
      expect((await loadConfig({ configPath, profile: 'mtls' }, env)).temporal.address).toBe('secure:7233');
    });

    test('precedence: flag > TEMPORAL_* > driftless.config.yaml > the profile', async () => {
      const configPath = await write('a.yaml', 'temporal:\n  address: yaml-host:7233\n');
      const env = { TEMPORAL_CONFIG_FILE: tomlPath };
      expect((await loadConfig({ configPath }, env)).temporal.address).toBe('yaml-host:7233');
      expect(
        (await loadConfig({ configPath }, { ...env, TEMPORAL_ADDRESS: 'env-host:7233' })).temporal.address,
      ).toBe('env-host:7233');
      expect(
        (
          await loadConfig(
            { configPath, temporalAddress: 'flag-host:7233' },
            { ...env, TEMPORAL_ADDRESS: 'env-host:7233' },
          )
        ).temporal.address,
      ).toBe('flag-host:7233');
      // The namespace the YAML does not set still comes from the profile.
      expect((await loadConfig({ configPath }, env)).temporal.namespace).toBe('toml-ns');
    });

    test('an unknown profile is a ConfigError naming it', async () => {
      await expect(loadConfig({ profile: 'nope' }, { TEMPORAL_CONFIG_FILE: tomlPath })).rejects.toThrow(
        /profile "nope".*not found/,
      );
    });

    test('a temporal.toml that is not TOML is a ConfigError', async () => {
      const bad = await write('bad.toml', '[profile.default\naddress = ');
      await expect(loadConfig({}, { TEMPORAL_CONFIG_FILE: bad })).rejects.toThrow(ConfigError);
    });
  });
});

describe('loadConfig worker sizing and the batched watch', () => {
  test('defaults hold 1,000 running workloads on one worker and watch every 10s', async () => {
    const c = await loadConfig({ configPath: await write('min.yaml', 'owner: x\n') }, {});
    expect(c.worker).toEqual({
      maxConcurrentActivities: 200,
      maxConcurrentWorkflowTasks: 100,
      maxCachedWorkflows: 1500,
    });
    expect(c.watch).toEqual({ intervalMs: 10_000 });
  });

  test('takes the worker sizing and the watch interval from the file', async () => {
    const path = await write(
      'sized.yaml',
      'worker:\n  maxConcurrentActivities: 4\n  maxConcurrentWorkflowTasks: 8\n  maxCachedWorkflows: 50\nwatch:\n  interval: 2s\n',
    );
    const c = await loadConfig({ configPath: path }, {});
    expect(c.worker).toEqual({
      maxConcurrentActivities: 4,
      maxConcurrentWorkflowTasks: 8,
      maxCachedWorkflows: 50,
    });
    expect(c.watch.intervalMs).toBe(2000);
  });

  test('a bad worker setting names its field and what was expected', async () => {
    const zero = await configError(
      loadConfig({ configPath: await write('zero.yaml', 'worker:\n  maxConcurrentActivities: 0\n') }, {}),
    );
    expect(zero.message).toContain('worker.maxConcurrentActivities: expected a whole number of at least 1');
    const tasks = await configError(
      loadConfig(
        {
          configPath: await write(
            'tasks.yaml',
            'worker:\n  maxConcurrentWorkflowTasks: 50\n  maxCachedWorkflows: 10\n',
          ),
        },
        {},
      ),
    );
    expect(tasks.message).toContain(
      'worker.maxConcurrentWorkflowTasks: expected maxConcurrentWorkflowTasks to be at most maxCachedWorkflows',
    );
    const quick = await configError(
      loadConfig({ configPath: await write('w.yaml', 'watch:\n  interval: 10ms\n') }, {}),
    );
    expect(quick.message).toContain('watch.interval: expected a duration of at least 0.2s');
  });
});
