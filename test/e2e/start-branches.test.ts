/**
 * Starts that never get going, end to end: an instance still booting when its startup grace
 * runs out, an agent that dies while its instance boots, and one that is alive but silent
 * (SIGSTOP). Each instance is ended, and the next offer runs the workload. The silent agent once
 * took 39 s to give up with a 6 s grace: its termination sent SIGTERM to a stopped process and
 * waited out the whole stop grace (33 s) for SIGKILL; killGroup now sends SIGCONT with SIGTERM.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentsOf, serviceSpec, type StatusJson } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

const e2e = useE2eInstallation({
  pools: [
    // The cheapest pool's instances stay pending for a minute: past any startup grace below.
    { name: 'slow-boot', pricePerGpuHour: 1, readyDelay: '60s' },
    // Pending for 3 s after launch, its agent already running: time to kill the agent before
    // the workflow could ask it to start anything.
    { name: 'late', pricePerGpuHour: 1.5, readyDelay: '3s' },
    { name: 'fine', pricePerGpuHour: 2 },
  ],
});

const started: string[] = [];
afterEach(async () => {
  for (const name of started.splice(0)) await e2e.cli(['stop', name]);
});

/** The workload's status once its first instance is provisioned, and that instance's id. */
async function firstProvisioned(name: string): Promise<{ first: StatusJson; firstId: string }> {
  const first = await e2e.waitStatus(
    name,
    (v) => v.status?.timeline.some((e) => e.type === 'provisioned') === true,
    `${name} provisioned`,
    { timeoutMs: 30_000, everyMs: 50 },
  );
  return { first, firstId: first.status!.timeline.find((e) => e.type === 'provisioned')!.instanceId! };
}

async function record(instanceId: string): Promise<{ terminatedAt?: string }> {
  const file = join(e2e.dir, 'state', 'local', 'instances', instanceId, 'instance.json');
  return JSON.parse(await readFile(file, 'utf8')) as { terminatedAt?: string };
}

test('an instance not ready within the startup grace is ended, its pool blocked, and the next offer runs the workload', async () => {
  const name = 'sb-grace';
  started.push(name);
  await e2e.apply(
    serviceSpec(name, {
      placement: { regions: ['slow-boot', 'fine'] },
      health: { heartbeatTimeout: '5s', startupGrace: '4s' },
      recovery: { maxRestarts: 2, cooldown: '5m', maxStartFailures: 3 },
    }),
  );
  const s: StatusJson = await e2e.waitStatus(
    name,
    (v) => v.phase === 'RUNNING' && v.pool === 'fine',
    `${name} RUNNING on the next pool`,
    { timeoutMs: 60_000 },
  );
  const timeline = s.status!.timeline;
  const lost = timeline.find((e) => e.type === 'lost');
  expect(lost?.message).toMatch(
    /^instance (l[0-9a-f]+) on local\/slow-boot never became ready: .*not ready within 4s \(state pending\)/,
  );
  const slowId = lost!.instanceId!;
  // The booting instance was ended, not left pending (and billed) on the slow pool.
  expect((await record(slowId)).terminatedAt).toBeDefined();
  expect(s.status!.blocks.map((b) => `${b.provider}/${b.region ?? ''}/${b.zone ?? ''}`)).toContain(
    'local/slow-boot/slow-boot',
  );
  expect(s.status!.failedStarts ?? []).toEqual([]); // reached RUNNING: the count starts over
  expect(agentsOf(name)).toHaveLength(1);
});

test('an instance whose agent dies while it boots is ended, and the next offer runs the workload', async () => {
  const name = 'sb-silent';
  started.push(name);
  await e2e.apply(
    serviceSpec(name, {
      placement: { regions: ['late', 'fine'] },
      health: { heartbeatTimeout: '3s', startupGrace: '20s' },
      recovery: { maxRestarts: 2, cooldown: '5s', maxStartFailures: 3 },
    }),
  );
  // Kill the agent while its instance is still pending: the workflow has not asked it anything.
  const { first, firstId } = await firstProvisioned(name);
  expect(first.pool ?? 'late').toBe('late');
  const agents = agentsOf(name);
  expect(agents).toHaveLength(1);
  for (const pid of agents) process.kill(pid, 'SIGKILL');
  const s = await e2e.waitRunning(name, { not: firstId, timeoutMs: 90_000 });
  expect(s.instanceId).not.toBe(firstId);
  // The workload never ran on the first instance: it reached RUNNING only on the second.
  const ran = s.status!.timeline.filter((e) => e.type === 'running').map((e) => e.instanceId);
  expect(ran).toEqual([s.instanceId]);
  expect((await record(firstId)).terminatedAt).toBeDefined();
  expect(agentsOf(name)).toHaveLength(1);
});

test('an agent that is silent (stopped) while its instance boots: the start fails, the instance is ended, the next offer runs it', async () => {
  const name = 'sb-frozen';
  started.push(name);
  await e2e.apply(
    serviceSpec(name, {
      placement: { regions: ['late', 'fine'] },
      health: { heartbeatTimeout: '3s', startupGrace: '6s' },
      recovery: { maxRestarts: 2, cooldown: '5s', maxStartFailures: 3 },
    }),
  );
  const { firstId } = await firstProvisioned(name);
  const [agent] = agentsOf(name);
  expect(agent).toBeDefined();
  // Alive to the provider (its process exists), silent to Temporal.
  process.kill(agent!, 'SIGSTOP');
  try {
    const s = await e2e.waitRunning(name, { not: firstId, timeoutMs: 90_000 });
    expect(s.pool).toBe('fine');
    const ran = s.status!.timeline.filter((e) => e.type === 'running').map((e) => e.instanceId);
    expect(ran).toEqual([s.instanceId]);
    expect((await record(firstId)).terminatedAt).toBeDefined();
    // Given up about when the grace says (3 s pending + 6 s grace), not a stop grace later.
    const at = (type: string) => Date.parse(s.status!.timeline.find((e) => e.type === type)!.at);
    const tookS = (at('lost') - at('provisioned')) / 1000;
    console.log(`silent agent: start given up ${tookS.toFixed(1)} s after provisioning (startupGrace 6s)`);
    expect(tookS).toBeLessThan(20);
  } finally {
    try {
      process.kill(agent!, 'SIGCONT');
    } catch {
      /* ended with its instance */
    }
  }
});
