/**
 * The GCP provider through the real @google-cloud/compute client (REST transport) over HTTP to a
 * fake Compute Engine on loopback.
 */
import { GCP_LABELS, gceInstanceName, gceRequestId } from '../../../src/providers/gcp/names';
import { InvalidRequestError } from '../../../src/providers/errors';
import { startFakeGce } from '../../support/gcp-server';
import { OTHER_ZONE, OWNER, PROJECT, ZONE, makeProvider, offer, request, until, useFakeGce } from './helpers';

const fakeGce = useFakeGce();

type InsertBody = {
  name: string;
  machineType: string;
  labels: Record<string, string>;
  metadata: { items: Array<{ key: string; value: string }> };
  scheduling: Record<string, unknown>;
  guestAccelerators?: Array<{ acceleratorType: string; acceleratorCount: number }>;
  disks: Array<{ boot: boolean; autoDelete: boolean; initializeParams: Record<string, unknown> }>;
  networkInterfaces: Array<{ accessConfigs?: unknown[]; network?: string; subnetwork?: string }>;
  serviceAccounts?: Array<{ email: string; scopes: string[] }>;
};

function insertBody(n = 0): InsertBody {
  const call = fakeGce().calls('instances.insert')[n];
  if (!call) throw new Error(`no insert #${n}`);
  return call.body as unknown as InsertBody;
}

describe('offers', () => {
  test('come from the bundled gcp catalog, only in the configured zones', async () => {
    const offers = await makeProvider(fakeGce()).offers();
    expect(new Set(offers.map((o) => o.zone))).toEqual(new Set([ZONE, 'us-central1-b', OTHER_ZONE]));
    expect(offers.every((o) => o.provider === 'gcp')).toBe(true);
    expect(offers.some((o) => o.instanceType.startsWith('n1-') && o.gpuType === 'T4')).toBe(true);
  });

  test('configured regions expand to every catalog zone in them', async () => {
    const p = makeProvider(fakeGce(), { zones: undefined, regions: ['us-central1'] });
    const zones = await p.zones();
    expect(zones).toEqual(expect.arrayContaining(['us-central1-a', 'us-central1-b', 'us-central1-c']));
    expect(zones.every((z) => z.startsWith('us-central1-'))).toBe(true);
    expect(new Set((await p.offers()).map((o) => o.region))).toEqual(new Set(['us-central1']));
  });
});

