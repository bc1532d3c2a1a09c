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

test('a start of the next generation stops the running workload and starts it again; an older generation gets the current run', async () => {
  const m = marker();
  const acts = createAgentActivities(runner);
  const input = { workload: 'w', command: ['node', '-e', 'setInterval(() => {}, 1000)', m], env: {} };
  const first = await run(acts.startWorkload, input);
  const second = await run(acts.startWorkload, { ...input, generation: 1, stopGraceMs: 2000 });
  expect(second.pid).not.toBe(first.pid);
  expect(processesWith(m)).toEqual([second.pid]);
  // A late retry of the first start (generation 0) must not start a third copy or stop the second.
  const stale = await run(acts.startWorkload, input);
  expect(stale.pid).toBe(second.pid);
  expect(processesWith(m)).toHaveLength(1);
});

test('after a restart in place, supervision reports the new run, not the old run that exited', async () => {
  const acts = createAgentActivities(runner);
  const marks = join(dir, 'runs');
  // Each run appends a line; the first exits 1, the second exits 4 after a moment.
  const script = `const fs=require('fs');fs.appendFileSync(${JSON.stringify(marks)},'x');const n=fs.readFileSync(${JSON.stringify(marks)},'utf8').length;setTimeout(()=>process.exit(n===1?1:4), n===1?0:300)`;
  const input = { workload: 'w', command: ['node', '-e', script], env: {} };
  await run(acts.startWorkload, input);
  expect(await run(acts.superviseWorkload, { heartbeatIntervalMs: 200 })).toMatchObject({ exitCode: 1 });
  await run(acts.startWorkload, { ...input, generation: 1 });
  expect(await run(acts.superviseWorkload, { heartbeatIntervalMs: 200 })).toMatchObject({ exitCode: 4 });
  expect(readFileSync(marks, 'utf8')).toBe('xx');
});

test('stopWorkload gives a workload that traps SIGTERM its grace to finish, and SIGKILLs one that ignores it after the grace', async () => {
  const acts = createAgentActivities(runner);
  const flushed = join(dir, 'flushed');
  // Traps SIGTERM, takes 500 ms to "checkpoint", writes a file and exits 0.
  const trap = `process.on('SIGTERM',()=>setTimeout(()=>{require('fs').writeFileSync(${JSON.stringify(flushed)},'ok');process.exit(0)},500));setInterval(()=>{},1000)`;
  await run(acts.startWorkload, { workload: 'w', command: ['node', '-e', trap], env: {}, stopGraceMs: 5000 });
  await sleep(300); // let it install its handler
  const r = await run(acts.stopWorkload, {});
  expect(r).toEqual({ stopped: true, exit: { exitCode: 0, signal: null } });
  expect(readFileSync(flushed, 'utf8')).toBe('ok');

  const m = marker();
  const deaf = "process.on('SIGTERM',()=>{});setInterval(()=>{},1000)";
  await run(acts.startWorkload, { workload: 'w', command: ['node', '-e', deaf, m], env: {}, generation: 1 });
  await sleep(300);
  const t0 = Date.now();
  const killed = await run(acts.stopWorkload, { graceMs: 800 });
  const took = Date.now() - t0;
  expect(killed).toEqual({ stopped: true, exit: { exitCode: null, signal: 'SIGKILL' } });
  expect(took).toBeGreaterThanOrEqual(700);
  expect(processesWith(m)).toHaveLength(0);
  // Nothing left to stop: a second stop says so.
  expect(await run(acts.stopWorkload, {})).toMatchObject({ stopped: false });
});

test('a stop while another is under way (a cancelled supervision and a stop call) sends SIGTERM once', async () => {
  const acts = createAgentActivities(runner);
  const terms = join(dir, 'terms');
  const script = `process.on('SIGTERM',()=>{require('fs').appendFileSync(${JSON.stringify(terms)},'t');setTimeout(()=>process.exit(0),300)});setInterval(()=>{},1000)`;
  await run(acts.startWorkload, {
    workload: 'w',
    command: ['node', '-e', script],
    env: {},
    stopGraceMs: 3000,
  });
  await sleep(300);
  const env = new MockActivityEnvironment();
  const supervising = run(acts.superviseWorkload, { heartbeatIntervalMs: 200 }, env).catch((e: unknown) => e);
  await sleep(100);
  const stopping = run(acts.stopWorkload, {});
  env.cancel();
  await stopping;
  await supervising;
  expect(readFileSync(terms, 'utf8')).toBe('t');
});

test('the agent status file records the stop grace a terminate should give the agent', async () => {
  const acts = createAgentActivities(runner);
  await run(acts.startWorkload, {
    workload: 'w',
    command: ['node', '-e', 'setInterval(() => {}, 1000)'],
    env: {},
    stopGraceMs: 7000,
  });
  const status = JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')) as { stopGraceMs: number };
  expect(status.stopGraceMs).toBe(7000);
});

test('a notice ends the supervision that asks for notices once; the supervision after it runs on', async () => {
  const acts = createAgentActivities(runner);
  await startNode(acts, 'setInterval(() => {}, 1000)');
  const first = run(acts.superviseWorkload, { heartbeatIntervalMs: 200, notices: true });
  runner.reportNotice({ kind: 'spot-interruption', detail: 'spot interruption: terminate at soon' });
  expect(await first).toEqual({
    outcome: 'notice',
    notice: { kind: 'spot-interruption', detail: 'spot interruption: terminate at soon' },
  });
  // The same notice does not end the next supervision: it ends on its slice, the workload running.
  expect(
    await run(acts.superviseWorkload, { heartbeatIntervalMs: 200, notices: true, sliceMs: 500 }),
  ).toEqual({
    outcome: 'running',
  });
  // Without `notices` (a workflow from before), a notice never ends a supervision.
  const other = new WorkloadRunner({ instanceId: 'i2', dir, logger: pino({ level: 'silent' }) });
  const acts2 = createAgentActivities(other);
  await run(acts2.startWorkload, {
    workload: 'w',
    command: ['node', '-e', 'setInterval(() => {}, 1000)'],
    env: {},
  });
  other.reportNotice({ kind: 'rebalance', detail: 'rebalance' });
  expect(await run(acts2.superviseWorkload, { heartbeatIntervalMs: 200, sliceMs: 500 })).toEqual({
    outcome: 'running',
  });
  await other.stop(500);
});

test('a stop asked for while a restart stops the old run wins: no new run is started behind it', async () => {
  const m = marker();
  const acts = createAgentActivities(runner);
  // The old run takes 600 ms to exit after SIGTERM, so the stop lands while the restart waits.
  const slow = "process.on('SIGTERM',()=>setTimeout(()=>process.exit(0),600));setInterval(()=>{},1000)";
  const input = { workload: 'w', command: ['node', '-e', slow, m], env: {}, stopGraceMs: 5000 };
  await run(acts.startWorkload, input);
  await sleep(300);
  const restarting = run(acts.startWorkload, { ...input, generation: 1 }).catch((e: unknown) => e);
  await sleep(100);
  const stopped = await run(acts.stopWorkload, {});
  expect(stopped.stopped).toBe(true);
  const err = await restarting;
  expect((err as Error).message).toMatch(/stopped while it was being restarted/);
  await sleep(300);
  expect(processesWith(m)).toHaveLength(0);
});
