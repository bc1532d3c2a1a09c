/**
 * A workload placed on AWS (moto's EC2 server) by the real worker process, with a VM player
 * running each instance's UserData locally: the agent it starts runs the workload.
 */
import { randomBytes } from 'node:crypto';
import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import {
  cliJson,
  LOG_LEVEL,
  serviceSpec,
  sleep,
  startWorker,
  waitFor,
  workloadProcesses,
  marker,
} from '../support/harness';
import { playedVmProvider, runningOnPlayedVm, triedOffers, useE2eInstallation } from '../support/e2e';
import { MOTO_IMAGE_NAME, motoEc2, motoEnv, startMoto, type MotoServer } from '../support/moto';
import { VmPlayer } from '../support/vm-player';
import { startFaultProxy, type FaultProxy } from '../providers/aws/fault-proxy';
import type { ReconcileReport } from '../../src/workflows/reconcile';

const REGION = 'us-east-1';
const OTHER_REGION = 'us-west-2';
const IMAGE_NAME = MOTO_IMAGE_NAME;

let moto: MotoServer;
/** Between the worker and moto, to inject EC2 errors; the player talks to moto directly. */
let proxy: FaultProxy;
let player: VmPlayer;
let ec2: EC2Client;
const owner = `e2e-aws-${randomBytes(3).toString('hex')}`;

const e2e = useE2eInstallation({
  // A dear local T4 pool that only specs allowing it can use.
  pools: [{ name: 'lab-t4', gpus: { type: 'T4', count: 1 }, pricePerGpuHour: 50 }],
  config: { owner },
  setup: async () => {
    moto = await startMoto();
    proxy = await startFaultProxy(moto.endpoint);
    ec2 = motoEc2(moto.endpoint, REGION);
    player = new VmPlayer({
      endpoint: moto.endpoint,
      owner,
      regions: [REGION, OTHER_REGION],
      env: { DRIFTLESS_LOG_LEVEL: LOG_LEVEL },
    });
    await player.start();
    return {
      // AWS on moto, in two regions.
      config: {
        providers: {
          aws: {
            regions: [REGION, OTHER_REGION],
            endpoint: proxy.endpoint,
            images: { [REGION]: IMAGE_NAME, [OTHER_REGION]: IMAGE_NAME },
            ...playedVmProvider('15s'),
          },
        },
      },
      env: motoEnv(REGION),
    };
  },
  teardown: async () => {
    await player?.stop();
    await proxy?.stop();
    ec2?.destroy();
    await moto?.stop();
  },
  timeoutMs: 300_000,
});

async function instanceState(id: string): Promise<string | undefined> {
  const res = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
  return res.Reservations?.[0]?.Instances?.[0]?.State?.Name;
}

function awsSpec(name: string, placement: Record<string, unknown> = {}) {
  return serviceSpec(name, {
    resources: { gpu: 'T4:1' },
    placement: { providers: ['aws'], regions: [REGION], ...placement },
    health: { heartbeatTimeout: '5s', startupGrace: '60s' },
  });
}

/** Instances in moto carrying this workload's tag, with their states. */
async function taggedInstances(workload: string): Promise<Array<{ id: string; state?: string }>> {
  const res = await ec2.send(
    new DescribeInstancesCommand({ Filters: [{ Name: 'tag:driftless:workload', Values: [workload] }] }),
  );
  return (res.Reservations ?? [])
    .flatMap((r) => r.Instances ?? [])
    .map((i) => ({ id: i.InstanceId!, state: i.State?.Name }));
}

/** Waits until the workload runs on an instance other than `not`, played by the player. */
const runningOn = (name: string, not?: string) => runningOnPlayedVm(e2e, player, name, not);

test('a service placed on AWS runs under the played VM, and stop terminates the instance', async () => {
  const name = 'aws-svc';
  await e2e.withWorkload(awsSpec(name), async () => {
    const s = await runningOn(name);
    expect(s.provider).toBe('aws');
    expect(s.region).toBe(REGION);
    expect(s.instanceId).toMatch(/^i-[0-9a-f]+$/);
    const id = s.instanceId!;
    expect(player.running()).toEqual([id]);
    expect(await instanceState(id)).toBe('running');
    await waitFor(() => workloadProcesses(name).length === 1, 'the workload process', 30_000);

    const r = await e2e.cli(['stop', name, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ phase: 'STOPPED', workflowStatus: 'COMPLETED' });
    expect(await instanceState(id)).toMatch(/^(shutting-down|terminated)$/);
    await waitFor(
      () => player.running().length === 0 && player.alive(id).length === 0,
      'the VM to stop',
      30_000,
    );
    await waitFor(() => workloadProcesses(name).length === 0, 'the workload to end', 30_000);
  });
});

