import {
  agentsOf,
  cli,
  cliJson,
  makeEnv,
  serviceSpec,
  startWorker,
  waitFor,
  workloadProcesses,
  writeSpec,
  type StatusJson,
  type TestEnv,
  type WorkerProcess,
} from '../support/harness';

// Real dev server, real worker process, real agent processes on two local pools.
let env: TestEnv;
let worker: WorkerProcess;
const running: string[] = [];

beforeAll(async () => {
  env = await makeEnv([
    { name: 'cheap', pricePerGpuHour: 1 },
    { name: 'dear', pricePerGpuHour: 2 },
    { name: 'dearest', pricePerGpuHour: 3 },
  ]);
  worker = await startWorker(env.env);
});

afterAll(async () => {
  for (const name of running) await cli(['stop', name], env.env);
  await worker?.stop();
  await env?.cleanup();
});

async function applyRunning(name: string): Promise<StatusJson> {
  const file = await writeSpec(env, serviceSpec(name));
  running.push(name);
  const applied = await cli(['apply', file, '--wait', '--timeout', '60s', '--json'], env.env);
  expect(applied.code).toBe(0);
  return JSON.parse(applied.stdout) as StatusJson;
}

const status = (name: string) => cliJson<StatusJson>(['status', name], env.env);

/** RUNNING on another instance than `before`'s, as the workflow itself says (not only its search attributes). */
const runsElsewhere = (s: StatusJson, before: StatusJson) =>
  s.status !== undefined &&
  s.phase === 'RUNNING' &&
  s.instanceId !== undefined &&
  s.instanceId !== before.instanceId;

test('apply places a service on the cheapest pool and status --json shows provider, pool, instance id and phase', async () => {
  const applied = await applyRunning('svc-place');
  expect(applied.phase).toBe('RUNNING');
  const s = await status('svc-place');
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
  const after = await waitFor(
    async () => {
      const s = await status('svc-kill');
      return runsElsewhere(s, before) ? s : undefined;
    },
    'svc-kill to run elsewhere',
    60_000,
    100,
  );
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
  const down = await cli(['pool', 'down', before.pool!], env.env);
  expect(down.code).toBe(0);
  expect(down.stdout).toContain(before.instanceId!);
  try {
    const after = await waitFor(
      async () => {
        const s = await status('svc-outage');
        return runsElsewhere(s, before) ? s : undefined;
      },
      'svc-outage to move',
      30_000,
    );
    expect(after.pool).not.toBe(before.pool);
    const timeline = after.status!.timeline.map((e) => e.type);
    expect(timeline).toEqual(expect.arrayContaining(['lost', 'terminated', 'blocked']));
    // A loss of the instance, not a failure of the workload: no restart is counted.
    expect(after.status?.restarts).toBe(0);
    expect(agentsOf('svc-outage')).toHaveLength(1);
    expect(workloadProcesses('svc-outage')).toHaveLength(1);
  } finally {
    await cli(['pool', 'up', before.pool!], env.env);
  }
});
