/**
 * What a workload gets from its agent (issue 13): an allowlisted environment, GPUs and driftless
 * variables it cannot override, the agent's files private, the agent's log without its argv and,
 * with DRIFTLESS_WORKLOAD_USER, another user's rights. Real workload processes; only the
 * activity context is simulated.
 */
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createAgentActivities, WorkloadRunner, type StartWorkloadInput } from '../../src/agent/activities';
import { resolveWorkloadUser, WorkloadUserError } from '../../src/agent/run-as';
import { isAlive } from '../../src/common/processes';
import { waitFor } from '../support/harness';
import { cannotRunAsAnotherUser, ensureTestUser, TEST_WORKLOAD_USER } from '../support/test-user';

const secret = (name: string) => `${name}-${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`;

/** The agent's environment: the basics, its instance settings and secrets a workload must not see. */
const SECRETS = {
  HF_TOKEN: secret('hf'),
  GITHUB_TOKEN: secret('gh'),
  AZURE_CLIENT_SECRET: secret('az'),
  TEMPORAL_API_KEY: secret('temporal'),
  DRIFTLESS_CODEC_KEY: secret('codec'),
  AWS_SECRET_ACCESS_KEY: secret('aws'),
};
const agentEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  PATH: process.env.PATH,
  HOME: '/root-of-the-agent',
  LANG: 'C.UTF-8',
  TZ: 'UTC',
  DRIFTLESS_INSTANCE_ID: 'i-iso',
  DRIFTLESS_INSTANCE_DIR: '/somewhere',
  DRIFTLESS_DEAD_MAN_TIMEOUT: '60s',
  CUDA_VISIBLE_DEVICES: '1',
  TEMPORAL_ADDRESS: '127.0.0.1:7233',
  ...SECRETS,
  ...extra,
});

let dir: string;
let runner: WorkloadRunner;
let logLines: string[];

function newRunner(env: NodeJS.ProcessEnv): WorkloadRunner {
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logLines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return new WorkloadRunner({ instanceId: 'i-iso', dir, logger: pino({ level: 'info' }, sink), env });
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'driftless-iso-'));
  logLines = [];
  runner = newRunner(agentEnv());
});

afterEach(async () => {
  await runner.stop(500);
  await rm(dir, { recursive: true, force: true });
});

function run<A, R>(fn: (a: A) => Promise<R>, arg: A): Promise<R> {
  return new MockActivityEnvironment().run(fn, arg) as Promise<R>;
}

/** Runs `script` with node as the workload until it exits; returns what it printed. */
async function runToExit(
  input: Partial<StartWorkloadInput> & { script: string },
  r = runner,
): Promise<string> {
  const acts = createAgentActivities(r);
  const { script, ...rest } = input;
  await run(acts.startWorkload, { workload: 'iso', command: ['node', '-e', script], env: {}, ...rest });
  const exit = await run(acts.superviseWorkload, { heartbeatIntervalMs: 200 });
  expect(exit).toMatchObject({ outcome: 'exited', exitCode: 0 });
  return readFileSync(join(dir, 'workload.log'), 'utf8');
}

const PRINT_ENV = 'console.log(JSON.stringify(process.env))';
const lastJson = (text: string) => JSON.parse(text.trim().split('\n').pop()!) as Record<string, string>;

test("the workload's environment is the allowlist, the spec's env and driftless's own: none of the agent's secrets", async () => {
  const out = await runToExit({ script: PRINT_ENV, env: { WANDB_MODE: 'offline' } });
  const env = lastJson(out);
  expect(env).toEqual({
    PATH: process.env.PATH,
    HOME: '/root-of-the-agent',
    LANG: 'C.UTF-8',
    TZ: 'UTC',
    DRIFTLESS_INSTANCE_ID: 'i-iso',
    DRIFTLESS_WORKLOAD: 'iso',
    CUDA_VISIBLE_DEVICES: '1',
    WANDB_MODE: 'offline',
  });
  for (const value of Object.values(SECRETS)) expect(out).not.toContain(value);
});

test('a spec env (from an older history) cannot choose the GPUs, set DRIFTLESS_* or PORT of an HTTP workload', async () => {
  const acts = createAgentActivities(runner);
  const started = await run(acts.startWorkload, {
    workload: 'iso',
    command: ['node', '-e', `${PRINT_ENV}; setInterval(() => {}, 1000)`],
    env: { CUDA_VISIBLE_DEVICES: '0,1,2,3', DRIFTLESS_INSTANCE_ID: 'forged', PORT: '1', KEEP: 'yes' },
    http: {},
  });
  const env = await waitFor(() => {
    const text = readFileSync(join(dir, 'workload.log'), 'utf8');
    return text.trim() ? lastJson(text) : undefined;
  }, 'the workload to print its env');
  expect(env).toMatchObject({
    CUDA_VISIBLE_DEVICES: '1',
    DRIFTLESS_INSTANCE_ID: 'i-iso',
    PORT: String(started.port),
    KEEP: 'yes',
  });
  expect(started.port).not.toBe(1);
  const warned = logLines.map((l) => JSON.parse(l) as { msg: string; names?: string[] });
  expect(warned.find((l) => l.names)?.names).toEqual([
    'CUDA_VISIBLE_DEVICES',
    'DRIFTLESS_INSTANCE_ID',
    'PORT',
  ]);
});

test('a workload without an HTTP check keeps the PORT its spec sets', async () => {
  expect(lastJson(await runToExit({ script: PRINT_ENV, env: { PORT: '18080' } })).PORT).toBe('18080');
});