test('an instance AWS takes away is lost, and the workload is placed again on a new instance', async () => {
  const name = 'aws-lost';
  await e2e.withWorkload(awsSpec(name), async () => {
    const first = await runningOn(name);
    const old = first.instanceId!;
    await ec2.send(new TerminateInstancesCommand({ InstanceIds: [old] }));

    const second = await runningOn(name, old);
    expect(second.provider).toBe('aws');
    expect(second.instanceId).toMatch(/^i-[0-9a-f]+$/);
    expect(second.instanceId).not.toBe(old);
    expect(second.status?.timeline.map((e) => e.type)).toContain('lost');
    await waitFor(() => player.alive(old).length === 0, 'the old VM to stop', 30_000);
    expect(player.running()).toEqual([second.instanceId]);
    await waitFor(() => workloadProcesses(name).length === 1, 'one workload process', 30_000);

    const r = await e2e.cli(['stop', name, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ workflowStatus: 'COMPLETED' });
    await waitFor(() => player.running().length === 0, 'every VM to stop', 30_000);
    await waitFor(() => workloadProcesses(name).length === 0, 'the workload to end', 30_000);
  });
});

test('a capacity error in the chosen zone moves the workload to the next zone and blocks that zone', async () => {
  const name = 'aws-capacity';
  proxy.clear();
  proxy.fail('RunInstances', { code: 'InsufficientInstanceCapacity', status: 500, times: 1 });
  await e2e.withWorkload(awsSpec(name), async () => {
    const s = await runningOn(name);
    const timeline = s.status!.timeline;
    const tried = triedOffers(s);
    expect(tried).toHaveLength(2);
    expect(tried[0]).not.toBe(tried[1]);
    const failed = timeline.find((e) => e.type === 'provision-failed');
    expect(failed?.message).toMatch(/CapacityError/);
    const firstZone = /aws\/us-east-1\/(\S+) /.exec(tried[0]!)?.[1];
    expect(timeline.find((e) => e.type === 'blocked')?.message).toContain(
      `aws/${REGION}/${firstZone} blocked`,
    );
    // The adapter did not retry the capacity error: one refused launch, then one in the next zone.
    expect(proxy.calls('RunInstances')).toHaveLength(2);
    expect(s.status?.attempts).toBe(2);
  });
});

test('a spot interruption re-places the workload and blocks the interrupted zone', async () => {
  const name = 'aws-spot';
  proxy.clear();
  await e2e.withWorkload(
    awsSpec(name, { spot: 'require' }),
    async () => {
      const first = await runningOn(name);
      expect(triedOffers(first)[0]).toMatch(/\(spot\)$/);
      const old = first.instanceId!;
      // EC2 reclaims the instance: moto terminates it, and the worker's view of it carries the
      // state reason a spot interruption has (moto itself only knows user-initiated shutdowns).
      proxy.rewrite('DescribeInstances', (xml) =>
        xml.replace(/Client\.UserInitiatedShutdown/g, 'Server.SpotInstanceTermination'),
      );
      await ec2.send(new TerminateInstancesCommand({ InstanceIds: [old] }));

      const second = await runningOn(name, old);
      const timeline = second.status!.timeline;
      expect(timeline.find((e) => e.type === 'lost')?.message).toMatch(
        new RegExp(`lost ${old} .*provider reports the instance preempted`),
      );
      const blocked = timeline.filter((e) => e.type === 'blocked').map((e) => e.message);
      expect(blocked).toEqual([
        expect.stringMatching(new RegExp(`^aws/${REGION}/${first.zone} blocked .* after a preemption$`)),
      ]);
      expect(second.zone).not.toBe(first.zone);
      expect(second.status?.recoveries).toBe(1);
      expect(second.status?.restarts).toBe(0);
      await waitFor(() => player.alive(old).length === 0, 'the interrupted VM to stop', 30_000);
      expect(player.running()).toEqual([second.instanceId]);
    },
    () => proxy.clear(),
  );
});

