/**
 * Plays the virtual machines moto pretends to run: every running instance tagged with an owner
 * gets its UserData run locally with bash (agent in the foreground, instance id given, IMDS
 * skipped), in its own process group; when the instance is shutting down, terminated or gone,
 * that group is killed.
 */
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
import { MetadataServer } from './metadata-server';
import { PlayedVms } from './played-vm';

export type { PlayedInstance } from './played-vm';

export interface VmPlayerOptions {
  endpoint: string;
  owner: string;
  /** Regions to watch. @default ['us-east-1'] */
  regions?: string[];
  pollMs?: number;
  /** Extra environment for the played scripts. */
  env?: NodeJS.ProcessEnv;
}

const GONE = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);

/** `list()` gives each instance's region as its `location`. */
export class VmPlayer extends PlayedVms {
  /** One EC2 client per watched region. */
  private readonly clients: Map<string, EC2Client>;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private root: string | undefined;
  private lastError: unknown;
  /** Instances seen gone, whose processes were killed then. */
  private readonly ended = new Set<string>();
  /** The played instances' metadata service: `player.metadata.notice(id, 'spot-interruption')`. */
  readonly metadata = new MetadataServer();

  constructor(private readonly opts: VmPlayerOptions) {
    super();
    this.clients = new Map(
      (opts.regions ?? ['us-east-1']).map((region) => [
        region,
        new EC2Client({ region, endpoint: opts.endpoint, credentials: MOTO_CREDENTIALS, maxAttempts: 1 }),
      ]),
    );
  }

  async start(): Promise<void> {
    this.root = await mkdtemp(join(tmpdir(), 'driftless-vm-'));
    await this.metadata.start();
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

  override error(): unknown {
    return this.lastError;
  }

  /** Stops polling and kills everything it started. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    await this.killAll();
    await this.metadata.stop();
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
        if (i.State?.Name === 'running' && !this.has(i.InstanceId!) && !this.stopped) {
          await this.playInstance(client, i.InstanceId!, region);
        }
      }
    }
    for (const p of this.list()) {
      const state = states.get(p.instanceId);
      if (this.ended.has(p.instanceId) || (state !== undefined && !GONE.has(state))) continue;
      // Once, whether or not its agent is still alive: an agent that died before the instance
      // (killed, crashed) left what it started running, as on a real VM, until the instance goes.
      this.ended.add(p.instanceId);
      void this.kill(p.instanceId);
    }
  }

  private async playInstance(client: EC2Client, instanceId: string, region: string): Promise<void> {
    const attr = await client.send(
      new DescribeInstanceAttributeCommand({ InstanceId: instanceId, Attribute: 'userData' }),
    );
    const script = Buffer.from(attr.UserData?.Value ?? '', 'base64').toString('utf8');
    if (this.stopped || this.has(instanceId)) return;
    this.play({
      instanceId,
      location: region,
      script,
      dir: join(this.root!, instanceId),
      env: {
        ...this.opts.env,
        DRIFTLESS_INSTANCE_ID: instanceId,
        DRIFTLESS_METADATA_URL: this.metadata.urlFor(instanceId),
        DRIFTLESS_NOTICE_INTERVAL_MS: '500',
      },
    });
  }
}
