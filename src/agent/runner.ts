/**
 * The agent's process-level state: one workload per instance, run in a process group of its
 * own, restarted in place by generation, stopped with its stop grace, and told of notices.
 */
import { spawn } from 'node:child_process';
import { openSync, closeSync, writeFileSync, renameSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { freePort } from '../common/free-port';
import { identify, isAlive, killGroup, type ProcessIdentity } from '../common/processes';
import type { Notice } from './notices';

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

/**
 * The agent's environment minus what belongs to the control plane: Temporal credentials, cloud
 * credentials and driftless's own settings. The instance id and GPUs stay.
 */
export function workloadBaseEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const keep = new Set(['DRIFTLESS_INSTANCE_ID', 'CUDA_VISIBLE_DEVICES']);
  return Object.fromEntries(
    Object.entries(env).filter(
      ([k]) => keep.has(k) || !/^(TEMPORAL_|DRIFTLESS_|AWS_|GOOGLE_|CLOUDSDK_)/.test(k),
    ),
  );
}

/** How long a workload gets between SIGTERM and SIGKILL when no spec said (recovery.stopGrace). */
export const DEFAULT_STOP_GRACE_MS = 30_000;

export interface AgentDeps {
  instanceId: string;
  /** Directory for workload.log and agent.json. */
  dir: string;
  logger: Logger;
  /** What the workload's environment is derived from (see workloadBaseEnv). @default process.env */
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

  constructor(private readonly deps: AgentDeps) {}

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
    );
    renameSync(file + '.tmp', file);
  }

  /** The agent has ended, though its process lives on: the instance no longer answers. */
  markGone(): void {
    this.gone = true;
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
    const logPath = join(this.deps.dir, 'workload.log');
    const out = openSync(logPath, 'a');
    try {
      const [cmd, ...args] = input.command;
      const child = spawn(cmd!, args, {
        detached: true, // own process group, so stopping it reaches its children too
        stdio: ['ignore', out, out],
        env: {
          ...workloadBaseEnv(this.deps.env ?? process.env),
          ...input.env,
          DRIFTLESS_WORKLOAD: input.workload,
          ...(port !== undefined ? { PORT: String(port) } : {}),
        },
        cwd: this.deps.dir,
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
      this.deps.logger.info({ pid: child.pid, generation, program: cmd }, 'workload started');
      return started;
    } finally {
      closeSync(out);
    }
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
