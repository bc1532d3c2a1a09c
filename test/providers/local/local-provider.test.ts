import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CapacityError, InvalidRequestError, ProviderUnavailableError } from '../../../src/providers/errors';
import { LocalProvider, localInstanceId } from '../../../src/providers/local/local-provider';
import { identify, isAlive, type ProcessIdentity } from '../../../src/common/processes';
import type { Instance } from '../../../src/providers/types';
import {
  IDLE_AGENT,
  MARKER,
  cleanup,
  labels,
  makeProvider,
  offerFor,
  pidsWithArg,
  request,
  sleep,
  spawnDetached,
  tempStateDir,
  waitFor,
} from './helpers';

afterEach(cleanup);

const LAB_A = {
  name: 'lab-a',
  gpus: { type: 'A100', count: 2, memoryGb: 80 },
  pricePerHour: 0.5,
  pricePerGpuHour: 1.25,
  cpus: 16,
  memoryGb: 64,
};
const LAB_B = { name: 'lab-b', gpus: { type: 'L4', count: 1 }, pricePerHour: 0.1, pricePerGpuHour: 0.3 };

/** The agent's identity as the provider recorded it. */
async function agentOf(provider: LocalProvider, id: string): Promise<ProcessIdentity> {
  const rec = await provider.readRecord(id);
  if (!rec?.agent) throw new Error(`instance ${id} has no agent`);
  return rec.agent;
}

/** Writes agent.json the way the real agent does once it is ready. */
async function markReady(provider: LocalProvider, inst: Instance, workload?: ProcessIdentity) {
  const agent = await agentOf(provider, inst.id);
  await writeFile(
    join(String(inst.details!.logDir), 'agent.json'),
    JSON.stringify({ pid: agent.pid, ready: true, workload }),
  );
}

async function provisionIn(provider: LocalProvider, pool: string, gpus: number, key: string, owner?: string) {
  const offer = await offerFor(provider, pool, gpus);
  return provider.provision(request(offer, key, owner ? { labels: labels({ owner }) } : {}));
}

describe('localInstanceId', () => {
  test('gives the same id for the same key and different ids for different keys', () => {
    expect(localInstanceId('wf-1/attempt-1')).toBe(localInstanceId('wf-1/attempt-1'));
    expect(localInstanceId('wf-1/attempt-1')).not.toBe(localInstanceId('wf-1/attempt-2'));
    expect(localInstanceId('wf-1/attempt-1')).toMatch(/^l[0-9a-f]{15}$/);
  });
});

describe('offers', () => {
  test('lists one offer per GPU count from 0 to the free GPUs of each pool, priced base + n x GPU price', async () => {
    const provider = makeProvider([LAB_A, LAB_B]);
    const offers = await provider.offers();
    expect(offers.map((o) => [o.region, o.zone, o.gpuCount, o.pricePerHour])).toEqual([
      ['lab-a', 'lab-a', 0, 0.5],
      ['lab-a', 'lab-a', 1, 1.75],
      ['lab-a', 'lab-a', 2, 3],
      ['lab-b', 'lab-b', 0, 0.1],
      ['lab-b', 'lab-b', 1, 0.4],
    ]);
    expect(offers[0]).toMatchObject({
      provider: 'local',
      instanceType: 'lab-a:cpu',
      gpuType: undefined,
      gpuMemoryGb: undefined,
      vcpus: 16,
      memoryGb: 64,
      spot: false,
    });
    expect(offers[2]).toMatchObject({ instanceType: 'lab-a:2xA100', gpuType: 'A100', gpuMemoryGb: 80 });
  });

  test('GPUs held by a live instance shrink the pool offers; a CPU-only instance does not', async () => {
    const provider = makeProvider([LAB_A, LAB_B]);
    await provisionIn(provider, 'lab-a', 0, 'cpu-only');
    expect((await provider.offers()).filter((o) => o.region === 'lab-a')).toHaveLength(3);
    await provisionIn(provider, 'lab-a', 1, 'one-gpu');
    const offers = await provider.offers();
    expect(offers.filter((o) => o.region === 'lab-a').map((o) => o.gpuCount)).toEqual([0, 1]);
    expect(offers.filter((o) => o.region === 'lab-b').map((o) => o.gpuCount)).toEqual([0, 1]);
    await provisionIn(provider, 'lab-a', 1, 'another-gpu');
    expect((await provider.offers()).filter((o) => o.region === 'lab-a').map((o) => o.gpuCount)).toEqual([0]);
  });

  test('GPUs come back to the offers once their instance is terminated', async () => {
    const provider = makeProvider([LAB_A]);
    const inst = await provisionIn(provider, 'lab-a', 2, 'both-gpus');
    expect((await provider.offers()).map((o) => o.gpuCount)).toEqual([0]);
    await provider.terminate(inst);
    expect((await provider.offers()).map((o) => o.gpuCount)).toEqual([0, 1, 2]);
  });
});

