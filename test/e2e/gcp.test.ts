/**
 * A workload placed on GCP (the fake Compute Engine of test/support/gcp-server.ts) by the real
 * worker process, with the fake playing each VM: while an instance is RUNNING, its startup-script
 * runs locally and the agent it starts runs the workload (test/support/gce-player.ts).
 */
import { randomBytes } from 'node:crypto';
import {
  LOG_LEVEL,
  serviceSpec,
  sleep,
  waitFor,
  workloadProcesses,
  type StatusJson,
} from '../support/harness';
import {
  explainPlayed,
  playedVmProvider,
  runningOnPlayedVm,
  triedOffers,
  useE2eInstallation,
} from '../support/e2e';
import { GCE_HTTP_ERRORS, startFakeGce, type FakeGce, type HttpFault } from '../support/gcp-server';
import { GcePlayer } from '../support/gce-player';

const REGION = 'us-central1';
/** The local pool: dear, so that only a spec allowing it, with GCP out of reach, lands there. */
const POOL = 'lab-l4';

type Timeline = NonNullable<StatusJson['status']>['timeline'];

let fake: FakeGce;
let player: GcePlayer;
const owner = `e2e-gcp-${randomBytes(3).toString('hex')}`;

const e2e = useE2eInstallation({
  pools: [{ name: POOL, gpus: { type: 'L4', count: 1 }, pricePerGpuHour: 50 }],
  config: { owner },
  setup: async () => {
    fake = await startFakeGce();
    player = new GcePlayer(fake, { env: { DRIFTLESS_LOG_LEVEL: LOG_LEVEL } });
    await player.start();
    // GCP on the fake: the catalog's L4 zones of one region.
    const gcp = { project: fake.project, regions: [REGION], endpoint: fake.endpoint, credentials: 'none' };
    return { config: { providers: { gcp: { ...gcp, ...playedVmProvider('5s') } } } };
  },
  teardown: async () => {
    await player?.stop();
    await fake?.close();
  },
  timeoutMs: 300_000,
});

afterEach(async () => {
  await fake.outage(false);
});

function gcpSpec(name: string, placement: Record<string, unknown> = {}) {
  return serviceSpec(name, {
    resources: { gpu: 'L4:1' },
    placement: { providers: ['gcp'], regions: [REGION], ...placement },
    health: { heartbeatTimeout: '5s', startupGrace: '60s' },
  });
}

const events = (t: Timeline, type: string) => t.filter((e) => e.type === type).map((e) => e.message);

/** The workload RUNNING on an instance other than `not`; waits for it. */
const runningOn = (name: string, not?: string) => runningOnPlayedVm(e2e, player, name, not);

/**
 * Applies `spec` to a fake reset to a clean state (then given `inject`'s faults) and hands the
 * workload, once RUNNING, to `body`; stops it at the end, after lifting any outage.
 */
async function runOnGcp(
  spec: { name: string },
  body: (running: StatusJson) => Promise<void>,
  inject?: () => void,
): Promise<void> {
  fake.reset();
  inject?.();
  await e2e.withWorkload(
    spec,
    async () => body(await runningOn(spec.name)),
    () => fake.outage(false),
  );
}

/** Stops the workload and checks that nothing it ran is left. */
async function stopAndCheck(name: string): Promise<void> {
  const r = await e2e.cli(['stop', name, '--json']);
  expect(r.code).toBe(0);
  await waitFor(() => player.running().length === 0, 'every played VM to stop', 30_000);
  await waitFor(() => workloadProcesses(name).length === 0, 'the workload to end', 30_000);
}

test('a service placed on GCP runs on the played VM, and stop deletes the instance', async () => {
  const name = 'gcp-svc';
  await runOnGcp(gcpSpec(name), async (s) => {
    expect(s).toMatchObject({ provider: 'gcp', region: REGION, instanceType: 'g2-standard-4' });
    expect(s.zone).toMatch(/^us-central1-[abc]$/);
    const id = s.instanceId!;
    expect(id).toMatch(/^driftless-gcp-svc-[0-9a-f]{16}$/);
    const inst = fake.instance(s.zone!, id);
    expect(inst?.status).toBe('RUNNING');
    expect(inst?.labels).toMatchObject({ 'driftless-owner': owner, 'driftless-workload': name });
    expect(inst?.scheduling?.provisioningModel).toBe('STANDARD');
    expect(player.running()).toEqual([id]);
    await waitFor(() => workloadProcesses(name).length === 1, 'the workload process', 30_000);
    expect(player.list()[0]?.output()).not.toMatch(/error/i);

    const r = await e2e.cli(['stop', name, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ phase: 'STOPPED', workflowStatus: 'COMPLETED' });
    expect(fake.calls('instances.delete').map((c) => c.path)).toEqual([
      `/compute/v1/projects/${fake.project}/zones/${s.zone}/instances/${id}`,
    ]);
    await waitFor(() => fake.instance(s.zone!, id) === undefined, 'the instance to be deleted', 10_000);
    await waitFor(() => player.alive(id).length === 0, 'the played VM to stop', 30_000);
    await waitFor(() => workloadProcesses(name).length === 0, 'the workload to end', 30_000);
  });
});

