/**
 * Plays the virtual machines the fake Compute Engine (gcp-server.ts) pretends to run: when an
 * instance reaches RUNNING, its startup-script is run locally with bash (agent in the foreground,
 * in a directory of its own; the script names the instance itself), in its own process group;
 * when the instance stops running (deleted, preempted, removed, stopped), that group is killed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FakeGce, FakeInstance } from './gcp-server';
import { PlayedVms } from './played-vm';

export interface GcePlayerOptions {
  /** Extra environment for the played scripts. */
  env?: NodeJS.ProcessEnv;
}

const zoneOf = (i: FakeInstance) => i.zone.split('/').pop()!;

/** `list()` gives each instance's zone as its `location`; instances are known by name. */
export class GcePlayer extends PlayedVms {
  private root: string | undefined;
  private stopped = false;
  /** Instances that reached RUNNING without a startup-script. */
  readonly unscripted: string[] = [];

  constructor(
    private readonly fake: FakeGce,
    private readonly opts: GcePlayerOptions = {},
  ) {
    super();
  }

  async start(): Promise<void> {
    this.root = await mkdtemp(join(tmpdir(), 'driftless-gce-'));
    this.fake.onRunning((instance, script) => {
      if (this.stopped || this.has(instance.name)) return;
      if (script === undefined) {
        this.unscripted.push(instance.name);
        return;
      }
      this.play({
        instanceId: instance.name,
        location: zoneOf(instance),
        script,
        dir: join(this.root!, instance.name),
        env: this.opts.env,
      });
    });
    this.fake.onStopped((instance) => void this.kill(instance.name));
  }

  /** Stops playing and kills everything it started. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.killAll();
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }
}
