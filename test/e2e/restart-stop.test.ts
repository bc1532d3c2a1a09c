/**
 * Restart in place and graceful stop (issue 11), with the real dev server, worker and agent
 * processes on local pools: a workload that fails on a healthy machine restarts there (same
 * instance id, no new provision); a stop gives the workload SIGTERM and its recovery.stopGrace
 * before the machine goes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentsOf, serviceSpec, workloadProcesses, type StatusJson, marker } from '../support/harness';
import { WORKLOAD_WORKFLOW_TYPE } from '../../src/common/names';
import { WorkloadSpec } from '../../src/spec/workload-spec';
import type { WorkloadInput } from '../../src/workflows/types';
import { useE2eInstallation } from '../support/e2e';

const e2e = useE2eInstallation({
  pools: [
    { name: 'first', pricePerGpuHour: 1 },
    { name: 'second', pricePerGpuHour: 2 },
  ],
  client: true,
});

const ofType = (s: StatusJson, type: string) => s.status?.timeline.filter((e) => e.type === type) ?? [];

/**
 * A node script that exits 1 on its first run (it leaves a file to say it ran) and, on later
 * runs, `then` (a script: run on, exit 0, ...).
 */
function failsOnce(name: string, then: string): string[] {
  const ran = join(e2e.dir, `${name}.ran`);
  const script =
    `const fs=require('fs');const f=${JSON.stringify(ran)};` +
    `if(!fs.existsSync(f)){fs.writeFileSync(f,'1');setTimeout(()=>process.exit(1),300)}else{${then}}`;
  return ['node', '-e', script, marker(name)];
}

const backoff = { initial: '200ms', max: '1s' };

test('a service that exits 1 once restarts on the same instance id, with no new provision', async () => {
  const name = 'restart-here';
  e2e.stopAtEnd(name);
  await e2e.apply(
    serviceSpec(name, {
      command: failsOnce(name, 'setInterval(()=>{},1000)'),
      recovery: { maxRestarts: 3, cooldown: '5m', backoff },
    }),
  );
  const restarted = await e2e.waitStatus(
    name,
    (s) => s.phase === 'RUNNING' && ofType(s, 'restarted').length === 1,
    `${name} to restart in place`,
  );
  const [running] = ofType(restarted, 'running');
  expect(restarted.instanceId).toBe(running!.instanceId);
  expect(ofType(restarted, 'exited')[0]!.instanceId).toBe(running!.instanceId);
  expect(ofType(restarted, 'provisioned')).toHaveLength(1);
  expect(ofType(restarted, 'terminated')).toHaveLength(0);
  expect(restarted.status).toMatchObject({ attempts: 1, restarts: 1, recoveries: 0 });
  expect(restarted.status?.current?.restartsHere).toBe(1);
  expect((await e2e.cli(['status', name])).stdout).toMatch(/restarts 1 \(1 in place on this instance\)/);
  // One machine, one workload process: the restarted one.
  expect(agentsOf(name)).toHaveLength(1);
  expect(workloadProcesses(name)).toHaveLength(1);
});

test('a job that exits 1 once restarts on the same instance and then succeeds there', async () => {
  const name = 'job-restart-here';
  const job = {
    ...serviceSpec(name),
    kind: 'job',
    command: failsOnce(name, 'setTimeout(()=>process.exit(0),200)'),
    recovery: { maxRestarts: 2, cooldown: '5m', backoff },
  };
  const r = await e2e.apply(job, '--wait', '--json');
  const done = JSON.parse(r.stdout) as StatusJson;
  expect(done.workflowStatus).toBe('COMPLETED');
  const exits = ofType(done, 'exited');
  expect(exits).toHaveLength(2);
  expect(exits[1]!.instanceId).toBe(exits[0]!.instanceId);
  expect(ofType(done, 'provisioned')).toHaveLength(1);
  expect(done.status?.attempts).toBe(1);
  expect(agentsOf(name)).toHaveLength(0);
});

test('driftless stop gives a workload that traps SIGTERM its stop grace: the file it writes on SIGTERM exists', async () => {
  const name = 'stop-trap';
  const file = join(e2e.dir, `${name}.checkpoint`);
  // A checkpoint that takes 6 s after SIGTERM: longer than any fixed grace the agent had before.
  const trap =
    `process.on('SIGTERM',()=>setTimeout(()=>{require('fs').writeFileSync(${JSON.stringify(file)},'saved');` +
    `process.exit(0)},6000));setInterval(()=>{},1000)`;
  e2e.stopAtEnd(name);
  await e2e.apply(
    serviceSpec(name, { command: ['node', '-e', trap, marker(name)], recovery: { stopGrace: '20s' } }),
    '--wait',
  );
  const r = await e2e.cli(['stop', name, '--json']);
  expect(r.code).toBe(0);
  expect(existsSync(file) && readFileSync(file, 'utf8')).toBe('saved');
  const stopped = JSON.parse(r.stdout) as StatusJson;
  expect(stopped.phase).toBe('STOPPED');
  expect(ofType(stopped, 'workload-stopped')[0]?.message).toMatch(/stopped \(exit code 0; grace 20s\)/);
  expect(agentsOf(name)).toHaveLength(0);
  expect(workloadProcesses(name)).toHaveLength(0);
});

