/**
 * Plays the virtual machines moto pretends to run: every running instance tagged with an owner
 * gets its UserData run locally with bash (agent in the foreground, instance id given, IMDS
 * skipped), in its own process group; when the instance is shutting down, terminated or gone,
 * that group is killed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DescribeInstanceAttributeCommand,
  DescribeInstancesCommand,
  EC2Client,
  type Instance,
} from '@aws-sdk/client-ec2';
import { MOTO_CREDENTIALS } from './moto';

export interface PlayedInstance {
  instanceId: string;
  region: string;
  pid: number;
  /** Set once its process group has exited. */
  exited: boolean;
  output(): string;
}

export interface VmPlayerOptions {
  endpoint: string;
  owner: string;
  /** Regions to watch. @default ['us-east-1'] */
  regions?: string[];
  pollMs?: number;
  /** Extra environment for the played scripts. */
  env?: NodeJS.ProcessEnv;
}

interface Played {
  instanceId: string;
  region: string;
  child: ChildProcess;
  out: string;
  exited: boolean;
  done: Promise<void>;
  dir: string;
}

const GONE = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);

function killGroup(p: Played, signal: NodeJS.Signals): void {
  if (p.child.pid === undefined) return;
  try {
    process.kill(-p.child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Live processes whose working directory is `dir` (the instance's workload runs there, in its own group). */
export function processesIn(dir: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (readlinkSync(`/proc/${e}/cwd`) === dir) out.push(Number(e));
    } catch {
      /* exited while we looked */
    }
  }
  return out;
}

export class VmPlayer {
  /** One EC2 client per watched region. */
  private readonly clients: Map<string, EC2Client>;
  private readonly played = new Map<string, Played>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private root: string | undefined;
  private lastError: unknown;

  constructor(private readonly opts: VmPlayerOptions) {
    this.clients = new Map(
      (opts.regions ?? ['us-east-1']).map((region) => [
        region,
        new EC2Client({ region, endpoint: opts.endpoint, credentials: MOTO_CREDENTIALS, maxAttempts: 1 }),
      ]),
    );
  }

  async start(): Promise<void> {
    this.root = await mkdtemp(join(tmpdir(), 'driftless-vm-'));
    const tick = () => {
      if (this.stopped) return;
      this.polling = this.poll()
        .catch((err: unknown) => {
          this.lastError = err;
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(tick, this.opts.pollMs ?? 300);
        });
    };
    tick();
  }

  /** Every instance it has played, with whether its processes are still alive. */
  list(): PlayedInstance[] {
    return [...this.played.values()].map((p) => ({
      instanceId: p.instanceId,
      region: p.region,
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

  error(): unknown {
    return this.lastError;
  }

  /** Kills the process group of one instance and waits for it. */
  async kill(instanceId: string): Promise<void> {
    const p = this.played.get(instanceId);
    if (!p) return;
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

  /** Processes still alive for an instance: its group's leader and anything working in its directory. */
  alive(instanceId: string): number[] {
    const p = this.played.get(instanceId);
    if (!p) return [];
    return [...(p.exited ? [] : [p.child.pid!]), ...processesIn(p.dir)];
  }

  /** Stops polling and kills everything it started. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    await Promise.all([...this.played.keys()].map((id) => this.kill(id)));
    for (const c of this.clients.values()) c.destroy();
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }

  private async poll(): Promise<void> {
    const states = new Map<string, string>();
    for (const [region, client] of this.clients) {
      const res = await client.send(
        new DescribeInstancesCommand({
          Filters: [{ Name: 'tag:driftless:owner', Values: [this.opts.owner] }],
        }),
      );
      const instances: Instance[] = (res.Reservations ?? []).flatMap((r) => r.Instances ?? []);
      for (const i of instances) {
        states.set(i.InstanceId!, i.State?.Name ?? 'unknown');
        if (i.State?.Name === 'running' && !this.played.has(i.InstanceId!) && !this.stopped) {
          await this.play(client, i.InstanceId!, region);
        }
      }
    }
    for (const p of this.played.values()) {
      const state = states.get(p.instanceId);
      if (!p.exited && (state === undefined || GONE.has(state))) void this.kill(p.instanceId);
    }
  }

  private async play(client: EC2Client, instanceId: string, region: string): Promise<void> {
    const attr = await client.send(
      new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }),
    );
    const script = Buffer.from(attr.UserData?.Value ?? '', 'base64').toString('utf8');
    if (this.stopped || this.played.has(instanceId)) return;
    const dir = join(this.root!, instanceId);
    const child = spawn('bash', ['-c', script], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        ...this.opts.env,
        DRIFTLESS_INSTANCE_ID: instanceId,
        DRIFTLESS_INSTANCE_DIR: dir,
        DRIFTLESS_AGENT_FOREGROUND: '1',
      },
    });
    const p: Played = { instanceId, region, child, out: '', exited: false, dir, done: Promise.resolve() };
    const append = (d: Buffer) => (p.out = (p.out + d.toString()).slice(-20_000));
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    p.done = new Promise<void>((resolve) =>
      child.once('exit', () => {
        p.exited = true;
        resolve();
      }),
    );
    this.played.set(instanceId, p);
  }
}
