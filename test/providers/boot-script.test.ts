/**
 * The boot scripts' workload user (src/providers/workload-user.ts): the EC2 user data and the GCE
 * startup script create an unprivileged user for the workload, keep it from the instance metadata
 * service with a firewall rule, and refuse to start the agent when no firewall tool exists. Run
 * by bash with a PATH of fakes (useradd, id, iptables, nft record what they are asked), so that
 * nothing is done to this machine.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { userDataScript } from '../../src/providers/aws/user-data';
import { startupScript } from '../../src/providers/gcp/startup-script';
import { CLOUD_WORKLOAD_USER, METADATA_ADDRESS } from '../../src/providers/workload-user';

const run = promisify(execFile);

const opts = {
  temporalAddress: 'temporal.example:7233',
  temporalNamespace: 'default',
  workload: 'train',
  agentInstall: '',
  agentCommand: 'env > agent-env.txt',
  deadManTimeout: '600000ms',
};
const scripts = {
  aws: () => userDataScript(opts),
  gcp: () => startupScript({ ...opts, instanceName: 'driftless-train-0123456789abcdef' }),
};

/** Fakes that log their argv to $FAKE_LOG; users "exist" as files $FAKE_STATE/user-NAME holding a uid. */
const FAKES: Record<string, string> = {
  useradd:
    'echo "useradd $*" >> "$FAKE_LOG"; for a in "$@"; do name="$a"; done; echo 4242 > "$FAKE_STATE/user-$name"',
  id: '[ -f "$FAKE_STATE/user-$2" ] || { echo "id: $2: no such user" >&2; exit 1; }; read -r uid < "$FAKE_STATE/user-$2"; echo "$uid"',
  // -C (is the rule there?) says no, so the script adds it.
  iptables: 'echo "iptables $*" >> "$FAKE_LOG"; [ "$1" != -C ]',
  ip6tables: 'echo "ip6tables $*" >> "$FAKE_LOG"; [ "$1" != -C ]',
  nft: 'echo "nft $*" >> "$FAKE_LOG"',
};

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftless-boot-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** A bin directory with real mkdir, chmod and env and the named fakes, and nothing else. */
async function fakeBin(fakes: string[]): Promise<string> {
  const bin = join(dir, 'bin');
  await mkdir(join(dir, 'state'), { recursive: true });
  await mkdir(bin);
  for (const tool of ['mkdir', 'chmod', 'env']) {
    const real = (await run('bash', ['-c', `command -v ${tool}`])).stdout.trim();
    await symlink(real, join(bin, tool));
  }
  for (const name of fakes) {
    await writeFile(join(bin, name), `#!/bin/bash\n${FAKES[name]}\n`);
    await chmod(join(bin, name), 0o755);
  }
  return bin;
}

/** Runs the script as a VM would (agent in the foreground); what the fakes were asked, and how it ended. */
async function boot(script: string, fakes: string[], env: Record<string, string> = {}) {
  const bin = await fakeBin(fakes);
  const instanceDir = join(dir, 'instance');
  const file = join(dir, 'boot.sh');
  await writeFile(file, script);
  const result = await run('/bin/bash', [file], {
    env: {
      PATH: bin,
      FAKE_LOG: join(dir, 'calls.log'),
      FAKE_STATE: join(dir, 'state'),
      DRIFTLESS_INSTANCE_ID: 'i-0feedface0000001',
      DRIFTLESS_INSTANCE_DIR: instanceDir,
      DRIFTLESS_AGENT_FOREGROUND: '1',
      ...env,
    },
    timeout: 20_000,
  }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
  const calls = (await readFile(join(dir, 'calls.log'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  const agentEnv = await readFile(join(instanceDir, 'agent-env.txt'), 'utf8').catch(() => undefined);
  return { ...result, calls, agentEnv, instanceDir };
}

const REJECT = `-d ${METADATA_ADDRESS} -m owner --uid-owner 4242 -j REJECT`;

describe.each(['aws', 'gcp'] as const)('the %s boot script', (cloud) => {
  test('runs the workload as a new unprivileged user that iptables keeps from the metadata service', async () => {
    const r = await boot(scripts[cloud](), ['useradd', 'id', 'iptables', 'ip6tables', 'nft']);
    expect(r).toMatchObject({ code: 0 });
    expect(r.calls).toEqual([
      `useradd --system --create-home --shell /usr/sbin/nologin ${CLOUD_WORKLOAD_USER}`,
      `iptables -C OUTPUT ${REJECT}`,
      `iptables -I OUTPUT 1 ${REJECT}`,
      'ip6tables -C OUTPUT -d fd00:ec2::254 -m owner --uid-owner 4242 -j REJECT',
      'ip6tables -I OUTPUT 1 -d fd00:ec2::254 -m owner --uid-owner 4242 -j REJECT',
    ]);
    // The agent is told whom to run the workload as; the instance directory is root's alone.
    expect(r.agentEnv).toContain(`\nDRIFTLESS_WORKLOAD_USER=${CLOUD_WORKLOAD_USER}\n`);
    expect((await stat(r.instanceDir)).mode & 0o777).toBe(0o700);
  });

  test('with nft only, an existing user gets an nft rule rejecting its packets to the metadata service', async () => {
    await mkdir(join(dir, 'state'), { recursive: true });
    await writeFile(join(dir, 'state', 'user-trainer'), '4242\n');
    const r = await boot(scripts[cloud](), ['useradd', 'id', 'nft'], { DRIFTLESS_WORKLOAD_USER: 'trainer' });
    expect(r).toMatchObject({ code: 0 });
    expect(r.calls).toContain(
      `nft add rule inet driftless output meta skuid 4242 ip daddr ${METADATA_ADDRESS} reject`,
    );
    expect(r.calls.filter((c) => c.startsWith('useradd'))).toEqual([]);
    expect(r.agentEnv).toContain('\nDRIFTLESS_WORKLOAD_USER=trainer\n');
  });

  test('fails closed: with neither iptables nor nft the agent is not started', async () => {
    const r = await boot(scripts[cloud](), ['useradd', 'id']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('neither iptables nor nft is installed');
    expect(r.agentEnv).toBeUndefined();
  });

  test('an empty DRIFTLESS_WORKLOAD_USER (a harness playing the VM) adds no user and no rule', async () => {
    const r = await boot(scripts[cloud](), ['useradd', 'id'], { DRIFTLESS_WORKLOAD_USER: '' });
    expect(r).toMatchObject({ code: 0, calls: [] });
    expect(r.agentEnv).toContain('\nDRIFTLESS_WORKLOAD_USER=\n');
  });
});

test('the rule and the user are in the text of both scripts, before the agent starts', () => {
  for (const script of [scripts.aws(), scripts.gcp()]) {
    const lines = script.split('\n');
    const rule = lines.findIndex((l) => l.includes(`-d ${METADATA_ADDRESS} -m owner --uid-owner`));
    const user = lines.findIndex((l) => l.includes('useradd --system'));
    const agent = lines.findIndex((l) => l.startsWith('exec /bin/bash -c "$agent"'));
    expect(rule).toBeGreaterThan(0);
    expect(user).toBeGreaterThan(0);
    expect(agent).toBeGreaterThan(rule);
    expect(script).toContain('--setenv=DRIFTLESS_WORKLOAD_USER');
  }
});