test('with stopGrace 2s, stopping a workload that ignores SIGTERM completes in under 10 s and leaves no process', async () => {
  const name = 'stop-deaf';
  e2e.stopAtEnd(name);
  await e2e.apply(
    serviceSpec(name, {
      command: ['node', '-e', "process.on('SIGTERM',()=>{});setInterval(()=>{},1000)", marker(name)],
      recovery: { stopGrace: '2s' },
    }),
    '--wait',
  );
  const t0 = Date.now();
  const r = await e2e.cli(['stop', name, '--json']);
  const tookMs = Date.now() - t0;
  console.log(`stop of a workload that ignores SIGTERM (stopGrace 2s): ${tookMs} ms`);
  expect(r.code).toBe(0);
  expect(tookMs).toBeLessThan(10_000);
  const stopped = JSON.parse(r.stdout) as StatusJson;
  expect(ofType(stopped, 'workload-stopped')[0]?.message).toMatch(/signal SIGKILL; grace 2s/);
  expect(agentsOf(name)).toHaveLength(0);
  expect(workloadProcesses(name)).toHaveLength(0);
});

test('a migration requested while a failed workload waits for its restart ends the old instance and runs elsewhere', async () => {
  const name = 'restart-migrate';
  e2e.stopAtEnd(name);
  // Fails at once every time, with a long backoff: the migration lands while it waits.
  await e2e.apply(
    serviceSpec(name, {
      command: ['node', '-e', 'setTimeout(()=>process.exit(1),300)', marker(name)],
      recovery: { maxRestarts: 5, cooldown: '5m', backoff: { initial: '30s', max: '30s' } },
    }),
  );
  const waiting = await e2e.waitStatus(
    name,
    (s) => s.phase === 'RECOVERING' && ofType(s, 'restarting').length === 1,
    `${name} to wait for its restart`,
  );
  const old = waiting.instanceId!;
  expect(old).toBeDefined();
  const r = await e2e.cli(['migrate', name, '--to', 'local/second', '--json']);
  expect(r.code).toBe(0);
  const moved = await e2e.status(name);
  expect(moved.instanceId).not.toBe(old);
  expect(moved.status?.current?.region).toBe('second');
  expect(
    ofType(moved, 'terminated')
      .map((e) => e.message)
      .join('\n'),
  ).toContain(old);
  // Only the new instance's agent is left.
  expect(agentsOf(name)).toHaveLength(1);
});

test('restarts in place carry on across continue-as-new: each run of the workload starts once, on one instance', async () => {
  const name = 'restart-can';
  const counter = join(e2e.dir, `${name}.runs`);
  // Exits 75 (always restarts, never counted) four times, then 0.
  const script =
    `const fs=require('fs');const f=${JSON.stringify(counter)};` +
    `const n=fs.existsSync(f)?Number(fs.readFileSync(f,'utf8')):0;fs.writeFileSync(f,String(n+1));` +
    `setTimeout(()=>process.exit(n<4?75:0),200)`;
  const spec = WorkloadSpec.parse({
    ...serviceSpec(name),
    kind: 'job',
    command: ['node', '-e', script, marker(name)],
    recovery: {
      maxRestarts: 0,
      restartExitCodes: [75],
      cooldown: '5m',
      backoff: { initial: '200ms', max: '200ms' },
    },
  });
  const handle = await e2e.client.workflow.start(WORKLOAD_WORKFLOW_TYPE, {
    workflowId: `workload-${name}`,
    taskQueue: e2e.taskQueue,
    args: [{ spec, continueAsNewAfterEvents: 25 } satisfies WorkloadInput],
  });
  await expect(handle.result()).resolves.toMatchObject({ phase: 'SUCCEEDED' });
  const done = await e2e.status(name);
  expect(done.status?.runs ?? 0).toBeGreaterThanOrEqual(2);
  expect(ofType(done, 'continued').map((e) => e.message)).toEqual(
    expect.arrayContaining([expect.stringMatching(/restarting the workload on /)]),
  );
  // Five runs of the workload in all (no run started twice, none skipped), all on one instance.
  expect(readFileSync(counter, 'utf8')).toBe('5');
  // Each exit seen once: a new run does not supervise (and so report again) an exited workload.
  expect(ofType(done, 'exited')).toHaveLength(5);
  expect(done.status).toMatchObject({ attempts: 1, restarts: 0 });
  expect(agentsOf(name)).toHaveLength(0);
});
