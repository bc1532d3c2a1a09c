import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import {
  agentsOf,
  serviceSpec,
  startWorker,
  waitFor,
  workloadProcesses,
  writeSpec,
  type StatusJson,
  marker,
} from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

// Money-safe recovery (issue 11): a workload that can never start, or whose machines keep
// going away, ends FAILED instead of provisioning forever; an agent stopped by a signal takes
// its workload with it. Real dev server, worker and agent processes on two local pools.
const e2e = useE2eInstallation({
  pools: [
    { name: 'first', pricePerGpuHour: 1 },
    { name: 'second', pricePerGpuHour: 2 },
  ],
  client: true,
});

const processesOf = (name: string) => ({
  agents: agentsOf(name).length,
  workloads: workloadProcesses(name).length,
});

/** The workflow's failure, as the client sees it. */
async function failureOf(name: string): Promise<{ type?: string; message?: string }> {
  const err = await e2e.client.workflow
    .getHandle(`workload-${name}`)
    .result()
    .catch((e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause as { type?: string; message?: string };
}

test('a service whose health check never answers fails after maxStartFailures starts, with at most that many instances and none left', async () => {
  const name = 'never-healthy';
  // The workload runs but never listens on its PORT: every start times out after the grace.
  const spec = serviceSpec(name, {
    health: { heartbeatTimeout: '5s', startupGrace: '5s', http: { path: '/healthz', interval: '500ms' } },
    recovery: { maxRestarts: 5, cooldown: '2s', maxStartFailures: 3 },
  });
  e2e.stopAtEnd(name);
  const r = await e2e.cli(['apply', await writeSpec(e2e, spec), '--wait', '--timeout', '100s', '--json']);
  expect(r.code).toBe(3);
  // apply --wait shows the closed workflow once a failing one has ended its instances.
  const view = JSON.parse(r.stdout) as StatusJson;
  expect(view.workflowStatus).toBe('FAILED');
  const timeline = view.status!.timeline;
  const provisioned = timeline.filter((e) => e.type === 'provisioned');
  expect(provisioned).toHaveLength(3);
  expect(view.status!.attempts).toBe(3);
  expect(view.status!.failedStarts).toHaveLength(3);
  const cause = await failureOf(name);
  expect(cause.type).toBe('StartFailedError');
  // What failed each time, in the message.
  expect(cause.message).toMatch(/3 starts in a row failed/);
  expect(cause.message).toMatch(/\(1\) .*\(2\) .*\(3\) /);
  for (const p of provisioned) expect(cause.message).toContain(p.instanceId!);
  expect(processesOf(name)).toEqual({ agents: 0, workloads: 0 });
});

test('a service whose running instances keep being lost fails once the losses pass maxRecoveries, leaving nothing', async () => {
  const name = 'keeps-losing';
  const spec = serviceSpec(name, {
    health: { heartbeatTimeout: '3s', startupGrace: '30s' },
    recovery: { maxRestarts: 5, cooldown: '1s', maxRecoveries: 1, recoveryWindow: '10m' },
  });
  e2e.stopAtEnd(name);
  await e2e.apply(spec, '--wait', '--timeout', '60s');
  // First loss: recovered (one of one allowed).
  const first = await e2e.waitRunning(name);
  process.kill(agentsOf(name)[0]!, 'SIGKILL');
  const second = await e2e.waitRunning(name, { not: first.instanceId, timeoutMs: 60_000 });
  expect(second.status!.recentLosses).toHaveLength(1);
  // Second loss within the window: past the limit.
  process.kill(agentsOf(name)[0]!, 'SIGKILL');
  const failed = await e2e.waitStatus(name, (s) => s.workflowStatus !== 'RUNNING', 'the workflow to close', {
    timeoutMs: 60_000,
  });
  expect(failed.workflowStatus).toBe('FAILED');
  const cause = await failureOf(name);
  expect(cause.type).toBe('TooManyRecoveriesError');
  expect(cause.message).toContain(first.instanceId!);
  expect(cause.message).toContain(second.instanceId!);
  await waitFor(() => processesOf(name).workloads === 0, 'the orphaned workload to be ended', 10_000);
  expect(processesOf(name)).toEqual({ agents: 0, workloads: 0 });
});

/**
 * Signals the workload's agent while no worker runs (so nothing but the agent can stop the
 * workload); resolves with how long until that workload process was gone.
 */
async function signalAgent(name: string, signal: NodeJS.Signals, timeoutMs: number): Promise<number> {
  expect(processesOf(name)).toEqual({ agents: 1, workloads: 1 });
  const [workload] = workloadProcesses(name);
  await e2e.worker.kill('SIGKILL');
  try {
    process.kill(agentsOf(name)[0]!, signal);
    const sentAt = Date.now();
    await waitFor(() => !workloadProcesses(name).includes(workload!), 'the workload to stop', timeoutMs, 100);
    return Date.now() - sentAt;
  } finally {
    e2e.worker = await startWorker(e2e.env);
  }
}

test("SIGTERM to a local agent stops its workload, even one that ignores SIGTERM, within the spec's stopGrace", async () => {
  const name = 'agent-sigterm';
  // A workload that ignores SIGTERM: only the agent's SIGKILL after its grace ends it.
  // It says when it ignores SIGTERM: a signal before that (node still starting, on a loaded
  // machine) would end it at once and measure nothing.
  const ready = join(e2e.dir, `${name}.ignoring-sigterm`);
  const spec = serviceSpec(name, {
    command: [
      'node',
      '-e',
      "process.on('SIGTERM', () => {}); require('fs').writeFileSync(process.argv[1], ''); setInterval(() => {}, 1000)",
      ready,
      marker(name),
    ],
    recovery: { maxRestarts: 2, cooldown: '5m', stopGrace: '2s' },
  });
  e2e.stopAtEnd(name);
  await e2e.apply(spec, '--wait', '--timeout', '60s');
  await waitFor(() => existsSync(ready), 'the workload to ignore SIGTERM', 30_000);
  const tookMs = await signalAgent(name, 'SIGTERM', 15_000);
  console.log(`agent SIGTERM -> workload gone: ${tookMs} ms`);
  expect(tookMs).toBeGreaterThanOrEqual(1_900); // it had its grace ...
  expect(tookMs).toBeLessThan(2_000 + 1_500); // ... then SIGKILL
});

test('SIGHUP to a local agent stops its workload too', async () => {
  const name = 'agent-sighup';
  e2e.stopAtEnd(name);
  await e2e.apply(serviceSpec(name), '--wait', '--timeout', '60s');
  expect(await signalAgent(name, 'SIGHUP', 5_000)).toBeLessThan(5_000);
});
