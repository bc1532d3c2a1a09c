import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentsOf, serviceSpec, startWorker, waitFor, workloadProcesses } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

// No worker of the file's own: each test starts (and kills) its own.
// A slow boot keeps the provision activity in flight long enough to kill the worker under it.
const e2e = useE2eInstallation({ pools: [{ name: 'slow', bootDelay: '6s' }], worker: false, client: true });

/** Waits until the workload's provision activity is pending and the agent it launched exists. */
async function provisionInFlight(name: string): Promise<void> {
  const handle = e2e.client.workflow.getHandle(`workload-${name}`);
  await waitFor(
    async () => {
      const d = await handle.describe();
      const pending = d.raw.pendingActivities ?? [];
      return pending.some((a) => a.activityType?.name === 'provision') && agentsOf(name).length === 1;
    },
    'provision in flight',
    30_000,
    50,
  );
}

/** Instance records the local provider wrote for a workload (one per instance it launched). */
function instanceRecords(name: string): Array<{ id: string; terminatedAt?: string }> {
  const dir = join(e2e.dir, 'state/local/instances');
  return readdirSync(dir)
    .map((id) => JSON.parse(readFileSync(join(dir, id, 'instance.json'), 'utf8')))
    .filter((r: { labels: { workload: string } }) => r.labels.workload === name);
}

test('killing the worker while provision is in flight, then starting a new one, ends RUNNING with exactly one instance', async () => {
  const name = 'svc-crash';
  const first = await startWorker(e2e.env);
  let second: Awaited<ReturnType<typeof startWorker>> | undefined;
  try {
    await e2e.apply(serviceSpec(name));
    // In flight: the activity is pending and the agent it launched already exists.
    await provisionInFlight(name);
    await first.kill('SIGKILL');
    second = await startWorker(e2e.env);
    const s = await e2e.waitRunning(name, { timeoutMs: 90_000 });
    expect(s.status?.attempts).toBe(1);
    expect(instanceRecords(name)).toHaveLength(1);
    expect(agentsOf(name)).toHaveLength(1);
    expect(workloadProcesses(name)).toHaveLength(1);
    const stopped = await e2e.cli(['stop', name]);
    expect(stopped.code).toBe(0);
    expect(agentsOf(name)).toHaveLength(0);
    expect(workloadProcesses(name)).toHaveLength(0);
  } finally {
    await first.kill('SIGKILL');
    await second?.stop();
  }
});

test('cancelling the workflow while provision is in flight leaves no instance behind', async () => {
  const name = 'svc-cancel-provision';
  const w = await startWorker(e2e.env);
  try {
    await e2e.apply(serviceSpec(name));
    const handle = e2e.client.workflow.getHandle(`workload-${name}`);
    await provisionInFlight(name);
    await handle.cancel();
    await expect(handle.result()).rejects.toThrow();
    expect((await handle.describe()).status.name).toBe('CANCELLED');
    await waitFor(() => agentsOf(name).length === 0, 'no agent', 10_000);
    expect(instanceRecords(name).every((r) => r.terminatedAt)).toBe(true);
  } finally {
    await w.stop();
  }
});

test('stop while provision is in flight ends the workflow STOPPED and leaves no instance behind', async () => {
  const name = 'svc-stop-provision';
  const w = await startWorker(e2e.env);
  try {
    await e2e.apply(serviceSpec(name));
    await provisionInFlight(name);
    const r = await e2e.cli(['stop', name, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ phase: 'STOPPED', workflowStatus: 'COMPLETED' });
    await waitFor(() => agentsOf(name).length === 0, 'no agent', 10_000);
    expect(workloadProcesses(name)).toHaveLength(0);
    expect(instanceRecords(name).every((rec) => rec.terminatedAt)).toBe(true);
  } finally {
    await w.stop();
  }
});