test('a quota error in one region moves the workload to the next region and blocks the whole region', async () => {
  const name = 'aws-quota';
  proxy.clear();
  proxy.fail('RunInstances', { code: 'VcpuLimitExceeded', status: 400, region: REGION });
  await e2e.withWorkload(
    awsSpec(name, { regions: [REGION, OTHER_REGION] }),
    async () => {
      const s = await runningOn(name);
      expect(s.region).toBe(OTHER_REGION);
      const tried = triedOffers(s);
      // The cheapest offer is in REGION; after its quota error, no other zone of REGION is tried.
      expect(tried).toHaveLength(2);
      expect(tried[0]).toMatch(new RegExp(`^aws/${REGION}/`));
      expect(tried[1]).toMatch(new RegExp(`^aws/${OTHER_REGION}/`));
      const timeline = s.status!.timeline;
      expect(timeline.find((e) => e.type === 'provision-failed')?.message).toMatch(
        /QuotaError: .*VcpuLimitExceeded|QuotaError/,
      );
      expect(timeline.find((e) => e.type === 'blocked')?.message).toMatch(
        new RegExp(`^aws/${REGION} blocked .* after QuotaError$`),
      );
      expect(proxy.calls('RunInstances').map((c) => c.region)).toEqual([REGION, OTHER_REGION]);
    },
    () => proxy.clear(),
  );
});