describe('provision', () => {
  test('starts one detached agent with the instance id, workload, GPU indexes and Temporal address', async () => {
    const provider = makeProvider([LAB_A]);
    const first = await provisionIn(provider, 'lab-a', 1, 'key-1');
    const second = await provisionIn(provider, 'lab-a', 1, 'key-2');
    expect(first).toMatchObject({
      provider: 'local',
      id: localInstanceId('key-1'),
      region: 'lab-a',
      zone: 'lab-a',
      address: '127.0.0.1',
      state: 'pending',
    });
    const agent = await agentOf(provider, first.id);
    expect(first.details!.pid).toBe(agent.pid);
    expect(isAlive(agent)).toBe(true);
    // Its own process group, so terminate can end it and everything it started.
    const stat = readFileSync(`/proc/${agent.pid}/stat`, 'utf8');
    expect(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2])).toBe(agent.pid);
    const argv = readFileSync(`/proc/${agent.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    expect(argv).toEqual([...IDLE_AGENT, '--instance', first.id, '--workload', 'train']);
    const env = Object.fromEntries(
      readFileSync(`/proc/${agent.pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
    expect(env).toMatchObject({
      TEMPORAL_ADDRESS: '127.0.0.1:7233',
      TEMPORAL_NAMESPACE: 'default',
      DRIFTLESS_INSTANCE_ID: first.id,
      DRIFTLESS_INSTANCE_DIR: first.details!.logDir,
      DRIFTLESS_WORKLOAD: 'train',
    });
    // The two one-GPU instances get different GPUs.
    expect([first.details!.gpus, second.details!.gpus].sort()).toEqual(['0', '1']);
    expect(env.CUDA_VISIBLE_DEVICES).toBe(first.details!.gpus);
  });

  test('the same idempotency key twice returns the same instance and starts exactly one process', async () => {
    const provider = makeProvider([LAB_A]);
    const a = await provisionIn(provider, 'lab-a', 1, 'retry-me');
    const b = await provisionIn(provider, 'lab-a', 1, 'retry-me');
    expect(b.id).toBe(a.id);
    expect(b.details!.pid).toBe(a.details!.pid);
    expect(pidsWithArg(a.id)).toEqual([a.details!.pid]);
    // The retry did not take a second GPU.
    expect((await provider.offers()).map((o) => o.gpuCount)).toEqual([0, 1]);
  });

  test('concurrent provisions with the same key share one instance and one process', async () => {
    const provider = makeProvider([LAB_A]);
    const offer = await offerFor(provider, 'lab-a', 1);
    const all = await Promise.all(
      Array.from({ length: 5 }, () => provider.provision(request(offer, 'concurrent'))),
    );
    expect(new Set(all.map((i) => i.id))).toEqual(new Set([localInstanceId('concurrent')]));
    expect(new Set(all.map((i) => i.details!.pid)).size).toBe(1);
    expect(pidsWithArg(localInstanceId('concurrent'))).toHaveLength(1);
    expect((await provider.records()).filter((r) => r.pool === 'lab-a')).toHaveLength(1);
  });

  test('a retry after a crash between launching the agent and recording it adopts that agent instead of a second', async () => {
    const stateDir = tempStateDir();
    const first = makeProvider([LAB_A], IDLE_AGENT, stateDir);
    const offer = await offerFor(first, 'lab-a', 1);
    const id = localInstanceId('crash-window');
    // What a crash leaves: the record without an agent, and the agent process running.
    await first.provision(request(offer, 'crash-window'));
    const rec = (await first.readRecord(id))!;
    const agentPid = rec.agent!.pid;
    delete rec.agent;
    await writeFile(join(stateDir, 'local/instances', id, 'instance.json'), JSON.stringify(rec));
    const again = await makeProvider([LAB_A], IDLE_AGENT, stateDir).provision(request(offer, 'crash-window'));
    expect(again.details!.pid).toBe(agentPid);
    expect(pidsWithArg(id)).toEqual([agentPid]);
  });

  test('an already cancelled provision starts nothing', async () => {
    const provider = makeProvider([LAB_A]);
    const offer = await offerFor(provider, 'lab-a', 1);
    const ac = new AbortController();
    ac.abort();
    await expect(provider.provision(request(offer, 'cancelled', { signal: ac.signal }))).rejects.toThrow(
      /cancelled/,
    );
    expect(pidsWithArg(localInstanceId('cancelled'))).toEqual([]);
  });

  test('a second provider on the same state directory finds the instance a retried key started', async () => {
    const stateDir = tempStateDir();
    const provider = makeProvider([LAB_A], IDLE_AGENT, stateDir);
    const a = await provisionIn(provider, 'lab-a', 1, 'survives-restart');
    const restarted = makeProvider([LAB_A], IDLE_AGENT, stateDir);
    const b = await provisionIn(restarted, 'lab-a', 1, 'survives-restart');
    expect(b.id).toBe(a.id);
    expect(b.details!.pid).toBe(a.details!.pid);
    expect(pidsWithArg(a.id)).toHaveLength(1);
  });

  test('a different idempotency key starts a different instance with its own process', async () => {
    const provider = makeProvider([LAB_A]);
    const a = await provisionIn(provider, 'lab-a', 0, 'key-a');
    const b = await provisionIn(provider, 'lab-a', 0, 'key-b');
    expect(b.id).not.toBe(a.id);
    expect(b.details!.pid).not.toBe(a.details!.pid);
    expect(pidsWithArg(a.id)).toHaveLength(1);
    expect(pidsWithArg(b.id)).toHaveLength(1);
  });

  test('into a pool marked down fails with ProviderUnavailableError blocking the region', async () => {
    const provider = makeProvider([LAB_A, LAB_B]);
    const offer = await offerFor(provider, 'lab-a', 1);
    await provider.setPoolDown('lab-a', true);
    const err = await provider.provision(request(offer, 'down')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err).toMatchObject({
      scope: 'region',
      retryable: false,
      code: 'PoolDown',
      location: { provider: 'local', region: 'lab-a', zone: 'lab-a' },
    });
    expect(pidsWithArg(localInstanceId('down'))).toEqual([]);
    // The other pool is unaffected.
    await expect(provisionIn(provider, 'lab-b', 1, 'other-pool')).resolves.toMatchObject({ region: 'lab-b' });
  });

  test('into an unknown pool fails with InvalidRequestError and starts nothing', async () => {
    const provider = makeProvider([LAB_A]);
    const offer = { ...(await offerFor(provider, 'lab-a', 0)), region: 'nowhere', zone: 'nowhere' };
    const err = await provider.provision(request(offer, 'unknown-pool')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err).toMatchObject({ code: 'UnknownPool', scope: 'provider' });
    expect(await provider.records()).toEqual([]);
  });

  test('asking for more GPUs than are free fails with CapacityError scoped to the zone', async () => {
    const provider = makeProvider([LAB_A]);
    const twoGpus = await offerFor(provider, 'lab-a', 2);
    await provisionIn(provider, 'lab-a', 1, 'holder');
    const err = await provider.provision(request(twoGpus, 'too-big')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CapacityError);
    expect(err).toMatchObject({
      scope: 'zone',
      code: 'InsufficientGpus',
      location: { provider: 'local', region: 'lab-a', zone: 'lab-a' },
    });
    expect(pidsWithArg(localInstanceId('too-big'))).toEqual([]);
    // A request that fits still succeeds.
    await expect(provisionIn(provider, 'lab-a', 1, 'fits')).resolves.toMatchObject({ state: 'pending' });
  });

  test('waits out the pool boot delay before returning', async () => {
    const provider = makeProvider([{ ...LAB_B, bootDelay: '300ms' }]);
    const offer = await offerFor(provider, 'lab-b', 0);
    const t0 = Date.now();
    await provider.provision(request(offer, 'slow-boot'));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
  });
});

