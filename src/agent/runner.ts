/**
 * The agent's process-level state: one workload per instance, run in a process group of its
 * own, restarted in place by generation, stopped with its stop grace, and told of notices.
 */
import { spawn } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  fchmodSync,
  mkdirSync,
  openSync,
  renameSync,
  writeFileSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { freePort } from '../common/free-port';
import { identify, isAlive, killGroup, type ProcessIdentity } from '../common/processes';
import { reservedEnvProblem } from '../spec/reserved-env';
import type { Notice } from './notices';
import { LogIndex } from './workload-log';
import { resolveWorkloadUser, WorkloadUserError, type RunAsUser } from './run-as';

export interface StartWorkloadInput {
  workload: string;
  command: string[];
  env: Record<string, string>;
  /**
   * The workload serves HTTP: it gets PORT in its environment, this port or, without one, a free
   * port the agent picks (so two instances on one host never collide).
   */
  http?: { port?: number };
  /**
   * Which run of the workload on this instance: 0 first, one more per restart in place. A start
   * of a newer generation stops the running one (SIGTERM, the stop grace, SIGKILL) and starts it
   * again; a start of the same or an older generation returns the running one. @default 0
   */
  generation?: number;
  /** How long the workload gets between SIGTERM and SIGKILL whenever it is stopped. @default 30s */
  stopGraceMs?: number;
}

export interface StartedWorkload {
  pid: number;
  host: string;
  logPath: string;
  startedAt: string;
  /** The port it was told to serve on (PORT), for HTTP workloads. */
  port?: number;
}

export interface WorkloadExit {
  exitCode: number | null;
  signal: string | null;
  /** Set when the command could not be started at all. */
  error?: string;
}

/** What a workload keeps of the agent's environment: the basics a process needs, nothing else. */
const WORKLOAD_BASICS = ['PATH', 'HOME', 'USER', 'LOGNAME', 'LANG', 'LC_ALL', 'TZ'] as const;

/**
 * The workload's environment before its spec's env: an allowlist of the agent's (PATH, HOME,
 * USER, LOGNAME, LANG, LC_ALL, TZ), the instance id and its GPUs. Everything else the agent has
 * (Temporal and cloud credentials, the codec key, other tools' tokens) stays with the agent. A
 * workload run as `user` gets that user's HOME, USER and LOGNAME.
 */
export function workloadBaseEnv(env: NodeJS.ProcessEnv, user?: RunAsUser): Record<string, string> {
  const out: Record<string, string> = {};
  const names = [...WORKLOAD_BASICS, 'DRIFTLESS_INSTANCE_ID', 'CUDA_VISIBLE_DEVICES'];
  for (const name of names) {
    const v = env[name];
    if (v !== undefined) out[name] = v;
  }
  if (user) Object.assign(out, { HOME: user.home, USER: user.name, LOGNAME: user.name });
  return out;
}

/**
 * The spec's env without the names driftless sets itself (CUDA_VISIBLE_DEVICES, DRIFTLESS_*,
 * PORT for an HTTP workload). The spec's validation rejects them; a spec from an older history
 * may still carry them, and must not choose its GPUs that way.
 */
function specEnvOf(
  env: Record<string, string>,
  http: boolean,
): { kept: Record<string, string>; dropped: string[] } {
  const kept: Record<string, string> = {};
  const dropped: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (reservedEnvProblem(k, http)) dropped.push(k);
    else kept[k] = v;
  }
  return { kept, dropped };
}

/** How long a workload gets between SIGTERM and SIGKILL when no spec said (recovery.stopGrace). */
export const DEFAULT_STOP_GRACE_MS = 30_000;

export interface AgentDeps {
  instanceId: string;
  /** Directory for workload.log and agent.json. */
  dir: string;
  logger: Logger;
  /**
   * What the workload's environment is derived from (see workloadBaseEnv), and where
   * DRIFTLESS_WORKLOAD_USER (the user the workload runs as) is read. @default process.env
   */
  env?: NodeJS.ProcessEnv;
}

/** One run of the workload: a process group, and how it ended. */
interface Run {
  generation: number;
  identity: ProcessIdentity;
  started: StartedWorkload;
  exited?: WorkloadExit;
  waiters: Array<(e: WorkloadExit) => void>;
}