test('refused credentials disable AWS for the workload, which runs on the next provider', async () => {
  const name = 'aws-auth';
  proxy.clear();
  proxy.fail('RunInstances', { code: 'UnauthorizedOperation', status: 403 });
  await e2e.withWorkload(
    awsSpec(name, { providers: ['aws', 'local'], regions: [REGION, 'lab-t4'] }),
    async () => {
      const s = await runningOn(name);
      expect(s.provider).toBe('local');
      const tried = triedOffers(s);
      expect(tried[0]).toMatch(/^aws\//);
      expect(tried.slice(1).every((t) => t.startsWith('local/'))).toBe(true);
      const timeline = s.status!.timeline;
      expect(timeline.find((e) => e.type === 'provision-failed')?.message).toMatch(/AuthError/);
      expect(timeline.find((e) => e.type === 'blocked')?.message).toMatch(/^aws blocked .* after AuthError$/);
      expect(proxy.calls('RunInstances')).toHaveLength(1);
    },
    () => proxy.clear(),
  );
});

test('a worker killed after RunInstances took effect but before provision completed leaves exactly one instance', async () => {
  const name = 'aws-crash';
  proxy.clear();
  // The launch reaches EC2, but its answer never reaches the worker, which is then killed.
  proxy.withholdResponse('RunInstances', 1);
  await e2e.withWorkload(
    awsSpec(name),
    async () => {
      await waitFor(
        async () => (await taggedInstances(name)).length === 1,
        'the launch to reach EC2',
        60_000,
      );
      await e2e.worker.kill('SIGKILL');
      e2e.worker = await startWorker(e2e.env);

      const s = await runningOn(name);
      const instances = await taggedInstances(name);
      expect(instances).toEqual([{ id: s.instanceId, state: 'running' }]);
      expect(s.status?.attempts).toBe(1);
      expect(proxy.calls('RunInstances')).toHaveLength(1);
      expect(player.running()).toContain(s.instanceId);
    },
    () => proxy.clear(),
  );
});

/** Instances of the workload that still run (or are about to): what would be billed. */
async function billed(workload: string): Promise<string[]> {
  return (await taggedInstances(workload))
    .filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down')
    .map((i) => i.id);
}

/** How long RunInstances is held before it reaches EC2 (moto) in the slow-provision tests. */
const SLOW_LAUNCH_MS = 8_000;

/**
 * Applies `name` (hedged over `launches` launches when more than one), holds each RunInstances
 * for SLOW_LAUNCH_MS, stops the workload once all launches are sent, and checks that the stop
 * completes and that nothing is billed once the held launches have reached EC2.
 */
async function stopDuringSlowLaunches(name: string, launches: 1 | 3): Promise<void> {
  proxy.clear();
  proxy.delay('RunInstances', SLOW_LAUNCH_MS, launches);
  try {
    await e2e.apply(awsSpec(name, launches === 1 ? {} : { hedge: launches }));
    const sent = launches === 1 ? 'RunInstances' : 'three RunInstances';
    await waitFor(() => proxy.calls('RunInstances').length === launches, `${sent} to be sent`, 60_000);
    const sentAt = Date.now();
    const r = await e2e.cli(['stop', name, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ workflowStatus: 'COMPLETED' });
    // The held launches reach EC2 whatever their caller did meanwhile; look once they have.
    await sleep(Math.max(0, sentAt + SLOW_LAUNCH_MS + 3_000 - Date.now()));
    expect(await billed(name)).toEqual([]);
  } finally {
    proxy.clear();
  }
}

test('a stop during a slow provision leaves no instance once the workflow completes', async () => {
  await stopDuringSlowLaunches('aws-slow-stop', 1);
});

test('a stop during a hedge of three slow launches leaves no instance once the workflow completes', async () => {
  await stopDuringSlowLaunches('aws-hedge-stop', 3);
});

test('a hedge of three where two launches are slow: the losers are ended once their launches land, the winner runs', async () => {
  const name = 'aws-hedge-slow';
  proxy.clear();
  // The first two launches of the hedge are slow; the third wins.
  proxy.delay('RunInstances', SLOW_LAUNCH_MS, 2);
  await e2e.withWorkload(
    awsSpec(name, { hedge: 3 }),
    async () => {
      const s = await runningOn(name);
      expect(s.status?.attempts).toBe(3);
      const firstSentAt = Date.now();
      await sleep(SLOW_LAUNCH_MS + 3_000);
      // Each loser's launch landed and was ended by its id; the losers' zones are not blocked.
      await waitFor(
        async () => {
          const left = await billed(name);
          return left.length === 1 && left[0] === s.instanceId;
        },
        `only ${s.instanceId} to be left (losers ended ${Date.now() - firstSentAt} ms in)`,
        30_000,
      );
      const now = await e2e.status(name);
      expect(now.status?.blocks ?? []).toEqual([]);
    },
    () => proxy.clear(),
  );
  expect(await billed(name)).toEqual([]);
});

test('an auth error on AWS while the local pool is briefly down is not fatal: the workload waits and runs on the pool', async () => {
  const name = 'aws-auth-blip';
  proxy.clear();
  proxy.fail('RunInstances', { code: 'UnauthorizedOperation', status: 403 });
  expect((await e2e.cli(['pool', 'down', 'lab-t4'])).code).toBe(0);
  const spec = {
    ...awsSpec(name, { providers: ['aws', 'local'], regions: [REGION, 'lab-t4'] }),
    recovery: { maxRestarts: 2, cooldown: '3s' },
  };
  try {
    await e2e.withWorkload(spec, async () => {
      // One round: AWS refused the credentials, the pool was down. The workflow waits.
      const waiting = await e2e.waitStatus(
        name,
        (s) =>
          (s.status?.timeline ?? []).some((e) => e.type === 'no-offer' && /placing again/.test(e.message)),
        'the workflow to wait for a location',
        { timeoutMs: 60_000 },
      );
      expect(waiting.workflowStatus).toBe('RUNNING');
      const failed = waiting
        .status!.timeline.filter((e) => e.type === 'provision-failed')
        .map((e) => e.message);
      expect(failed.some((m) => /AuthError/.test(m))).toBe(true);
      expect(failed.some((m) => /lab-t4 is down/.test(m))).toBe(true);
      expect((await e2e.cli(['pool', 'up', 'lab-t4'])).code).toBe(0);
      const s = await runningOn(name);
      expect(s.provider).toBe('local');
    });
  } finally {
    proxy.clear();
    await e2e.cli(['pool', 'up', 'lab-t4']);
  }
});

test('a spot interruption notice moves a service before its instance goes: RUNNING elsewhere first, no failed probe', async () => {
  const name = 'aws-notice';
  const server =
    "require('http').createServer((q, r) => r.end(process.env.DRIFTLESS_INSTANCE_ID)).listen(process.env.PORT, '127.0.0.1')";
  const spec = serviceSpec(name, {
    command: ['node', '-e', server, marker(name)],
    resources: { gpu: 'T4:1' },
    placement: { providers: ['aws'], regions: [REGION] },
    health: { heartbeatTimeout: '5s', startupGrace: '60s', http: { path: '/', interval: '200ms' } },
  });
  await e2e.withWorkload(spec, async () => {
    const first = await runningOn(name);
    // Probe whatever the status names as the endpoint (played VMs serve on loopback).
    let port = Number(first.endpoint!.split(':').pop());
    const failures: string[] = [];
    let answers = 0;
    let probing = true;
    const probe = (async () => {
      while (probing) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
          if (res.ok) answers++;
          else failures.push(`${port}: ${res.status}`);
        } catch (err) {
          failures.push(`${port}: ${(err as Error).message}`);
        }
        await sleep(100);
      }
    })();
    const follow = (async () => {
      while (probing) {
        const s = await e2e.status(name).catch(() => undefined);
        if (s?.phase === 'RUNNING' && s.endpoint) port = Number(s.endpoint.split(':').pop());
        await sleep(300);
      }
    })();
    try {
      player.metadata.notice(first.instanceId!, 'spot-interruption');
      const second = await runningOn(name, first.instanceId);
      // The old instance is ended by the workflow after the switch (and its drain).
      await waitFor(
        async () => ['shutting-down', 'terminated'].includes((await instanceState(first.instanceId!)) ?? ''),
        'the noticed instance to be terminated',
        60_000,
      );
      await sleep(500);
      const s = await e2e.status(name);
      const timeline = s.status!.timeline;
      const at = (pred: (e: (typeof timeline)[number]) => boolean) => timeline.findIndex(pred);
      expect(timeline.find((e) => e.type === 'notice')?.message).toMatch(/spot interruption: terminate at /);
      const switched = at((e) => e.type === 'switched');
      const ended = at((e) => e.type === 'terminated' && e.instanceId === first.instanceId);
      expect(switched).toBeGreaterThanOrEqual(0);
      expect(ended).toBeGreaterThan(switched);
      expect(timeline.some((e) => e.type === 'lost')).toBe(false);
      expect(second.instanceId).not.toBe(first.instanceId);
      expect(s.status?.blocks?.[0]?.reason).toMatch(/preemption notice/);
    } finally {
      probing = false;
      await Promise.all([probe, follow]);
    }
    console.log(`spot notice: ${answers} probes answered, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(answers).toBeGreaterThan(10);
  });
});

test('an instance AWS will not terminate is handed to reconcile as abandoned; gc ends it once AWS answers and keeps the current one', async () => {
  const name = 'aws-abandon';
  proxy.clear();
  await e2e.withWorkload(
    awsSpec(name, { providers: ['aws', 'local'], regions: [REGION, 'lab-t4'] }),
    async () => {
      const onAws = await runningOn(name);
      expect(onAws.provider).toBe('aws');
      const old = onAws.instanceId!;
      // AWS refuses every termination from now on: the move cannot end the old instance.
      proxy.fail('TerminateInstances', { code: 'UnauthorizedOperation', status: 403 });
      const moved = await e2e.cli(['migrate', name, '--to', 'local/lab-t4'], 180_000);
      expect(moved.code).toBe(0);
      const s = await e2e.waitStatus(
        name,
        (v) => v.status?.abandoned?.instances.includes(old) === true,
        `${old} recorded as abandoned`,
        { timeoutMs: 180_000 },
      );
      expect(s).toMatchObject({ phase: 'RUNNING', provider: 'local' });
      expect(s.status!.timeline.find((e) => e.type === 'abandoned')?.message).toMatch(
        new RegExp(`${old}.*terminate failed`),
      );
      expect(proxy.calls('TerminateInstances').length).toBeGreaterThan(0);
      // Still billed: nothing ended it.
      expect(await instanceState(old)).toBe('running');

      // AWS answers again; reconcile ends the abandoned instance though its workflow is open.
      proxy.clear();
      const report = await cliJson<ReconcileReport>(['gc', '--grace', '0s'], e2e.env);
      // Ended as what the workflow handed over, not merely as an old attempt.
      expect(report.terminated.find((i) => i.id === old)?.reason).toMatch(
        /could not end it and left it to reconcile/,
      );
      expect(report.kept.map((i) => i.id)).toContain(s.instanceId);
      await waitFor(
        async () => ['shutting-down', 'terminated'].includes((await instanceState(old)) ?? ''),
        `${old} terminated`,
        30_000,
      );
      const after = await e2e.status(name);
      expect(after).toMatchObject({ phase: 'RUNNING', instanceId: s.instanceId });
    },
    () => proxy.clear(),
  );
});
