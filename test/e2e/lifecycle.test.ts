import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import {
  agentsOf,
  cli,
  cliJson,
  makeEnv,
  serviceSpec,
  startWorker,
  temporalAddress,
  temporalClient,
  waitFor,
  workloadProcesses,
  writeSpec,
  type StatusJson,
  type TestEnv,
  type WorkerProcess,
} from '../support/harness';
import { ensureTemporalCli } from '../../src/client/services/dev-server';

let env: TestEnv;
let worker: WorkerProcess;
let client: Client;

beforeAll(async () => {
  env = await makeEnv([{ name: 'pool-1' }, { name: 'pool-2', pricePerGpuHour: 2 }]);
  worker = await startWorker(env.env);
  client = await temporalClient();
});

afterAll(async () => {
  await client?.connection.close();
  await worker?.stop();
  await env?.cleanup();
});

function jobSpec(name: string, script: string, extra: Record<string, unknown> = {}) {
  return {
    ...serviceSpec(name),
    kind: 'job',
    command: ['node', '-e', script, `marker-${name}`],
    ...extra,
  };
}

test('a job that exits 0 completes its workflow and leaves no process', async () => {
  const name = 'job-ok';
  const file = await writeSpec(env, jobSpec(name, 'setTimeout(() => process.exit(0), 500)'));
  const r = await cli(['apply', file, '--wait', '--json'], env.env);
  expect(r.code).toBe(0);
  const view = JSON.parse(r.stdout) as StatusJson;
  expect(view.workflowStatus).toBe('COMPLETED');
  await expect(client.workflow.getHandle(`workload-${name}`).result()).resolves.toMatchObject({
    phase: 'SUCCEEDED',
    exitCode: 0,
  });
  expect(agentsOf(name)).toHaveLength(0);
  expect(workloadProcesses(name)).toHaveLength(0);
});

test('a job that exits 1 is restarted up to maxRestarts, then the workflow fails with the exit code', async () => {
  const name = 'job-fail';
  const file = await writeSpec(
    env,
    jobSpec(name, 'process.exit(1)', { recovery: { maxRestarts: 2, cooldown: '1m' } }),
  );
  const r = await cli(['apply', file, '--wait', '--json'], env.env);
  expect(r.code).toBe(3);
  const view = JSON.parse(r.stdout) as StatusJson;
  expect(view.workflowStatus).toBe('FAILED');
  expect(view.failure).toMatch(/exit code 1 after 2 restarts/);
  const err = await client.workflow
    .getHandle(`workload-${name}`)
    .result()
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as { type?: string; details?: unknown[] };
  expect(cause.type).toBe('WorkloadFailedError');
  expect(cause.details?.[0]).toMatchObject({ exitCode: 1, restarts: 2 });
  // Three runs in all: the first and two restarts.
  expect(view.status?.timeline.filter((e) => e.type === 'exited')).toHaveLength(3);
  expect(agentsOf(name)).toHaveLength(0);
  expect(workloadProcesses(name)).toHaveLength(0);
});

test('stop terminates the instance: no agent or workload process is left', async () => {
  const name = 'svc-stop';
  const file = await writeSpec(env, serviceSpec(name));
  expect((await cli(['apply', file, '--wait'], env.env)).code).toBe(0);
  expect(agentsOf(name)).toHaveLength(1);
  expect(workloadProcesses(name)).toHaveLength(1);
  const r = await cli(['stop', name, '--json'], env.env);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ phase: 'STOPPED', workflowStatus: 'COMPLETED' });
  expect(agentsOf(name)).toHaveLength(0);
  expect(workloadProcesses(name)).toHaveLength(0);
});

test('cancelling the workflow with the Temporal CLI terminates the instance and leaves no process', async () => {
  const name = 'svc-cancel';
  const file = await writeSpec(env, serviceSpec(name));
  expect((await cli(['apply', file, '--wait'], env.env)).code).toBe(0);
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
  const s = await waitFor(
    async () => {
      const v = await cliJson<StatusJson>(['status', name], env.env);
      return v.workflowStatus !== 'RUNNING' ? v : undefined;
    },
    'the workflow to close',
    30_000,
  );
  expect(s.workflowStatus).toBe('CANCELLED');
  expect(agentsOf(name)).toHaveLength(0);
  expect(workloadProcesses(name)).toHaveLength(0);
});

test('applying a running workload again with the same spec is a no-op; another kind is refused (exit 2) and changes nothing', async () => {
  const name = 'svc-twice';
  const file = await writeSpec(env, serviceSpec(name));
  expect((await cli(['apply', file, '--wait'], env.env)).code).toBe(0);
  try {
    const again = await cli(['apply', file, '--json'], env.env);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'unchanged' });
    const before = await cliJson<StatusJson>(['status', name], env.env);
    const changed = await writeSpec(env, { ...serviceSpec(name), kind: 'job' });
    const r = await cli(['apply', changed], env.env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refused: spec\.kind: a service cannot become a job; stop it and apply again/);
    expect(agentsOf(name)).toHaveLength(1);
    expect((await cliJson<StatusJson>(['status', name], env.env)).instanceId).toBe(before.instanceId);
  } finally {
    await cli(['stop', name], env.env);
  }
});