/** The agent's process-level state: one workload per instance, restarted in place by generation. */
export class WorkloadRunner {
  private run?: Run;
  private ready = false;
  /** Set when the instance itself is going away (the agent got SIGTERM). */
  private shuttingDown = false;
  private stopGraceMs = DEFAULT_STOP_GRACE_MS;
  /** The stop under way, so two stops (a cancel and a stop call) send SIGTERM once. */
  private stopping?: Promise<void>;
  private notice?: Notice;
  private noticeReported = false;
  /** Stops asked for so far (see {@link stop}). */
  private stops = 0;
  private noticeWaiters: Array<(n: Notice) => void> = [];
  /** workload.log's size once a second while it grows, for `driftless logs --since`. */
  readonly logIndex: LogIndex;
  private logSampler?: NodeJS.Timeout;

  /** Who the workload runs as: a user, undefined for the agent's own, or why it cannot run. */
  private readonly user: RunAsUser | WorkloadUserError | undefined;

  constructor(private readonly deps: AgentDeps) {
    this.logIndex = new LogIndex(this.logPath());
    try {
      this.user = resolveWorkloadUser((deps.env ?? process.env).DRIFTLESS_WORKLOAD_USER);
    } catch (err) {
      if (!(err instanceof WorkloadUserError)) throw err;
      this.user = err;
      deps.logger.error({ user: err.user, err: err.message }, 'the workload cannot run as its user');
    }
  }

  /** Set once this agent has ended inside a process that goes on (an agent host). */
  private gone = false;

  /** Written for the local provider, which ends the workload's process group on terminate. */
  writeStatus(ready = this.ready): void {
    this.ready = ready;
    const file = join(this.deps.dir, 'agent.json');
    writeFileSync(
      file + '.tmp',
      JSON.stringify({
        pid: process.pid,
        ready,
        workload: this.run?.identity,
        instanceId: this.deps.instanceId,
        stopGraceMs: this.stopGraceMs,
        ...(this.gone ? { gone: true } : {}),
      }),
      { mode: 0o600 },
    );
    renameSync(file + '.tmp', file);
  }

  /** The agent has ended, though its process lives on: the instance no longer answers. */
  markGone(): void {
    this.gone = true;
    clearInterval(this.logSampler);
    this.writeStatus(false);
  }

  async start(input: StartWorkloadInput): Promise<StartedWorkload> {
    if (input.stopGraceMs !== undefined) this.stopGraceMs = input.stopGraceMs;
    const generation = input.generation ?? 0;
    // Idempotent: a retried (or stale) start returns the workload that is already running.
    const old = this.run;
    if (old && old.generation >= generation) return old.started;
    // A restart in place: the old run goes first, with its grace.
    const stopsBefore = this.stops;
    if (old) await this.halt();
    const port = input.http ? (input.http.port ?? old?.started.port ?? (await freePort())) : undefined;
    // A stop asked for meanwhile (the workflow stopped the workload while it restarted) wins:
    // no new run is started behind its back.
    if (this.stops !== stopsBefore) throw new Error('the workload was stopped while it was being restarted');
    return this.spawn(input, generation, port);
  }

  private spawn(input: StartWorkloadInput, generation: number, port: number | undefined): StartedWorkload {
    // A start that overlapped this one may have won while the old run stopped or the port was picked.
    if (this.run && this.run.generation >= generation) return this.run.started;
    if (this.shuttingDown) throw new Error('the agent is shutting down; no workload is started');
    const user = this.runAs();
    const cwd = user ? this.workDir(user) : this.deps.dir;
    const logPath = this.logPath();
    // The agent's files are its own: the workload writes its log through this descriptor only.
    const out = openSync(logPath, 'a', 0o600);
    // Before the run writes anything: what follows this size was written after now.
    this.logIndex.sample();
    try {
      fchmodSync(out, 0o600);
      const [cmd, ...args] = input.command;
      const spec = specEnvOf(input.env, input.http !== undefined);
      if (spec.dropped.length > 0)
        this.deps.logger.warn({ names: spec.dropped }, "ignored the spec's env names that driftless sets");
      const switchUser = user && user.uid !== process.getuid?.();
      const child = spawn(cmd!, args, {
        detached: true, // own process group, so stopping it reaches its children too
        stdio: ['ignore', out, out],
        env: {
          ...workloadBaseEnv(this.deps.env ?? process.env, user),
          ...spec.kept,
          DRIFTLESS_WORKLOAD: input.workload,
          ...(port !== undefined ? { PORT: String(port) } : {}),
        },
        cwd,
        ...(switchUser ? { uid: user.uid, gid: user.gid } : {}),
      });
      const started: StartedWorkload = {
        pid: child.pid ?? -1,
        host: hostname(),
        logPath,
        startedAt: new Date().toISOString(),
        ...(port !== undefined ? { port } : {}),
      };
      const identity = (child.pid !== undefined ? identify(child.pid) : undefined) ?? {
        pid: child.pid ?? -1,
        startTime: 'unknown',
      };
      const run: Run = { generation, identity, started, waiters: [] };
      child.on('error', (err) => this.finish(run, { exitCode: 127, signal: null, error: err.message }));
      child.on('exit', (code, signal) => this.finish(run, { exitCode: code, signal }));
      this.run = run;
      this.writeStatus();
      this.logSampler ??= setInterval(() => this.logIndex.sample(), 1000).unref();
      // The program's name only: arguments may carry what the log must not.
      const who = user ? { user: user.name } : {};
      this.deps.logger.info(
        { pid: child.pid, generation, program: basename(cmd!), ...who },
        'workload started',
      );
      return started;
    } finally {
      closeSync(out);
    }
  }

