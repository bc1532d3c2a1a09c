/**
 * GCE statuses onto provider states (pure), and the startup-script run by bash as a VM would.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { goneStateOf, instanceStateOf, isSpot } from '../../../src/providers/gcp/state';
import type { InstanceState } from '../../../src/providers/types';
import { startupScript } from '../../../src/providers/gcp/startup-script';
import { userDataScript } from '../../../src/providers/aws/user-data';

const run = promisify(execFile);

describe('instanceStateOf', () => {
  /** Each provider state, whether GCE itself ended the instance, and the GCE statuses that map to it. */
  const byState: Array<[InstanceState, boolean, string[]]> = [
    ['pending', false, ['PROVISIONING', 'STAGING', 'REPAIRING', 'SOMETHING_NEW']],
    ['running', false, ['RUNNING']],
    ['running', true, ['RUNNING']],
    ['stopped', false, ['STOPPING', 'STOPPED', 'SUSPENDING', 'SUSPENDED', 'TERMINATED']],
    ['preempted', true, ['TERMINATED', 'STOPPING']],
  ];
  test.each(
    byState.flatMap(([state, byProvider, statuses]) =>
      statuses.map((status) => [status, byProvider, state] as const),
    ),
  )('%s (ended by GCE: %s) is %s', (status, byProvider, state) => {
    expect(instanceStateOf({ status }, byProvider)).toBe(state);
  });

  test('a gone instance is preempted, terminated or not-found by the operations that targeted it', () => {
    expect(goneStateOf(['insert', 'compute.instances.preempted'])).toBe('preempted');
    expect(goneStateOf(['insert', 'compute.instances.hostError'])).toBe('preempted');
    expect(goneStateOf(['insert', 'delete'])).toBe('terminated');
    expect(goneStateOf(['insert'])).toBe('not-found');
    expect(goneStateOf([])).toBe('not-found');
  });

  test('spot or legacy preemptible scheduling is spot', () => {
    expect(isSpot({ scheduling: { provisioningModel: 'SPOT' } })).toBe(true);
    expect(isSpot({ scheduling: { preemptible: true } })).toBe(true);
    expect(isSpot({ scheduling: { provisioningModel: 'STANDARD' } })).toBe(false);
  });
});

describe('startupScript', () => {
  const opts = {
    temporalAddress: 'temporal.example:7233',
    temporalNamespace: "team's-ns",
    workload: 'train',
    agentInstall: 'echo installed > install.txt',
    agentCommand: 'env > agent-env.txt',
    deadManTimeout: '600000ms',
    instanceName: 'driftless-train-0123456789abcdef',
  };
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'driftless-startup-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function agentEnv(env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
    const file = join(dir, 'startup.sh');
    await writeFile(file, startupScript(opts));
    await run('bash', [file], {
      // No workload user: the script must not add users or firewall rules to this machine.
      env: {
        PATH: process.env.PATH,
        DRIFTLESS_INSTANCE_DIR: dir,
        DRIFTLESS_AGENT_FOREGROUND: '1',
        DRIFTLESS_WORKLOAD_USER: '',
        ...env,
      },
      timeout: 20_000,
    });
    expect(await readFile(join(dir, 'install.txt'), 'utf8')).toBe('installed\n');
    return Object.fromEntries(
      (await readFile(join(dir, 'agent-env.txt'), 'utf8'))
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
  }

  test('starts the agent with the instance name as its id, the Temporal settings and the workload', async () => {
    expect(await agentEnv({})).toMatchObject({
      DRIFTLESS_INSTANCE_ID: opts.instanceName,
      TEMPORAL_ADDRESS: 'temporal.example:7233',
      TEMPORAL_NAMESPACE: "team's-ns",
      DRIFTLESS_WORKLOAD: 'train',
      DRIFTLESS_INSTANCE_DIR: dir,
    });
  });

  test('keeps an instance id a harness set', async () => {
    expect((await agentEnv({ DRIFTLESS_INSTANCE_ID: 'played-1' })).DRIFTLESS_INSTANCE_ID).toBe('played-1');
  });

  test('shares everything but the instance id lines with the EC2 boot script, and refuses a bad name', () => {
    const gce = startupScript(opts).split('\n');
    const ec2 = userDataScript(opts).split('\n');
    // The instance id lines, and where the agent looks for notices (GCE's metadata server).
    expect(gce.filter((l) => !ec2.includes(l))).toEqual([
      'export DRIFTLESS_NOTICES=gcp',
      'export DRIFTLESS_METADATA_URL="${DRIFTLESS_METADATA_URL:-http://metadata.google.internal}"',
      `DRIFTLESS_INSTANCE_ID="\${DRIFTLESS_INSTANCE_ID:-${opts.instanceName}}"`,
    ]);
    expect(() => startupScript({ ...opts, instanceName: 'Bad Name; rm -rf /' })).toThrow(
      /not a GCE instance name/,
    );
  });
});
