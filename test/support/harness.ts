import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readlinkSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { stringify } from 'yaml';
import type { WorkloadView } from '../../src/client/services/workloads';
import { identify, pidsWhere } from '../../src/common/processes';

export const ROOT = resolve(__dirname, '../..');
export const CLI = join(ROOT, 'bin/driftless.js');

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The run's Temporal address (set by global-setup in this process's environment). */
export function temporalAddress(): string {
  const a = process.env.TEMPORAL_TEST_ADDRESS;
  if (!a)
    throw new Error('TEMPORAL_TEST_ADDRESS is not set: is jest running with test/support/global-setup.ts?');
  return a;
}

export interface PoolSpec {
  name: string;
  gpus?: { type: string; count: number };
  pricePerGpuHour?: number;
  bootDelay?: string;
  readyDelay?: string;
  /** "shared": scale mode, every instance's agent in the pool's one agent host. */
  agents?: 'process' | 'shared';
  /** The user the pool's workloads run as (the agent, so the test, must be root). */
  runAs?: string;
}

/** The log level of the processes tests start (warn unless the developer's shell says otherwise). */
export const LOG_LEVEL = process.env.DRIFTLESS_LOG_LEVEL ?? 'warn';

/** Test installations live in `${tmpdir}/driftless-test-*`. */
export const ENV_PREFIX = 'driftless-test-';

/**
 * This run's mark: two test runs on one machine (two checkouts, a developer's and CI's) never
 * count each other's workload processes. Set once per test file's module registry, so a file's
 * specs and its process lookups agree.
 */
export const RUN_MARK = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;

/** Where this run's installations live: `${tmpdir}/driftless-test-<RUN_MARK>-*`. */
export const RUN_DIRS = join(tmpdir(), `${ENV_PREFIX}${RUN_MARK}-`);

/** An isolated installation: own state dir, config file, task queue and owner. */
export interface TestEnv {
  dir: string;
  configPath: string;
  taskQueue: string;
  env: NodeJS.ProcessEnv;
  cleanup(): Promise<void>;
}

/**
 * Writes an installation's config: `pools` as the local provider's, `config` as top-level
 * settings (its `providers` beside the local one). The reconcile schedule is off unless a test
 * turns it on: its runs would be timed by the clock, not by the test.
 */
export async function writeConfig(
  configPath: string,
  pools: PoolSpec[],
  config: Record<string, unknown> = {},
): Promise<void> {
  const { providers, agent, ...settings } = config;
  // Cloud instances (played on this machine) reach the suite's server at its own address.
  const clouds = Object.keys((providers as Record<string, unknown> | undefined) ?? {}).some(
    (p) => p !== 'local',
  );
  const agentSettings = {
    ...(clouds ? { temporal: { address: temporalAddress() } } : {}),
    ...(agent as Record<string, unknown> | undefined),
  };
  await writeFile(
    configPath,
    stringify({
      owner: 'test',
      reconcile: { enabled: false },
      // Quicker than the default 10s: the suite's provider-side losses are seen within seconds.
      watch: { interval: '1s' },
      providers: {
        local: { pools: pools.map((p) => ({ gpus: { type: 'A100', count: 2 }, pricePerGpuHour: 1, ...p })) },
        ...(providers as Record<string, unknown> | undefined),
      },
      ...(Object.keys(agentSettings).length > 0 ? { agent: agentSettings } : {}),
      ...settings,
    }),
  );
}

/** A new installation; `pools` and `config` as for {@link writeConfig}. */
export async function makeEnv(pools: PoolSpec[], config: Record<string, unknown> = {}): Promise<TestEnv> {
  const dir = await mkdtemp(RUN_DIRS);
  // Whose it is: a later run reaps what a killed run left here (test/support/global-setup.ts).
  const owner = identify(process.pid);
  if (owner) await writeFile(join(dir, 'owner.json'), JSON.stringify(owner));
  const taskQueue = `driftless-test-${randomBytes(4).toString('hex')}`;
  const configPath = join(dir, 'driftless.config.yaml');
  await writeConfig(configPath, pools, config);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DRIFTLESS_CONFIG: configPath,
    TEMPORAL_ADDRESS: temporalAddress(),
    TEMPORAL_NAMESPACE: 'default',
    DRIFTLESS_TASK_QUEUE: taskQueue,
    DRIFTLESS_STATE_DIR: join(dir, 'state'),
    DRIFTLESS_LOG_LEVEL: LOG_LEVEL,
  };
  // A codec key in the developer's shell would encrypt what the tests' own clients read plain;
  // the codec tests set theirs.
  delete env.DRIFTLESS_CODEC_KEY;
  delete env.DRIFTLESS_CODEC_PREVIOUS_KEYS;
  const cleanup = async () => {
    // Whatever a failed test left running in this installation (agents, workloads) ends with it.
    killProcessesUnder(dir);
    await rm(dir, { recursive: true, force: true });
  };
  return { dir, configPath, taskQueue, env, cleanup };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI in a child process. */