describe('setPoolDown', () => {
  test('kills every running instance of the pool, returns their ids, and they describe as preempted', async () => {
    const provider = makeProvider([LAB_A, LAB_B]);
    const a1 = await provisionIn(provider, 'lab-a', 1, 'a1');
    const a2 = await provisionIn(provider, 'lab-a', 0, 'a2');
    const b1 = await provisionIn(provider, 'lab-b', 1, 'b1');
    const agents = [await agentOf(provider, a1.id), await agentOf(provider, a2.id)];
    const killed = await provider.setPoolDown('lab-a', true);
    expect(killed.sort()).toEqual([a1.id, a2.id].sort());
    expect(agents.map(isAlive)).toEqual([false, false]);
    expect(await provider.describe(a1)).toBe('preempted');
    expect(await provider.describe(a2)).toBe('preempted');
    expect(provider.isPoolDown('lab-a')).toBe(true);
    // The other pool keeps running.
    expect(isAlive(await agentOf(provider, b1.id))).toBe(true);
    expect(await provider.describe(b1)).toBe('pending');
    expect(provider.isPoolDown('lab-b')).toBe(false);
  });

  test('marking the pool up again allows provisioning there once more', async () => {
    const provider = makeProvider([LAB_A]);
    await provider.setPoolDown('lab-a', true);
    await expect(provisionIn(provider, 'lab-a', 1, 'while-down')).rejects.toBeInstanceOf(
      ProviderUnavailableError,
    );
    expect(await provider.setPoolDown('lab-a', false)).toEqual([]);
    expect(provider.isPoolDown('lab-a')).toBe(false);
    const inst = await provisionIn(provider, 'lab-a', 1, 'after-up');
    expect(isAlive(await agentOf(provider, inst.id))).toBe(true);
  });

  test('on an unknown pool fails with InvalidRequestError', async () => {
    const provider = makeProvider([LAB_A]);
    await expect(provider.setPoolDown('nowhere', true)).rejects.toBeInstanceOf(InvalidRequestError);
  });
});

