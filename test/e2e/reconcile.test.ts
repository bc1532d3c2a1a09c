/**
 * Reconcile against the real dev server and a local pool: the worker creates its schedule;
 * `driftless gc` leaves claimed instances alone and removes the instance of a workflow that was
 * terminated hard (which no compensation could run for).
 */
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
  type WorkerProcess,
} from '../support/harness';
import type { ReconcileReport } from '../../src/workflows/reconcile';
import { reconcileScheduleId } from '../../src/client/services/reconcile';

let env: TestEnv;
let worker: WorkerProcess;

beforeAll(async () => {
  env = await makeEnv([{ name: 'pool-a' }], { reconcile: { enabled: true, every: '7m', grace: '2m' } });
  worker = await startWorker(env.env);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  const client = await temporalClient();
  await client.schedule
    .getHandle(reconcileScheduleId('test', env.taskQueue))
    .delete()
    .catch(() => undefined);
  await client.connection.close();
  await env?.cleanup();
});

async function running(name: string): Promise<StatusJson> {
  const file = await writeSpec(env, serviceSpec(name));
  expect((await cli(['apply', file], env.env)).code).toBe(0);
  const s = await waitFor(async () => {
    const v = await cliJson<StatusJson>(['status', name], env.env);
    return v.phase === 'RUNNING' ? v : undefined;
  }, `${name} RUNNING`);
  await waitFor(() => workloadProcesses(name).length === 1, `${name}'s workload`, 30_000);
  return s;
}

const gc = (...args: string[]) => cliJson<ReconcileReport>(['gc', ...args], env.env);

test('the worker creates the reconcile schedule from the config', async () => {
  const client = await temporalClient();
  try {
    const d = await client.schedule.getHandle(reconcileScheduleId('test', env.taskQueue)).describe();
    expect(d.spec.intervals?.[0]?.every).toBe(7 * 60_000);
    expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileWorkflow' });
    expect(d.action.type === 'startWorkflow' && d.action.args).toEqual([{ graceMs: 2 * 60_000 }]);
  } finally {
    await client.connection.close();
  }
});

test('gc keeps the instance an open workflow claims', async () => {
  const name = 'rc-claimed';
  const s = await running(name);
  try {
    const report = await gc('--grace', '0s');
    expect(report.terminated).toEqual([]);
    expect(report.kept).toContainEqual(
      expect.objectContaining({ id: s.instanceId, reason: `current instance of workload-${name}` }),
    );
    expect(workloadProcesses(name)).toHaveLength(1);
  } finally {
    await cli(['stop', name], env.env);
  }
});

test('the instance of a workflow terminated hard is removed by the next reconcile (a dry run first changes nothing)', async () => {
  const name = 'rc-orphan';
  const s = await running(name);
  const client = await temporalClient();
  try {
    await client.workflow.getHandle(`workload-${name}`).terminate('test: hard stop');
  } finally {
    await client.connection.close();
  }
  // Terminated workflows run no compensation: the instance (its agent) lives on, billed. (The
  // agent may stop the workload itself once its supervision's heartbeats are refused.)
  expect(agentsOf(name)).toHaveLength(1);

  const young = await gc('--dry-run');
  expect(young.kept).toContainEqual(
    expect.objectContaining({
      id: s.instanceId,
      reason: `workload-${name} is terminated, but it is younger than the grace period`,
    }),
  );

  const dry = await gc('--grace', '0s', '--dry-run');
  expect(dry.dryRun).toBe(true);
  expect(dry.terminated).toEqual([
    expect.objectContaining({ id: s.instanceId, reason: `workload-${name} is terminated` }),
  ]);
  expect(agentsOf(name)).toHaveLength(1);

  const report = await gc('--grace', '0s');
  expect(report.dryRun).toBe(false);
  expect(report.terminated).toEqual([
    expect.objectContaining({ id: s.instanceId, provider: 'local', workflowId: `workload-${name}` }),
  ]);
  expect(report.failed).toEqual([]);
  await waitFor(() => workloadProcesses(name).length === 0, 'the orphan workload to end', 30_000);
  await waitFor(() => agentsOf(name).length === 0, 'the orphan agent to end', 30_000);

  const again = await gc('--grace', '0s');
  expect(again.terminated).toEqual([]);
  expect(again.kept.map((k) => k.id)).not.toContain(s.instanceId);
});

test('gc prints a table for people', async () => {
  const r = await cli(['gc', '--grace', '0s'], env.env);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/owned instance\(s\) seen; 0 terminated/);
});
