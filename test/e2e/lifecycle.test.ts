import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { WorkflowFailedError } from '@temporalio/client';
import {
  agentsOf,
  serviceSpec,
  temporalAddress,
  workloadProcesses,
  writeSpec,
  type StatusJson,
  marker,
} from '../support/harness';
import { useE2eInstallation } from '../support/e2e';
import { ensureTemporalCli } from '../../src/client/services/dev-server';

const e2e = useE2eInstallation({
  pools: [{ name: 'pool-1' }, { name: 'pool-2', pricePerGpuHour: 2 }],
  client: true,
});

/** How many agents and workload processes of the workload are alive. */
const processesOf = (name: string) => ({
  agents: agentsOf(name).length,
  workloads: workloadProcesses(name).length,
});

function jobSpec(name: string, script: string, extra: Record<string, unknown> = {}) {
  return {
    ...serviceSpec(name),
    kind: 'job',
    command: ['node', '-e', script, marker(name)],
    ...extra,
  };
}

test('a job that exits 0 completes its workflow and leaves no process', async () => {
  const name = 'job-ok';
  const r = await e2e.apply(jobSpec(name, 'setTimeout(() => process.exit(0), 500)'), '--wait', '--json');
  const view = JSON.parse(r.stdout) as StatusJson;
  expect(view.workflowStatus).toBe('COMPLETED');
  await expect(e2e.client.workflow.getHandle(`workload-${name}`).result()).resolves.toMatchObject({
    phase: 'SUCCEEDED',
    exitCode: 0,
  });
  expect(processesOf(name)).toEqual({ agents: 0, workloads: 0 });
});

test('a job that exits 1 is restarted up to maxRestarts, then the workflow fails with the exit code', async () => {
  const name = 'job-fail';
  const file = await writeSpec(
    e2e,
    jobSpec(name, 'process.exit(1)', { recovery: { maxRestarts: 2, cooldown: '1m' } }),
  );
  const r = await e2e.cli(['apply', file, '--wait', '--json']);
  expect(r.code).toBe(3);
  const view = JSON.parse(r.stdout) as StatusJson;
  expect(view.workflowStatus).toBe('FAILED');
  expect(view.failure).toMatch(/exit code 1 after 2 restarts/);
  const err = await e2e.client.workflow
    .getHandle(`workload-${name}`)
    .result()
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as { type?: string; details?: unknown[] };
  expect(cause.type).toBe('WorkloadFailedError');
  expect(cause.details?.[0]).toMatchObject({ exitCode: 1, restarts: 2 });
  // Three runs in all: the first and two restarts.
  expect(view.status?.timeline.filter((e) => e.type === 'exited')).toHaveLength(3);
  expect(processesOf(name)).toEqual({ agents: 0, workloads: 0 });
});

test('stop terminates the instance: no agent or workload process is left', async () => {
  const name = 'svc-stop';
  await e2e.apply(serviceSpec(name), '--wait');
  expect(processesOf(name)).toEqual({ agents: 1, workloads: 1 });
  const r = await e2e.cli(['stop', name, '--json']);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ phase: 'STOPPED', workflowStatus: 'COMPLETED' });
  expect(processesOf(name)).toEqual({ agents: 0, workloads: 0 });
});

test('cancelling the workflow with the Temporal CLI terminates the instance and leaves no process', async () => {
  const name = 'svc-cancel';
  await e2e.apply(serviceSpec(name), '--wait');
  expect(agentsOf(name)).toHaveLength(1);
  const temporal = await ensureTemporalCli();
  await promisify(execFile)(temporal, [
    'workflow',
    'cancel',
    '--workflow-id',
    `workload-${name}`,
    '--address',
    temporalAddress(),
  ]);
  const s = await e2e.waitStatus(name, (v) => v.workflowStatus !== 'RUNNING', 'the workflow to close', {
    timeoutMs: 30_000,
  });
  expect(s.workflowStatus).toBe('CANCELLED');
  expect(processesOf(name)).toEqual({ agents: 0, workloads: 0 });
});

test('applying a running workload again with the same spec is a no-op; another kind is refused (exit 2) and changes nothing', async () => {
  const name = 'svc-twice';
  const file = await writeSpec(e2e, serviceSpec(name));
  expect((await e2e.cli(['apply', file, '--wait'])).code).toBe(0);
  try {
    const again = await e2e.cli(['apply', file, '--json']);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'unchanged' });
    const before = await e2e.status(name);
    const changed = await writeSpec(e2e, { ...serviceSpec(name), kind: 'job' });
    const r = await e2e.cli(['apply', changed]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refused: spec\.kind: a service cannot become a job; stop it and apply again/);
    expect(agentsOf(name)).toHaveLength(1);
    expect((await e2e.status(name)).instanceId).toBe(before.instanceId);
  } finally {
    await e2e.cli(['stop', name]);
  }
});