  /** The workload's stdout and stderr, appended to by every run on this instance. */
  logPath(): string {
    return join(this.deps.dir, 'workload.log');
  }

  /** The user to run the workload as; a start fails (for good) when it cannot be used. */
  private runAs(): RunAsUser | undefined {
    if (this.user instanceof WorkloadUserError)
      throw ApplicationFailure.nonRetryable(this.user.message, 'WorkloadUserError');
    return this.user;
  }

  /**
   * The working directory of a workload run as another user: <dir>/work, its own. The instance
   * directory around it (agent.json, the logs) is the agent's alone; the workload reaches its
   * directory because it starts there.
   */
  private workDir(user: RunAsUser): string {
    const work = join(this.deps.dir, 'work');
    chmodSync(this.deps.dir, 0o700);
    mkdirSync(work, { recursive: true, mode: 0o700 });
    chownSync(work, user.uid, user.gid);
    chmodSync(work, 0o700);
    return work;
  }

  private finish(run: Run, exit: WorkloadExit) {
    if (run.exited) return;
    run.exited = exit;
    this.deps.logger.info({ ...exit, generation: run.generation }, 'workload exited');
    for (const w of run.waiters.splice(0)) w(exit);
  }

  /** Resolves when the current run of the workload exits. */
  waitExit(): Promise<WorkloadExit> {
    const run = this.run;
    if (!run) return new Promise(() => undefined);
    if (run.exited) return Promise.resolve(run.exited);
    return new Promise((r) => run.waiters.push(r));
  }

  /** The instance is being terminated: a workload exit from now on is the instance's loss. */
  beginShutdown(): void {
    this.shuttingDown = true;
  }

  isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  hasStarted(): boolean {
    return !!this.run;
  }

  /** The current run's HTTP port, once started with one. */
  port(): number | undefined {
    return this.run?.started.port;
  }

  /** The current run's exit, once it has exited. */
  exit(): WorkloadExit | undefined {
    return this.run?.exited;
  }

  /** The metadata service gave notice (see notices.ts). */
  reportNotice(n: Notice): void {
    if (this.notice) return;
    this.notice = n;
    for (const w of this.noticeWaiters.splice(0)) w(n);
  }

  /** Resolves with the notice the first supervision that asks is told of (never again after). */
  nextNotice(): { promise: Promise<Notice>; taken(): void } {
    const promise =
      this.notice && !this.noticeReported
        ? Promise.resolve(this.notice)
        : this.notice
          ? new Promise<Notice>(() => undefined)
          : new Promise<Notice>((r) => this.noticeWaiters.push(r));
    return { promise, taken: () => (this.noticeReported = true) };
  }

  /** The grace a stop gives the workload between SIGTERM and SIGKILL. */
  graceMs(): number {
    return this.stopGraceMs;
  }

  /**
   * SIGTERM to the workload's process group, SIGKILL after the grace (the start's stop grace by
   * default). A start of a new generation under way when it is asked for starts nothing.
   */
  stop(graceMs = this.stopGraceMs): Promise<void> {
    this.stops++;
    return this.halt(graceMs);
  }

  /** Ends the current run (a stop, or a restart making way for the next generation). */
  private halt(graceMs = this.stopGraceMs): Promise<void> {
    if (this.stopping) return this.stopping;
    const run = this.run;
    if (!run || run.exited || !isAlive(run.identity)) return Promise.resolve();
    this.deps.logger.info({ pid: run.identity.pid, graceMs }, 'stopping the workload');
    this.stopping = killGroup(run.identity, graceMs)
      .then(() => this.exitSettled(run))
      .finally(() => (this.stopping = undefined));
    return this.stopping;
  }

  /** The group is gone; wait (briefly) for Node to report the leader's exit too. */
  private async exitSettled(run: Run): Promise<void> {
    if (run.exited) return;
    await Promise.race([
      new Promise<void>((r) => run.waiters.push(() => r())),
      new Promise<void>((r) => setTimeout(r, 1000).unref()),
    ]);
  }
}
