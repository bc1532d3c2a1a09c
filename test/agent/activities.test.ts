import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createAgentActivities, WorkloadRunner } from '../../src/agent/activities';
import { processesWith, sleep, waitFor } from '../support/harness';

// The agent's activities with real workload processes; only the activity context is simulated.
let dir: string;
let runner: WorkloadRunner;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftless-agent-'));
  runner = new WorkloadRunner({ instanceId: 'itest', dir, logger: pino({ level: 'silent' }) });
});

afterEach(async () => {
  await runner.stop(500);
  await rm(dir, { recursive: true, force: true });
});

/** Runs one activity in a (fresh, by default) mock activity context. */
function run<A, R>(fn: (a: A) => Promise<R>, arg: A, env = new MockActivityEnvironment()): Promise<R> {
  return env.run(fn, arg) as Promise<R>;
}

/** Starts `node -e script ...args` as workload w. */
const startNode = (acts: ReturnType<typeof createAgentActivities>, script: string, ...args: string[]) =>
  run(acts.startWorkload, { workload: 'w', command: ['node', '-e', script, ...args], env: {} });

const marker = () => `agent-test-${Math.random().toString(16).slice(2)}`;

test('startWorkload runs the command, writes its output to workload.log and returns the exit code on supervise', async () => {
  const acts = createAgentActivities(runner);
  const started = await run(acts.startWorkload, {
    workload: 'w',
    command: ['node', '-e', 'console.log("hello " + process.env.GREETING); process.exit(3)'],
    env: { GREETING: 'world' },
  });
  expect(started.logPath).toBe(join(dir, 'workload.log'));
  const exit = await run(acts.superviseWorkload, { heartbeatIntervalMs: 200 });
  expect(exit).toEqual({ outcome: 'exited', exitCode: 3, signal: null });
  expect(readFileSync(started.logPath, 'utf8')).toContain('hello world');
});

test('startWorkload is idempotent: a retried start returns the running workload instead of a second one', async () => {
  const m = marker();
  const acts = createAgentActivities(runner);
  const input = { workload: 'w', command: ['node', '-e', 'setInterval(() => {}, 1000)', m], env: {} };
  const a = await run(acts.startWorkload, input);
  const b = await run(acts.startWorkload, input);
  expect(b.pid).toBe(a.pid);
  expect(processesWith(m)).toHaveLength(1);
});

test('superviseWorkload heartbeats while the workload runs', async () => {
  const acts = createAgentActivities(runner);
  await startNode(acts, 'setTimeout(() => {}, 1200)');
  const env = new MockActivityEnvironment();
  let beats = 0;
  env.on('heartbeat', () => beats++);
  await run(acts.superviseWorkload, { heartbeatIntervalMs: 200 }, env);
  expect(beats).toBeGreaterThanOrEqual(4);
});

test('cancelling superviseWorkload stops the workload process group and raises CancelledFailure', async () => {
  const m = marker();
  const acts = createAgentActivities(runner);
  // The workload starts a child of its own: stopping must reach it too.
  const script = `require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '${m}-child'], { stdio: 'ignore' }); setInterval(() => {}, 1000)`;
  await startNode(acts, script, m);
  await waitFor(() => processesWith(`${m}-child`).length === 1, 'the grandchild', 30_000);
  const env = new MockActivityEnvironment();
  const supervising = run(acts.superviseWorkload, { heartbeatIntervalMs: 200 }, env);
  await sleep(300);
  env.cancel();
  await expect(supervising).rejects.toBeInstanceOf(CancelledFailure);
  expect(processesWith(m)).toHaveLength(0);
  expect(processesWith(`${m}-child`)).toHaveLength(0);
});

test('a workload that ends because the instance shuts down is reported as the instance going away, not an exit', async () => {
  const acts = createAgentActivities(runner);
  await startNode(acts, 'setInterval(() => {}, 1000)');
  // Caught at once: it may reject while the workload is still being stopped below.
  const supervising = run(acts.superviseWorkload, { heartbeatIntervalMs: 200 }).catch((e: unknown) => e);
  runner.beginShutdown();
  await runner.stop(1000);
  const err = await supervising;
  expect(err).toBeInstanceOf(ApplicationFailure);
  expect((err as ApplicationFailure).type).toBe('InstanceShuttingDown');
});

test('a command that cannot be started is reported as exit code 127 with the reason', async () => {
  const acts = createAgentActivities(runner);
  await run(acts.startWorkload, {
    workload: 'w',
    command: [join(dir, 'no-such-program')],
    env: {},
  });
  const exit = await run(acts.superviseWorkload, { heartbeatIntervalMs: 200 });
  expect(exit).toMatchObject({ outcome: 'exited', exitCode: 127, error: expect.stringMatching(/ENOENT/) });
});

test('the agent status file records readiness and the workload identity for the provider', async () => {
  runner.writeStatus(true);
  const acts = createAgentActivities(runner);
  const started = await startNode(acts, 'setInterval(() => {}, 1000)');
  const file = join(dir, 'agent.json');
  expect(existsSync(file)).toBe(true);
  const status = JSON.parse(readFileSync(file, 'utf8')) as { ready: boolean; workload: { pid: number } };
  expect(status.ready).toBe(true);
  expect(status.workload.pid).toBe(started.pid);
});