test("the agent's files are its user's only (0600), also a workload.log made before; the log names the program, never its arguments", async () => {
  writeFileSync(join(dir, 'workload.log'), '');
  chmodSync(join(dir, 'workload.log'), 0o644);
  const argSecret = secret('arg');
  await runToExit({ script: `/* ${argSecret} */ 0` });
  expect(statSync(join(dir, 'workload.log')).mode & 0o777).toBe(0o600);
  expect(statSync(join(dir, 'agent.json')).mode & 0o777).toBe(0o600);
  const started = logLines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === 'workload started');
  expect(started).toMatchObject({ program: 'node' });
  expect(logLines.join('\n')).not.toContain(argSecret);
});

describe('DRIFTLESS_WORKLOAD_USER', () => {
  test('names a user that does not exist: every start fails for good, saying so', async () => {
    const r = newRunner(agentEnv({ DRIFTLESS_WORKLOAD_USER: 'no-such-user-driftless' }));
    const acts = createAgentActivities(r);
    const start = run(acts.startWorkload, { workload: 'iso', command: ['true'], env: {} });
    await expect(start).rejects.toBeInstanceOf(ApplicationFailure);
    await expect(start).rejects.toMatchObject({
      type: 'WorkloadUserError',
      nonRetryable: true,
      message: expect.stringContaining('"no-such-user-driftless"') as unknown,
    });
    expect(r.hasStarted()).toBe(false);
  });

  test('an agent that is not root cannot switch to another user: a clear error', () => {
    const lookup = () => ({ name: 'trainer', uid: 1234, gid: 1234, home: '/home/trainer' });
    expect(() => resolveWorkloadUser('trainer', { lookup, uid: 1000 })).toThrow(WorkloadUserError);
    expect(() => resolveWorkloadUser('trainer', { lookup, uid: 1000 })).toThrow(
      /not root.*cannot switch users/,
    );
    // Its own user needs no switch; root may switch to anyone; unset or empty: the agent's user.
    expect(resolveWorkloadUser('trainer', { lookup, uid: 1234 })?.uid).toBe(1234);
    expect(resolveWorkloadUser('trainer', { lookup, uid: 0 })?.uid).toBe(1234);
    expect(resolveWorkloadUser('', { lookup, uid: 1000 })).toBeUndefined();
    expect(resolveWorkloadUser(undefined, { lookup, uid: 1000 })).toBeUndefined();
  });

  const why = cannotRunAsAnotherUser();
  (why ? test.skip : test)(
    `runs the workload as that user in a directory of its own, away from the agent's files and environment, and a stop still ends it${why ? ` (skipped: ${why})` : ''}`,
    async () => {
      const user = ensureTestUser();
      runner = newRunner(agentEnv({ DRIFTLESS_WORKLOAD_USER: TEST_WORKLOAD_USER }));
      const acts = createAgentActivities(runner);
      // What it can see: its ids, environment and working directory, and whether it can read the
      // agent's status file, its environment (/proc of its parent) or its log.
      const script = `
        const fs = require('fs');
        const tryRead = (f) => { try { return fs.readFileSync(f, 'utf8'); } catch (e) { return 'ERR ' + e.code; } };
        console.log(JSON.stringify({
          uid: process.getuid(), gid: process.getgid(), cwd: process.cwd(), env: process.env,
          agentJson: tryRead(${JSON.stringify(join(dir, 'agent.json'))}),
          agentJsonRelative: tryRead('../agent.json'),
          parentEnv: tryRead('/proc/' + process.ppid + '/environ'),
          log: tryRead(${JSON.stringify(join(dir, 'workload.log'))}),
        }));
        setInterval(() => {}, 1000);`;
      const started = await run(acts.startWorkload, {
        workload: 'iso',
        command: ['node', '-e', script],
        env: {},
      });
      const seen = (await waitFor(() => {
        const text = readFileSync(join(dir, 'workload.log'), 'utf8');
        return text.trim() ? lastJson(text) : undefined;
      }, 'the workload to report')) as unknown as {
        uid: number;
        gid: number;
        cwd: string;
        env: Record<string, string>;
        agentJson: string;
        agentJsonRelative: string;
        parentEnv: string;
        log: string;
      };
      expect(seen).toMatchObject({
        uid: user.uid,
        gid: user.gid,
        cwd: join(dir, 'work'),
        agentJson: 'ERR EACCES',
        agentJsonRelative: 'ERR EACCES',
        parentEnv: 'ERR EACCES',
        log: 'ERR EACCES',
      });
      expect(seen.env).toMatchObject({
        HOME: user.home,
        USER: TEST_WORKLOAD_USER,
        LOGNAME: TEST_WORKLOAD_USER,
      });
      const work = statSync(join(dir, 'work'));
      expect([work.uid, work.mode & 0o777]).toEqual([user.uid, 0o700]);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      for (const value of Object.values(SECRETS)) expect(JSON.stringify(seen)).not.toContain(value);

      // The agent (root) still stops the other user's process group.
      const identity = {
        pid: started.pid,
        startTime: JSON.parse(readFileSync(join(dir, 'agent.json'), 'utf8')).workload.startTime as string,
      };
      expect(isAlive(identity)).toBe(true);
      expect(await run(acts.stopWorkload, { graceMs: 2000 })).toMatchObject({ stopped: true });
      expect(isAlive(identity)).toBe(false);
    },
  );
});