const exhausted: Array<[string, (f: FakeGce) => void]> = [
  [
    'in the insert operation',
    (f) => f.failOperation('instances.insert', { code: 'ZONE_RESOURCE_POOL_EXHAUSTED' }),
  ],
  [
    'as the answer to the insert call',
    (f) => f.failHttp('instances.insert', GCE_HTTP_ERRORS.zoneResourcePoolExhausted as HttpFault),
  ],
];

test.each(exhausted)(
  'ZONE_RESOURCE_POOL_EXHAUSTED %s moves the workload to the next zone and blocks the first',
  async (how, inject) => {
    const name = `gcp-zrpe-${how.includes('operation') ? 'op' : 'http'}`;
    await runOnGcp(
      gcpSpec(name),
      async (s) => {
        const offers = triedOffers(s);
        expect(offers).toHaveLength(2);
        const [first, second] = offers.map((o) => /^gcp\/us-central1\/(us-central1-[a-z]) /.exec(o)?.[1]);
        expect(first).toBeDefined();
        expect(second).toBeDefined();
        expect(second).not.toBe(first);
        expect(s.zone).toBe(second);
        const timeline = s.status!.timeline;
        expect(events(timeline, 'provision-failed')).toEqual([
          expect.stringMatching(/CapacityError: .*ZONE_RESOURCE_POOL_EXHAUSTED/),
        ]);
        expect(events(timeline, 'blocked')).toEqual([
          expect.stringMatching(new RegExp(`^gcp/${REGION}/${first} blocked .* after CapacityError$`)),
        ]);
        // The adapter did not retry the capacity error: one refused create, then one in the next zone.
        expect(fake.calls('instances.insert').map((c) => c.zone)).toEqual([first, second]);
        expect(s.status?.attempts).toBe(2);
        expect(player.running()).toEqual([s.instanceId]);
        await stopAndCheck(name);
      },
      () => inject(fake),
    );
  },
);

test('a preempted spot instance is lost, and the workload is placed again in another zone', async () => {
  const name = 'gcp-spot';
  await runOnGcp(gcpSpec(name, { spot: 'require' }), async (first) => {
    expect(triedOffers(first)[0]).toMatch(/\(spot\)$/);
    const old = first.instanceId!;
    expect(fake.instance(first.zone!, old)?.scheduling).toMatchObject({
      provisioningModel: 'SPOT',
      instanceTerminationAction: 'DELETE',
    });
    await waitFor(() => workloadProcesses(name).length === 1, 'the workload process', 30_000);

    // GCE reclaims it: a compute.instances.preempted operation, the instance deleted, the VM gone.
    fake.preempt(first.zone!, old);
    const second = await runningOn(name, old);
    expect(second.provider).toBe('gcp');
    expect(second.zone).not.toBe(first.zone);
    const timeline = second.status!.timeline;
    expect(events(timeline, 'lost')).toEqual([
      expect.stringMatching(new RegExp(`^lost ${old} on gcp/${REGION}: .*instance preempted`)),
    ]);
    expect(events(timeline, 'blocked')).toEqual([
      expect.stringMatching(new RegExp(`^gcp/${REGION}/${first.zone} blocked .* after a preemption$`)),
    ]);
    expect(triedOffers(second)[1]).toMatch(new RegExp(`^gcp/${REGION}/${second.zone} .*\\(spot\\)$`));
    expect(second.status).toMatchObject({ recoveries: 1, restarts: 0 });
    await waitFor(() => player.alive(old).length === 0, 'the preempted VM to stop', 30_000);
    expect(player.running()).toEqual([second.instanceId]);
    await waitFor(() => workloadProcesses(name).length === 1, 'one workload process', 30_000);
    await stopAndCheck(name);
  });
});

/** Bash in the VM, the agent and the workload: what a played VM runs while it lives. */
const vmIsUp = (id: string) => player.running().includes(id) && player.alive(id).length >= 2;

test('Compute Engine not answering does not disturb a workload whose VM runs on', async () => {
  const name = 'gcp-api-down';
  await runOnGcp(gcpSpec(name), async (first) => {
    await waitFor(() => workloadProcesses(name).length === 1, 'the workload process', 30_000);
    await fake.outage('unavailable');
    // The watcher's batched describe: one aggregated list of the installation's instances.
    const polls = () => fake.calls('instances.aggregatedList').length;
    const since = polls();
    // Longer than the heartbeat timeout, with the instance's state polled (and failing) meanwhile.
    await sleep(7000);
    expect(polls()).toBeGreaterThan(since + 3);
    const s = await e2e.status(name);
    expect(s).toMatchObject({ phase: 'RUNNING', instanceId: first.instanceId, workflowStatus: 'RUNNING' });
    expect(events(s.status!.timeline, 'lost')).toEqual([]);
    expect(vmIsUp(first.instanceId!)).toBe(true);
    expect(workloadProcesses(name)).toHaveLength(1);
    await fake.outage(false);
    await stopAndCheck(name);
  });
});

