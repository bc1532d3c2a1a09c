import { agentsOf, serviceSpec, waitFor, workloadProcesses, type StatusJson } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

// Real dev server, real worker process, real agent processes on three local pools.
const e2e = useE2eInstallation({
  pools: [
    { name: 'cheap', pricePerGpuHour: 1 },
    { name: 'dear', pricePerGpuHour: 2 },
    { name: 'dearest', pricePerGpuHour: 3 },
  ],
});

async function applyRunning(name: string): Promise<StatusJson> {
  e2e.stopAtEnd(name);
  const applied = await e2e.apply(serviceSpec(name), '--wait', '--timeout', '60s', '--json');
  return JSON.parse(applied.stdout) as StatusJson;
}

test('apply places a service on the cheapest pool and status --json shows provider, pool, instance id and phase', async () => {
  const applied = await applyRunning('svc-place');
  expect(applied.phase).toBe('RUNNING');
  const s = await e2e.status('svc-place');
  expect(s).toMatchObject({ phase: 'RUNNING', provider: 'local', pool: 'cheap', workflowStatus: 'RUNNING' });
  expect(s.instanceId).toMatch(/^l[0-9a-f]{15}$/);
  expect(agentsOf('svc-place')).toHaveLength(1);
  expect(workloadProcesses('svc-place')).toHaveLength(1);
});

test('SIGKILL of the agent re-places the workload on another pool within heartbeat timeout + 5s, leaving one agent', async () => {
  const before = await applyRunning('svc-kill');
  const [agentPid] = agentsOf('svc-kill');
  expect(agentPid).toBeDefined();
  const killedAt = Date.now();
  process.kill(agentPid!, 'SIGKILL');
  const after = await e2e.waitRunning('svc-kill', {
    not: before.instanceId,
    timeoutMs: 60_000,
    everyMs: 100,
  });
  // Timed by the workflow's own 'running' event, not by when a CLI poll (a process of its own,
  // slow on a loaded machine) happened to see it.
  const ran = after.status!.timeline.find((e) => e.type === 'running' && e.instanceId === after.instanceId);
  expect(ran).toBeDefined();
  const elapsedMs = Date.parse(ran!.at) - killedAt;
  console.log(`agent SIGKILL -> RUNNING elsewhere: ${elapsedMs} ms`);
  expect(elapsedMs).toBeLessThan(5_000 + 5_000); // heartbeatTimeout 5s + 5s
  expect(after.pool).not.toBe(before.pool);
  expect(after.status?.recoveries).toBe(1);
  // The old workload process (orphaned by the kill) was ended with its instance.
  await waitFor(() => workloadProcesses('svc-kill').length === 1, 'one workload process', 10_000);
  expect(agentsOf('svc-kill')).toHaveLength(1);
});

test('marking a pool down moves the workload running there to another pool', async () => {
  const before = await applyRunning('svc-outage');
  const down = await e2e.cli(['pool', 'down', before.pool!]);
  expect(down.code).toBe(0);
  expect(down.stdout).toContain(before.instanceId!);
  try {
    const after = await e2e.waitRunning('svc-outage', { not: before.instanceId, timeoutMs: 30_000 });
    expect(after.pool).not.toBe(before.pool);
    const timeline = after.status!.timeline.map((e) => e.type);
    expect(timeline).toEqual(expect.arrayContaining(['lost', 'terminated', 'blocked']));
    // A loss of the instance, not a failure of the workload: no restart is counted.
    expect(after.status?.restarts).toBe(0);
    expect(agentsOf('svc-outage')).toHaveLength(1);
    expect(workloadProcesses('svc-outage')).toHaveLength(1);
  } finally {
    await e2e.cli(['pool', 'up', before.pool!]);
  }
});