// Longer than the CLI's own waits (`stop` and `apply --wait` default to 120 s), so a CLI that
// gives up says why instead of being killed first.
export function cli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 180_000): Promise<CliResult> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      rej(new Error(`driftless ${args.join(' ')} timed out; stderr:\n${stderr}`));
    }, timeoutMs);
    // 'close', not 'exit': 'exit' can come before the last of stdout has been read, and a
    // `--json` document then parses as empty.
    child.on('close', (code) => {
      clearTimeout(t);
      res({ code, stdout, stderr });
    });
  });
}

/** `cli` and parse its --json stdout. */
export async function cliJson<T = Record<string, unknown>>(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<T> {
  const r = await cli([...args, '--json'], env);
  if (r.code !== 0) throw new Error(`driftless ${args.join(' ')} exited ${r.code}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** Starts `driftless worker` as a real process and waits until it polls. */
export async function startWorker(env: NodeJS.ProcessEnv): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [CLI, 'worker'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 60_000;
  while (!out.includes('worker polling')) {
    if (child.exitCode !== null) throw new Error(`worker exited early:\n${out}`);
    if (Date.now() > deadline) throw new Error(`worker did not start:\n${out}`);
    await sleep(100);
  }
  const kill = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { child, output: () => out, kill, stop: () => kill('SIGTERM') };
}

/** Live processes other than this one for which `match` holds (see scanProcesses). */
const othersWhere = (match: Parameters<typeof pidsWhere>[0]) =>
  pidsWhere((p) => p.pid !== process.pid && match(p));

/**
 * Kills (SIGKILL) every process of this user that works in `dir` or belongs to an installation
 * whose state lives there: agents carry DRIFTLESS_STATE_DIR, workloads run in instance dirs.
 * A directory already deleted still matches.
 */
export function killProcessesUnder(dir: string): number[] {
  const under = (p: string | undefined) => p !== undefined && (p === dir || p.startsWith(dir + '/'));
  return othersWhere((p) => under(p.cwd) || under(p.env('DRIFTLESS_STATE_DIR'))).filter((pid) => {
    try {
      process.kill(pid, 'SIGKILL');
      return true;
    } catch {
      return false; // exited meanwhile
    }
  });
}

/** Live processes (not zombies) whose argv contains every one of `parts`. */
export const processesWith = (...parts: string[]): number[] =>
  othersWhere((p) => {
    const argv = p.argv;
    return parts.every((x) => argv.includes(x));
  });

/** Whether a live process works in `dir` or below it (a deleted directory still counts). */
export function worksUnder(pid: number, dir: string): boolean {
  try {
    const cwd = readlinkSync(`/proc/${pid}/cwd`).replace(/ \(deleted\)$/, '');
    return cwd === dir || cwd.startsWith(`${dir}/`);
  } catch {
    return false; // gone, or not ours to read
  }
}

/** Live processes whose environment holds `entry` ("NAME=value"); workloads carry DRIFTLESS_WORKLOAD. */
export const processesWithEnv = (entry: string): number[] => othersWhere((p) => p.environ.includes(entry));

/**
 * This run's agent processes serving a workload: the local provider starts them with
 * `--workload NAME` in an instance directory under this run's installation. Another run's agent
 * for a workload of the same name (a second checkout testing at once) is not counted.
 */
export const agentsOf = (workload: string) =>
  othersWhere((p) => {
    const argv = p.argv;
    const i = argv.indexOf('--workload');
    return i >= 0 && argv[i + 1] === workload && p.cwd.startsWith(RUN_DIRS);
  });

/** Polls `fn` until it returns a truthy value. */
export async function waitFor<T>(
  fn: () => Promise<T> | T,
  what: string,
  timeoutMs = 60_000,
  everyMs = 200,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${String(last)}`);
    await sleep(everyMs);
  }
}

/** A workload spec file for tests; `marker` lands in the workload's argv so its processes can be found. */
export async function writeSpec(env: Pick<TestEnv, 'dir'>, spec: Record<string, unknown>): Promise<string> {
  const file = join(env.dir, `${String(spec.name)}.yaml`);
  await writeFile(file, stringify(spec));
  return file;
}

/** What a test workload carries in its argv so that its processes, and only this run's, can be found. */
export const marker = (name: string) => `marker-${RUN_MARK}-${name}`;

/** A service that runs until killed; its argv carries `marker`. */
export function serviceSpec(name: string, extra: Record<string, unknown> = {}) {
  return {
    name,
    kind: 'service',
    command: ['node', '-e', 'setInterval(() => {}, 1000)', marker(name)],
    resources: { gpu: { type: 'A100', count: 1 } },
    health: { heartbeatTimeout: '5s', startupGrace: '30s' },
    recovery: { maxRestarts: 2, cooldown: '5m' },
    ...extra,
  };
}

export const workloadProcesses = (name: string) => processesWith(marker(name));

export async function temporalClient(): Promise<Client> {
  const connection = await Connection.connect({ address: temporalAddress() });
  return new Client({ connection, namespace: 'default' });
}

/** What `status --json` prints. */
export type StatusJson = WorkloadView;