test('a VM lost while Compute Engine does not answer is deleted once it answers, and the workload placed again', async () => {
  const name = 'gcp-lost-in-outage';
  await runOnGcp(gcpSpec(name), async (first) => {
    const old = first.instanceId!;
    await fake.outage('unavailable');
    // Each failing delete takes a while to fail, as it does when GCE is down: the few tries the
    // workflow gives a lost instance's delete then outlast this test's look at the workload (a
    // CLI call, slow on a loaded machine), and the outage is over before they run out.
    fake.slow('instances.delete', 1500);
    // The zone goes down with the API: the VM dies, GCE's record of it is out of reach.
    await player.kill(old);
    const deletes = () => fake.calls('instances.delete').filter((c) => c.path.endsWith(`/${old}`)).length;
    // The delete is tried again and again (one try of the terminate activity sends maxAttempts).
    await waitFor(() => deletes() > 4, 'the terminate activity to be retried', 30_000);
    const waiting = await e2e.status(name);
    expect(waiting).toMatchObject({ workflowStatus: 'RUNNING', phase: 'RECOVERING' });
    expect(events(waiting.status!.timeline, 'lost')).toEqual([
      expect.stringMatching(new RegExp(`^lost ${old} on gcp/${REGION}: `)),
    ]);
    expect(fake.instance(first.zone!, old)).toBeDefined();

    await fake.outage(false);
    fake.slow('instances.delete', 0);
    const second = await runningOn(name, old);
    expect(fake.instance(first.zone!, old)).toBeUndefined();
    expect(second.provider).toBe('gcp');
    expect(second.zone).not.toBe(first.zone);
    const timeline = second.status!.timeline;
    expect(events(timeline, 'terminated')).toEqual([expect.stringContaining(`terminated ${old} `)]);
    expect(events(timeline, 'blocked')).toEqual([
      expect.stringMatching(new RegExp(`^gcp/${REGION}/${first.zone} blocked .* after losing an instance$`)),
    ]);
    expect(player.running()).toEqual([second.instanceId]);
    await stopAndCheck(name);
  });
});

test('an outage of GCP after its zone took the VM moves the workload to the local pool', async () => {
  const name = 'gcp-outage';
  await runOnGcp(gcpSpec(name, { providers: ['gcp', 'local'], regions: [REGION, POOL] }), async (first) => {
    expect(first.provider).toBe('gcp');
    const old = first.instanceId!;

    // The zone takes the VM and its record; GCE still answers the delete of the lost instance
    // (404: gone), and goes down right after: placing the workload again meets the outage.
    fake.onRequest((r) => {
      if (r.rpc === 'instances.delete' && r.path.endsWith(`/${old}`)) {
        fake.removeAllListeners('request');
        setImmediate(() => void fake.outage('unavailable'));
      }
    });
    fake.removeInstance(first.zone!, old);
    const failed = await e2e
      .waitStatus(
        name,
        (s) => events(s.status!.timeline, 'provision-failed').length > 0,
        'a provision to fail',
        { timeoutMs: 60_000, everyMs: 300 },
      )
      .catch(explainPlayed(e2e, player));
    expect(events(failed.status!.timeline, 'provision-failed')).toEqual([
      expect.stringMatching(
        new RegExp(`^attempt 2 on gcp/${REGION} failed: ProviderUnavailableError: .*backendError`),
      ),
    ]);
    // What the failed attempt may have left is looked for until GCE answers: the workflow waits.
    await sleep(3000);
    expect(await e2e.status(name)).toMatchObject({ workflowStatus: 'RUNNING' });

    await fake.outage(false);
    const s = await runningOn(name, old);
    expect(s).toMatchObject({ provider: 'local', region: POOL });
    const timeline = s.status!.timeline;
    expect(events(timeline, 'lost')).toEqual([
      expect.stringMatching(new RegExp(`^lost ${old} on gcp/${REGION}: .*not-found`)),
    ]);
    expect(events(timeline, 'blocked')).toEqual([
      expect.stringMatching(new RegExp(`^gcp/${REGION}/${first.zone} blocked .* after losing an instance$`)),
      expect.stringMatching(new RegExp(`^gcp/${REGION} blocked .* after ProviderUnavailableError$`)),
    ]);
    expect(triedOffers(s).map((o) => o.split(' ')[0])).toEqual([
      `gcp/${REGION}/${first.zone}`,
      expect.stringMatching(new RegExp(`^gcp/${REGION}/`)),
      `local/${POOL}`,
    ]);
    // Every try of the create met the outage; nothing was created.
    expect(fake.instances()).toEqual([]);
    expect(player.running()).toEqual([]);
    await waitFor(() => workloadProcesses(name).length === 1, 'the workload on the local pool', 30_000);
    await stopAndCheck(name);
  });
});
