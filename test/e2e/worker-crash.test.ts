import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  agentsOf,
  cli,
  cliJson,
  makeEnv,
  serviceSpec,
  startWorker,
  temporalClient,
  waitFor,
  workloadProcesses,
  writeSpec,
  type StatusJson,
  type TestEnv,
} from '../support/harness';
import type { Client } from '@temporalio/client';

let env: TestEnv;
let client: Client;

beforeAll(async () => {
  // A slow boot keeps the provision activity in flight long enough to kill the worker under it.
  env = await makeEnv([{ name: 'slow', bootDelay: '6s' }]);
  client = await temporalClient();
});

afterAll(async () => {
  await client?.connection.close();
  await env?.cleanup();
});

/** Waits until the workload's provision activity is pending and the agent it launched exists. */
async function provisionInFlight(name: string): Promise<void> {
  const handle = client.workflow.getHandle(`workload-${name}`);
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
  const dir = join(env.dir, 'state/local/instances');
  return readdirSync(dir)
    .map((id) => JSON.parse(readFileSync(join(dir, id, 'instance.json'), 'utf8')))
    .filter((r: { labels: { workload: string } }) => r.labels.workload === name);
}

test('killing the worker while provision is in flight, then starting a new one, ends RUNNING with exactly one instance', async () => {
  const name = 'svc-crash';
  const first = await startWorker(env.env);
  let second: Awaited<ReturnType<typeof startWorker>> | undefined;
  try {
    const applied = await cli(['apply', await writeSpec(env, serviceSpec(name))], env.env);
    expect(applied.code).toBe(0);
    // In flight: the activity is pending and the agent it launched already exists.
    await provisionInFlight(name);
    await first.kill('SIGKILL');
    second = await startWorker(env.env);
    const s = await waitFor(
      async () => {
        const v = await cliJson<StatusJson>(['status', name], env.env);
        return v.phase === 'RUNNING' ? v : undefined;
      },
      'RUNNING after the worker restart',
      90_000,
    );
    expect(s.status?.attempts).toBe(1);
    expect(instanceRecords(name)).toHaveLength(1);
    expect(agentsOf(name)).toHaveLength(1);
    expect(workloadProcesses(name)).toHaveLength(1);
    const stopped = await cli(['stop', name], env.env);
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
  const w = await startWorker(env.env);
  try {
    expect((await cli(['apply', await writeSpec(env, serviceSpec(name))], env.env)).code).toBe(0);
    const handle = client.workflow.getHandle(`workload-${name}`);
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
  const w = await startWorker(env.env);
  try {
    expect((await cli(['apply', await writeSpec(env, serviceSpec(name))], env.env)).code).toBe(0);
    await provisionInFlight(name);
    const r = await cli(['stop', name, '--json'], env.env);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ phase: 'STOPPED', workflowStatus: 'COMPLETED' });
    await waitFor(() => agentsOf(name).length === 0, 'no agent', 10_000);
    expect(workloadProcesses(name)).toHaveLength(0);
    expect(instanceRecords(name).every((rec) => rec.terminatedAt)).toBe(true);
  } finally {
    await w.stop();
  }
});
