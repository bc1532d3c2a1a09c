/**
 * Reconcile against the real dev server and a local pool: the worker creates its schedule;
 * `driftless gc` leaves claimed instances alone and removes the instance of a workflow that was
 * terminated hard (which no compensation could run for).
 */
import {
  agentsOf,
  cliJson,
  serviceSpec,
  waitFor,
  workloadProcesses,
  type StatusJson,
} from '../support/harness';
import { useE2eInstallation } from '../support/e2e';
import type { ReconcileReport } from '../../src/workflows/reconcile';
import { reconcileScheduleId } from '../../src/reconcile/schedule';

const e2e = useE2eInstallation({
  pools: [{ name: 'pool-a' }],
  config: { reconcile: { enabled: true, every: '7m', grace: '2m' } },
  client: true,
  // The schedule the worker created outlives it; this installation's goes with it.
  teardown: () =>
    e2e.client.schedule
      .getHandle(reconcileScheduleId('test', e2e.taskQueue))
      .delete()
      .catch(() => undefined),
});

async function running(name: string): Promise<StatusJson> {
  await e2e.apply(serviceSpec(name));
  const s = await e2e.waitRunning(name);
  await waitFor(() => workloadProcesses(name).length === 1, `${name}'s workload`, 30_000);
  return s;
}

const gc = (...args: string[]) => cliJson<ReconcileReport>(['gc', ...args], e2e.env);

test('the worker creates the reconcile schedule from the config', async () => {
  const d = await e2e.client.schedule.getHandle(reconcileScheduleId('test', e2e.taskQueue)).describe();
  expect(d.spec.intervals?.[0]?.every).toBe(7 * 60_000);
  expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'reconcileWorkflow' });
  expect(d.action.type === 'startWorkflow' && d.action.args).toEqual([{ graceMs: 2 * 60_000 }]);
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
    await e2e.cli(['stop', name]);
  }
});

test('the instance of a workflow terminated hard is removed by the next reconcile (a dry run first changes nothing)', async () => {
  const name = 'rc-orphan';
  const s = await running(name);
  await e2e.client.workflow.getHandle(`workload-${name}`).terminate('test: hard stop');
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
  const r = await e2e.cli(['gc', '--grace', '0s']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/owned instance\(s\) seen; 0 terminated/);
});