describe('provision', () => {
  test('sends one insert with the machine type, attached GPUs, TERMINATE on maintenance, labels, metadata, boot disk, and a requestId', async () => {
    const p = makeProvider(fakeGce(), {
      bootDiskGb: 200,
      image: 'projects/my-images/global/images/family/gpu',
    });
    const req = request(offer(), { labels: { workload: 'Train_Big', attempt: 3 } });
    const inst = await p.provision(req);

    const name = gceInstanceName(req.idempotencyKey, 'n1-standard-8', ZONE, 'Train_Big');
    expect(inst).toMatchObject({
      provider: 'gcp',
      id: name,
      region: 'us-central1',
      zone: ZONE,
      offer: req.offer,
    });
    expect(['pending', 'running']).toContain(inst.state);
    expect(inst.address).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(name).toMatch(/^driftless-train-big-[0-9a-f]{16}$/);

    const [call] = fakeGce().calls('instances.insert');
    expect(fakeGce().calls('instances.insert')).toHaveLength(1);
    expect(call!.path).toBe(`/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances`);
    expect(call!.requestId).toBe(gceRequestId(req.idempotencyKey, 'n1-standard-8', ZONE));
    expect(call!.requestId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(call!.authorization).toBeUndefined();

    const body = insertBody();
    expect(body.name).toBe(name);
    expect(body.machineType).toBe(`zones/${ZONE}/machineTypes/n1-standard-8`);
    expect(body.guestAccelerators).toEqual([
      { acceleratorType: `zones/${ZONE}/acceleratorTypes/nvidia-tesla-t4`, acceleratorCount: 1 },
    ]);
    expect(body.scheduling).toEqual({
      provisioningModel: 'STANDARD',
      onHostMaintenance: 'TERMINATE',
      automaticRestart: true,
    });
    expect(body.labels).toEqual({
      [GCP_LABELS.owner]: OWNER,
      [GCP_LABELS.namespace]: req.labels.namespace,
      [GCP_LABELS.installation]: req.labels.installation,
      [GCP_LABELS.workload]: expect.stringMatching(/^train_big-[0-9a-f]{10}$/),
      [GCP_LABELS.workflowId]: req.labels.workflowId,
      [GCP_LABELS.attempt]: '3',
    });
    const meta = Object.fromEntries(body.metadata.items.map((i) => [i.key, i.value]));
    expect(meta[GCP_LABELS.workload]).toBe('Train_Big');
    expect(meta[GCP_LABELS.workflowId]).toBe(req.labels.workflowId);
    const script = meta['startup-script']!;
    expect(script).toMatch(/^#!\/bin\/bash\n/);
    expect(script).toContain("export TEMPORAL_ADDRESS='temporal.example:7233'");
    expect(script).toContain("export TEMPORAL_NAMESPACE='prod'");
    expect(script).toContain('npm install -g https://example.com/driftless-0.1.0.tgz');
    expect(script).toContain(`DRIFTLESS_INSTANCE_ID="\${DRIFTLESS_INSTANCE_ID:-${name}}"`);
    expect(body.disks).toEqual([
      expect.objectContaining({
        boot: true,
        autoDelete: true,
        initializeParams: expect.objectContaining({
          sourceImage: 'projects/my-images/global/images/family/gpu',
          diskSizeGb: '200',
          diskType: `zones/${ZONE}/diskTypes/pd-balanced`,
        }),
      }),
    ]);
    expect(body.networkInterfaces[0]!.accessConfigs).toEqual([
      { name: 'External NAT', type: 'ONE_TO_ONE_NAT' },
    ]);
  });

  test('asks for SPOT with a DELETE termination action when the offer is spot', async () => {
    const inst = await makeProvider(fakeGce()).provision(request(offer({ spot: true })));
    expect(insertBody().scheduling).toEqual({
      provisioningModel: 'SPOT',
      instanceTerminationAction: 'DELETE',
      onHostMaintenance: 'TERMINATE',
      automaticRestart: false,
    });
    expect(inst.details?.provisioningModel).toBe('SPOT');
  });

  test('attaches no accelerators to a machine type with GPUs built in (A2)', async () => {
    await makeProvider(fakeGce()).provision(
      request(
        offer({ instanceType: 'a2-highgpu-1g', gpuType: 'A100', gpuCount: 1, vcpus: 12, memoryGb: 85 }),
      ),
    );
    const body = insertBody();
    expect(body.machineType).toBe(`zones/${ZONE}/machineTypes/a2-highgpu-1g`);
    expect(body.guestAccelerators ?? []).toEqual([]);
    expect(body.scheduling.onHostMaintenance).toBe('TERMINATE');
  });

  test('lets a CPU-only on-demand instance live-migrate, and sends network, subnetwork and service account', async () => {
    const p = makeProvider(fakeGce(), {
      network: 'global/networks/gpu',
      subnetwork: 'regions/us-central1/subnetworks/gpu',
      serviceAccount: 'runner@test-project.iam.gserviceaccount.com',
      externalIp: false,
    });
    await p.provision(request(offer({ instanceType: 'n1-standard-4', gpuType: undefined, gpuCount: 0 })));
    const body = insertBody();
    expect(body.scheduling.onHostMaintenance).toBe('MIGRATE');
    expect(body.guestAccelerators ?? []).toEqual([]);
    // No access config at all: no external IP (proto3 JSON leaves the empty list out).
    expect(body.networkInterfaces).toEqual([
      { network: 'global/networks/gpu', subnetwork: 'regions/us-central1/subnetworks/gpu' },
    ]);
    expect(body.serviceAccounts).toEqual([
      {
        email: 'runner@test-project.iam.gserviceaccount.com',
        scopes: ['https://www.googleapis.com/auth/cloud-platform'],
      },
    ]);
  });

  test('retried with the same request, returns the same instance: GCE answers the same requestId with the first operation', async () => {
    const req = request(offer());
    const first = await makeProvider(fakeGce()).provision(req);
    const again = await makeProvider(fakeGce()).provision(req);
    expect(again.id).toBe(first.id);
    const inserts = fakeGce().calls('instances.insert');
    expect(inserts).toHaveLength(2);
    expect(inserts[1]!.requestId).toBe(inserts[0]!.requestId);
    expect(fakeGce().instances()).toHaveLength(1);
  });

  test('when the instance already exists (its create answered alreadyExists), checks its labels and returns it', async () => {
    const req = request(offer(), { labels: { attempt: 2 } });
    // Created by an earlier try whose requestId GCE no longer remembers: only the name matches.
    const name = gceInstanceName(req.idempotencyKey, 'n1-standard-8', ZONE, 'train');
    fakeGce().putInstance(ZONE, {
      name,
      labels: {
        [GCP_LABELS.owner]: OWNER,
        [GCP_LABELS.workload]: 'train',
        [GCP_LABELS.workflowId]: req.labels.workflowId,
        [GCP_LABELS.attempt]: '2',
      },
    });
    const adopted = await makeProvider(fakeGce()).provision(req);
    expect(adopted).toMatchObject({ id: name, state: 'running' });
    expect(fakeGce().calls('instances.insert')).toHaveLength(1);
    expect(
      fakeGce()
        .calls('instances.get')
        .map((c) => c.path),
    ).toEqual([`/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances/${name}`]);
    expect(fakeGce().instances()).toHaveLength(1);
  });

  test("an instance of that name with someone else's labels is a name conflict, not ours", async () => {
    const req = request(offer());
    const name = gceInstanceName(req.idempotencyKey, 'n1-standard-8', ZONE, 'train');
    fakeGce().putInstance(ZONE, { name, labels: { [GCP_LABELS.owner]: 'someone-else' } });
    await expect(makeProvider(fakeGce()).provision(req)).rejects.toMatchObject({
      name: 'InvalidRequestError',
      code: 'NameConflict',
    });
  });

  test('waits through operations that wait answers before they are done', async () => {
    const slow = await startFakeGce({ operationMs: 700, waitMaxMs: 150 });
    try {
      const inst = await makeProvider(slow).provision(request(offer()));
      expect(inst.id).toMatch(/^driftless-/);
      expect(slow.calls('zoneOperations.wait').length).toBeGreaterThanOrEqual(3);
      expect(slow.calls('instances.insert')).toHaveLength(1);
    } finally {
      await slow.close();
    }
  });

  test('refuses a zone that is not configured, without calling GCE', async () => {
    await expect(
      makeProvider(fakeGce()).provision(request(offer({ zone: 'asia-east1-a' }))),
    ).rejects.toBeInstanceOf(InvalidRequestError);
    expect(fakeGce().requests).toHaveLength(0);
  });
});

describe('describe', () => {
  test('maps each GCE status onto the provider states', async () => {
    const p = makeProvider(fakeGce());
    const inst = await p.provision(request(offer()));
    await until(() => fakeGce().instance(ZONE, inst.id)?.status === 'RUNNING');
    const cases: Array<[string, string]> = [
      ['PROVISIONING', 'pending'],
      ['STAGING', 'pending'],
      ['RUNNING', 'running'],
      ['STOPPING', 'stopped'],
      ['STOPPED', 'stopped'],
      ['SUSPENDING', 'stopped'],
      ['SUSPENDED', 'stopped'],
      ['TERMINATED', 'stopped'],
      ['REPAIRING', 'pending'],
    ];
    const seen: Array<[string, string]> = [];
    for (const [status] of cases) {
      fakeGce().setStatus(ZONE, inst.id, status);
      seen.push([status, await p.describe(inst)]);
    }
    expect(seen).toEqual(cases);
  });

  test('a spot instance preempted and deleted by GCE is preempted (from the zone operation)', async () => {
    const p = makeProvider(fakeGce());
    const inst = await p.provision(request(offer({ spot: true })));
    await until(() => fakeGce().instance(ZONE, inst.id)?.status === 'RUNNING');
    fakeGce().preempt(ZONE, inst.id);
    // Told to stop first (STOPPING), as GCE's ACPI soft-off gives the VM time to shut down.
    expect(fakeGce().instance(ZONE, inst.id)?.status).toBe('STOPPING');
    expect(await p.describe(inst)).toBe('preempted');
    await until(() => fakeGce().instance(ZONE, inst.id) === undefined);
    expect(await p.describe(inst)).toBe('preempted');
    const [list] = fakeGce().calls('zoneOperations.list');
    expect(list!.query.filter).toBe(`targetLink eq ".*/instances/${inst.id}"`);
  });

  test('a spot instance GCE preempted and stopped (TERMINATED) is preempted; one stopped by someone is stopped', async () => {
    const p = makeProvider(fakeGce());
    const spot = {
      provisioningModel: 'SPOT',
      instanceTerminationAction: 'STOP',
      onHostMaintenance: 'TERMINATE',
    };
    fakeGce().putInstance(ZONE, { name: 'pre-1', scheduling: spot });
    fakeGce().putInstance(ZONE, { name: 'stopped-1', scheduling: spot });
    fakeGce().preempt(ZONE, 'pre-1');
    fakeGce().setStatus(ZONE, 'stopped-1', 'TERMINATED');
    expect(fakeGce().instance(ZONE, 'pre-1')?.status).toBe('STOPPING');
    await until(() => fakeGce().instance(ZONE, 'pre-1')?.status === 'TERMINATED');
    const ref = (id: string) => ({ provider: 'gcp', id, region: 'us-central1', zone: ZONE });
    expect(await p.describe(ref('pre-1'))).toBe('preempted');
    expect(await p.describe(ref('stopped-1'))).toBe('stopped');
  });

  test('an instance deleted through the provider is terminated; one gone without a trace is not-found', async () => {
    const p = makeProvider(fakeGce());
    const a = await p.provision(request(offer()));
    const b = await p.provision(request(offer()));
    await p.terminate(a);
    fakeGce().removeInstance(ZONE, b.id);
    expect(await p.describe(a)).toBe('terminated');
    expect(await p.describe(b)).toBe('not-found');
  });
});

describe('describeMany', () => {
  test('answers for many instances in two zones from one aggregated list; only an ended one is described alone', async () => {
    const p = makeProvider(fakeGce());
    const here = await Promise.all([1, 2, 3].map(() => p.provision(request(offer()))));
    const there = await p.provision(request(offer({ region: 'us-east1', zone: OTHER_ZONE })));
    const gone = await p.provision(request(offer()));
    await p.terminate(gone);
    for (const i of here) await until(() => fakeGce().instance(ZONE, i.id)?.status === 'RUNNING');
    fakeGce().setStatus(ZONE, here[2]!.id, 'STOPPING');
    const before = fakeGce().calls().length;

    const states = await p.describeMany([...here, there, gone]);
    expect(Object.fromEntries(states)).toEqual({
      [here[0]!.id]: 'running',
      [here[1]!.id]: 'running',
      [here[2]!.id]: 'stopped',
      [there.id]: expect.stringMatching(/^(pending|running)$/),
      [gone.id]: 'terminated',
    });
    const calls = fakeGce().calls().slice(before);
    expect(calls.filter((c) => c.rpc === 'instances.aggregatedList')).toHaveLength(1);
    // Per instance: only the ended ones (their operations tell preempted from terminated).
    const described = calls.filter((c) => c.rpc === 'instances.get').map((c) => c.path.split('/').pop());
    expect(described.sort()).toEqual([gone.id, here[2]!.id].sort());
  });
});

describe('terminate', () => {
  test('deletes the instance with a requestId and waits for it; a second terminate and an unknown name succeed', async () => {
    const p = makeProvider(fakeGce());
    const inst = await p.provision(request(offer()));
    await p.terminate(inst);
    expect(fakeGce().instance(ZONE, inst.id)).toBeUndefined();
    const [del] = fakeGce().calls('instances.delete');
    expect(del!.path).toBe(`/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances/${inst.id}`);
    expect(del!.requestId).toMatch(/^[0-9a-f-]{36}$/);
    await expect(p.terminate(inst)).resolves.toBeUndefined();
    await expect(p.terminate({ ...inst, id: 'driftless-never-was' })).resolves.toBeUndefined();
    expect(fakeGce().calls('instances.delete')).toHaveLength(3);
  });
});

describe('listOwned', () => {
  test("lists this owner's instances in every configured zone from one aggregated list with a label filter", async () => {
    const mine = makeProvider(fakeGce());
    const theirs = makeProvider(fakeGce(), {}, { owner: 'someone-else' });
    const a = await mine.provision(request(offer(), { labels: { workload: 'a', attempt: 1 } }));
    const b = await mine.provision(
      request(offer({ region: 'us-east1', zone: OTHER_ZONE }), { labels: { workload: 'b', attempt: 4 } }),
    );
    await theirs.provision(request(offer(), { labels: { owner: 'someone-else' } }));
    // In a zone this provider is not configured for: not its business.
    fakeGce().putInstance('europe-west4-a', { name: 'elsewhere', labels: { [GCP_LABELS.owner]: OWNER } });

    const owned = await mine.listOwned(OWNER);
    const byId = new Map(owned.map((r) => [r.id, r]));
    expect([...byId.keys()].sort()).toEqual([a.id, b.id].sort());
    expect(byId.get(a.id)).toEqual({
      provider: 'gcp',
      id: a.id,
      region: 'us-central1',
      zone: ZONE,
      labels: {
        owner: OWNER,
        namespace: 'default',
        installation: 'test-installation',
        workload: 'a',
        workflowId: expect.stringMatching(/^workload-/),
        attempt: 1,
      },
      launchedAt: fakeGce().instance(ZONE, a.id)!.creationTimestamp,
    });
    expect(byId.get(b.id)).toMatchObject({
      region: 'us-east1',
      zone: OTHER_ZONE,
      labels: { workload: 'b', attempt: 4 },
    });

    const lists = fakeGce().calls('instances.aggregatedList');
    expect(lists).toHaveLength(1);
    expect(lists[0]!.path).toBe(`/compute/v1/projects/${PROJECT}/aggregated/instances`);
    expect(lists[0]!.query.filter).toBe(`labels.${GCP_LABELS.owner} = "${OWNER}"`);
  });

  test('lists nothing for an owner with no instances', async () => {
    const p = makeProvider(fakeGce());
    await p.provision(request(offer()));
    expect(await p.listOwned('nobody')).toEqual([]);
  });
});
