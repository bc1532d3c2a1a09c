/**
 * What the VM players (vm-player.ts for EC2 on moto, gce-player.ts for the fake Compute Engine)
 * share: a played instance is its boot script run locally with bash in a process group of its
 * own (agent in the foreground, in a directory of its own); ending the instance kills that group
 * and whatever still works in its directory (the workload, which runs in a group of its own).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { pidsWhere } from '../../src/common/processes';

/** One instance as a player runs it. */
export interface PlayedVm {
  instanceId: string;
  /** Region (EC2) or zone (GCE) it runs in. */
  location: string;
  child: ChildProcess;
  /** The instance's directory (DRIFTLESS_INSTANCE_DIR). */
  dir: string;
  out: string;
  /** Set once its process group's leader has exited. */
  exited: boolean;
  done: Promise<void>;
}

/** Live processes whose working directory is `dir` (the instance's workload runs there, in its own group). */
export const processesIn = (dir: string): number[] => pidsWhere((p) => p.cwd === dir);

function killGroup(p: PlayedVm, signal: NodeJS.Signals): void {
  if (p.child.pid === undefined) return;
  try {
    process.kill(-p.child.pid, signal);
  } catch {
    /* already gone */
  }
}

/**
 * Runs an instance's boot script with bash, detached (its own process group), with only PATH,
 * HOME, an empty DRIFTLESS_SHUTDOWN_COMMAND and DRIFTLESS_WORKLOAD_USER, `env` and the player's
 * settings in its environment.
 */
export function playScript(o: {
  instanceId: string;
  location: string;
  script: string;
  dir: string;
  env?: NodeJS.ProcessEnv;
}): PlayedVm {
  const child = spawn('bash', ['-c', o.script], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      // A dead-man's switch of the agent must never shut this machine down.
      DRIFTLESS_SHUTDOWN_COMMAND: '',
      // Nor may the boot script create a workload user or touch this machine's firewall: the
      // workload runs as the agent's user (see src/providers/workload-user.ts).
      DRIFTLESS_WORKLOAD_USER: '',
      ...o.env,
      DRIFTLESS_INSTANCE_DIR: o.dir,
      DRIFTLESS_AGENT_FOREGROUND: '1',
    },
  });
  const p: PlayedVm = {
    instanceId: o.instanceId,
    location: o.location,
    child,
    dir: o.dir,
    out: '',
    exited: false,
    done: Promise.resolve(),
  };
  const append = (d: Buffer) => (p.out = (p.out + d.toString()).slice(-20_000));
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  p.done = new Promise<void>((resolve) =>
    child.once('exit', () => {
      p.exited = true;
      resolve();
    }),
  );
  return p;
}

/** Ends a played instance: SIGTERM to its group (SIGKILL after 8 s), then kills what outlived it. */
export async function killPlayed(p: PlayedVm): Promise<void> {
  if (!p.exited) killGroup(p, 'SIGTERM');
  const force = setTimeout(() => killGroup(p, 'SIGKILL'), 8000);
  await p.done;
  clearTimeout(force);
  // Whatever outlived the agent (its group, or the workload it started in a group of its own).
  killGroup(p, 'SIGKILL');
  for (const pid of processesIn(p.dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/** Processes still alive for a played instance: its group's leader and anything working in its directory. */
export function aliveOf(p: PlayedVm): number[] {
  return [...(p.exited ? [] : [p.child.pid!]), ...processesIn(p.dir)];
}

/** A played instance as a test sees it. */
export interface PlayedInstance {
  instanceId: string;
  /** Region (EC2) or zone (GCE). */
  location: string;
  pid: number;
  /** Set once its process group has exited. */
  exited: boolean;
  output(): string;
}

/** The instances a player has played, by id: what a test asks of any player. */
export class PlayedVms {
  private readonly played = new Map<string, PlayedVm>();

  has(instanceId: string): boolean {
    return this.played.has(instanceId);
  }

  /** Plays an instance (see {@link playScript}) and remembers it. */
  play(o: Parameters<typeof playScript>[0]): PlayedVm {
    const p = playScript(o);
    this.played.set(o.instanceId, p);
    return p;
  }

  /** Every instance played, with whether its processes are still alive. */
  list(): PlayedInstance[] {
    return [...this.played.values()].map((p) => ({
      instanceId: p.instanceId,
      location: p.location,
      pid: p.child.pid ?? -1,
      exited: p.exited,
      output: () => p.out,
    }));
  }

  /** Instance ids whose played process group is alive. */
  running(): string[] {
    return this.list()
      .filter((p) => !p.exited)
      .map((p) => p.instanceId);
  }

  /** Kills the process group of one instance (and what outlived it) and waits for it. */
  async kill(instanceId: string): Promise<void> {
    const p = this.played.get(instanceId);
    if (p) await killPlayed(p);
  }

  /** Processes still alive for an instance: its group's leader and anything working in its directory. */
  alive(instanceId: string): number[] {
    const p = this.played.get(instanceId);
    return p ? aliveOf(p) : [];
  }

  /** Why the player last failed to play an instance, if it did. */
  error(): unknown {
    return undefined;
  }

  /** What the played VMs said, newest output last: for a test's failure message. */
  describe(): string {
    const vms = this.list().map(
      (p) => `VM ${p.instanceId} in ${p.location} (exited ${p.exited}):\n${p.output().slice(-2000)}`,
    );
    const error = this.error();
    return [...vms, ...(error === undefined ? [] : [`player error: ${String(error)}`])].join('\n');
  }

  /** Kills every played instance. */
  async killAll(): Promise<void> {
    await Promise.all([...this.played.keys()].map((id) => this.kill(id)));
  }
}