describe('describe', () => {
  test('says not-found for an id the provider never saw', async () => {
    const provider = makeProvider([LAB_A]);
    expect(await provider.describe({ provider: 'local', id: 'lnope', region: 'lab-a', zone: 'lab-a' })).toBe(
      'not-found',
    );
  });

  test('says pending until agent.json reports ready, then running', async () => {
    const provider = makeProvider([LAB_A]);
    const inst = await provisionIn(provider, 'lab-a', 0, 'booting');
    expect(await provider.describe(inst)).toBe('pending');
    const agent = await agentOf(provider, inst.id);
    await writeFile(
      join(String(inst.details!.logDir), 'agent.json'),
      JSON.stringify({ pid: agent.pid, ready: false }),
    );
    expect(await provider.describe(inst)).toBe('pending');
    await markReady(provider, inst);
    expect(await provider.describe(inst)).toBe('running');
  });

  test('says terminated once the agent is killed from outside, and frees its GPUs', async () => {
    const provider = makeProvider([LAB_A]);
    const inst = await provisionIn(provider, 'lab-a', 2, 'crashes');
    await markReady(provider, inst);
    expect(await provider.describe(inst)).toBe('running');
    const agent = await agentOf(provider, inst.id);
    process.kill(agent.pid, 'SIGKILL');
    await waitFor(() => !isAlive(agent), 'the agent to die');
    expect(await provider.describe(inst)).toBe('terminated');
    expect((await provider.offers()).map((o) => o.gpuCount)).toEqual([0, 1, 2]);
  });

  test('says terminated after terminate()', async () => {
    const provider = makeProvider([LAB_A]);
    const inst = await provisionIn(provider, 'lab-a', 1, 'ended');
    await markReady(provider, inst);
    await provider.terminate(inst);
    expect(await provider.describe(inst)).toBe('terminated');
  });
});

describe('terminate', () => {
  test('is idempotent: twice on the same instance and once on an unknown id all succeed', async () => {
    const provider = makeProvider([LAB_A]);
    const inst = await provisionIn(provider, 'lab-a', 1, 'twice');
    await provider.terminate(inst);
    const rec = await provider.readRecord(inst.id);
    await expect(provider.terminate(inst)).resolves.toBeUndefined();
    // The second call changes nothing: same end time, same reason.
    expect(await provider.readRecord(inst.id)).toEqual(rec);
    expect(rec).toMatchObject({ terminatedBy: 'terminate' });
    await expect(
      provider.terminate({ provider: 'local', id: 'lunknown', region: 'lab-a', zone: 'lab-a' }),
    ).resolves.toBeUndefined();
    expect(await provider.describe(inst)).toBe('terminated');
  });

  test('a terminate that lands while its instance is still being launched leaves no agent', async () => {
    const provider = makeProvider([LAB_A]);
    const offer = await offerFor(provider, 'lab-a', 1);
    for (let i = 0; i < 8; i++) {
      const id = localInstanceId(`launching-${i}`);
      const ref = { provider: 'local', id, region: 'lab-a', zone: 'lab-a' };
      const launched = provider.provision(request(offer, `launching-${i}`));
      // Once the launch has recorded the instance, terminate it at a different point each round.
      while (!(await provider.readRecord(id))) await sleep(0);
      for (let t = 0; t < i; t++) await sleep(0);
      await provider.terminate(ref);
      await launched.catch(() => undefined);
      await waitFor(() => pidsWithArg(id).length === 0, `no agent of ${id}`);
      expect((await provider.readRecord(id))?.terminatedAt).toBeDefined();
      expect(await provider.describe(ref)).toBe('terminated');
    }
  });

  test("kills the agent's whole process group, including processes the agent spawned", async () => {
    const spawningAgent = [
      process.execPath,
      '-e',
      `/*${MARKER}*/const c=require('child_process').spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'});` +
        `require('fs').writeFileSync('child.pid',String(c.pid));setInterval(()=>{},1000)`,
      '--',
    ];
    const provider = makeProvider([LAB_A], spawningAgent);
    const inst = await provisionIn(provider, 'lab-a', 1, 'with-children');
    const pidFile = join(String(inst.details!.logDir), 'child.pid');
    await waitFor(
      () => existsSync(pidFile) && readFileSync(pidFile, 'utf8') !== '',
      'the agent to spawn a child',
    );
    const grandchild = identify(Number(readFileSync(pidFile, 'utf8')));
    expect(isAlive(grandchild)).toBe(true);
    const agent = await agentOf(provider, inst.id);
    await provider.terminate(inst);
    expect(isAlive(agent)).toBe(false);
    expect(isAlive(grandchild)).toBe(false);
  });

  test('kills the workload process group recorded in agent.json', async () => {
    const provider = makeProvider([LAB_A]);
    const inst = await provisionIn(provider, 'lab-a', 1, 'with-workload');
    // The real agent starts the workload detached, in its own group, and records it.
    const { identity: workload } = spawnDetached('setInterval(()=>{},1000)');
    await markReady(provider, inst, workload);
    expect(await provider.describe(inst)).toBe('running');
    await provider.terminate(inst);
    expect(isAlive(workload)).toBe(false);
    expect(isAlive(await agentOf(provider, inst.id))).toBe(false);
  });

  test('still kills the recorded workload when the agent already died', async () => {
    const provider = makeProvider([LAB_A]);
    const inst = await provisionIn(provider, 'lab-a', 1, 'orphaned-workload');
    const { identity: workload } = spawnDetached('setInterval(()=>{},1000)');
    await markReady(provider, inst, workload);
    const agent = await agentOf(provider, inst.id);
    process.kill(agent.pid, 'SIGKILL');
    await waitFor(() => !isAlive(agent), 'the agent to die');
    await provider.terminate(inst);
    expect(isAlive(workload)).toBe(false);
  });
});

describe('listOwned', () => {
  test("returns the owner's live instances with their labels, not other owners' nor terminated ones", async () => {
    const provider = makeProvider([LAB_A, LAB_B]);
    const mine = await provisionIn(provider, 'lab-a', 1, 'mine', 'alice');
    const mineToo = await provisionIn(provider, 'lab-b', 0, 'mine-too', 'alice');
    const ended = await provisionIn(provider, 'lab-a', 0, 'mine-ended', 'alice');
    await provisionIn(provider, 'lab-a', 1, 'theirs', 'bob');
    await provider.terminate(ended);
    const owned = await provider.listOwned('alice');
    expect(owned.map((r) => r.id).sort()).toEqual([mine.id, mineToo.id].sort());
    expect(owned.find((r) => r.id === mine.id)).toEqual({
      provider: 'local',
      id: mine.id,
      region: 'lab-a',
      zone: 'lab-a',
      labels: labels({ owner: 'alice' }),
      launchedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect((await provider.listOwned('bob')).map((r) => r.id)).toEqual([localInstanceId('theirs')]);
    expect(await provider.listOwned('carol')).toEqual([]);
  });

  test('leaves out instances a pool outage preempted', async () => {
    const provider = makeProvider([LAB_A, LAB_B]);
    await provisionIn(provider, 'lab-a', 1, 'preempted', 'alice');
    const survivor = await provisionIn(provider, 'lab-b', 1, 'survivor', 'alice');
    await provider.setPoolDown('lab-a', true);
    expect((await provider.listOwned('alice')).map((r) => r.id)).toEqual([survivor.id]);
  });
});
