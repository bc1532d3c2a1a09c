/**
 * The setup every e2e file shares: an installation of its own (state dir, config, task queue),
 * the real worker process serving it, and a teardown that leaves nothing running.
 */
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import {
  cli,
  cliJson,
  makeEnv,
  ROOT,
  startWorker,
  temporalClient,
  waitFor,
  writeConfig,
  writeSpec,
  type CliResult,
  type PoolSpec,
  type StatusJson,
  type TestEnv,
  type WorkerProcess,
} from './harness';
import type { PlayedVms } from './played-vm';
import { StatusPoller } from './status-poller';

/** What a file's setup adds once the installation exists (see {@link E2eOptions.setup}). */
export interface E2eSetupResult {
  /** Top-level config settings; `providers` stand beside the local one. */
  config?: Record<string, unknown>;
  /** Variables for the worker and every CLI call. */
  env?: NodeJS.ProcessEnv;
}

export interface E2eOptions {
  /** The local provider's pools. @default [] */
  pools?: PoolSpec[];
  /** Top-level config settings (see makeEnv). @default {} */
  config?: Record<string, unknown>;
  /** Variables for the worker and every CLI call (a codec key, say). @default {} */
  env?: NodeJS.ProcessEnv;
  /**
   * Starts what the installation talks to (a fake cloud, VM players, a server of its own) once
   * its directory exists and before the worker starts.
   */
  setup?: (installation: TestEnv) => Promise<E2eSetupResult | void>;
  /** Stops what `setup` started: after the worker, before the client closes and the directory goes. */
  teardown?: () => Promise<void>;
  /** Start `driftless worker`; false where the tests start their own. @default true */
  worker?: boolean;
  /** Connect a Temporal client for the tests (`e2e.client`). @default false */
  client?: boolean;
  /** How long the setup may take. @default 120_000 */
  timeoutMs?: number;
}

/** How long to wait for a status, and how often to look. */
export interface StatusWait {
  /** @default 60_000 */
  timeoutMs?: number;
  /** @default 200 */
  everyMs?: number;
}

/** A test file's installation (see {@link useE2eInstallation}); usable from its beforeAll on. */
export class E2eInstallation implements Omit<TestEnv, 'cleanup'> {
  private installation?: TestEnv;
  private currentWorker?: WorkerProcess;
  private currentClient?: Client;
  private readonly toStop: string[] = [];
  private readonly poller = new StatusPoller();

  private get made(): TestEnv {
    if (!this.installation) throw new Error('the e2e installation is used before its beforeAll ran');
    return this.installation;
  }
  get dir() {
    return this.made.dir;
  }
  get configPath() {
    return this.made.configPath;
  }
  get taskQueue() {
    return this.made.taskQueue;
  }
  /** The environment of the installation's CLI calls and worker. */
  get env() {
    return this.made.env;
  }
  /** The running worker. A test that replaces it assigns the new one, which the teardown stops. */
  get worker(): WorkerProcess {
    if (!this.currentWorker) throw new Error('this e2e file starts no worker of its own');
    return this.currentWorker;
  }
  set worker(w: WorkerProcess) {
    this.currentWorker = w;
  }
  get client(): Client {
    if (!this.currentClient) throw new Error('useE2eInstallation({ client: true }) opens the client');
    return this.currentClient;
  }

  /** Runs the CLI in the installation's environment. */
  cli(args: string[], timeoutMs?: number): Promise<CliResult> {
    return cli(args, this.env, timeoutMs);
  }

  /** `status NAME --json`. */
  status(name: string): Promise<StatusJson> {
    return cliJson<StatusJson>(['status', name], this.env);
  }

  /** Writes `spec`, runs `apply FILE ...args` and expects it to succeed. */
  async apply(spec: { name: string }, ...args: string[]): Promise<CliResult> {
    const r = await cli(['apply', await writeSpec(this, spec), ...args], this.env);
    expect(r.code).toBe(0);
    return r;
  }

  /** Polls the workload's status until `done` holds for it; returns that status. */
  waitStatus(
    name: string,
    done: (s: StatusJson) => boolean | undefined,
    what: string,
    { timeoutMs, everyMs }: StatusWait = {},
  ): Promise<StatusJson> {
    let seen: StatusJson | undefined;
    return waitFor(
      async () => {
        const s = await this.poller.status(this.env, name);
        seen = s;
        return done(s) ? s : undefined;
      },
      what,
      timeoutMs,
      everyMs,
    ).catch((err: Error) => {
      // Say what it saw: the last status, its latest events.
      if (seen) err.message += `\nlast seen: ${describeStatus(seen)}`;
      throw err;
    });
  }

  /** Waits until the workload is RUNNING on an instance, one other than `not` when given. */
  waitRunning(name: string, { not, ...wait }: StatusWait & { not?: string } = {}): Promise<StatusJson> {
    const elsewhere = not ? ` on an instance other than ${not}` : '';
    return this.waitStatus(
      name,
      (s) => s.phase === 'RUNNING' && s.instanceId !== undefined && s.instanceId !== not,
      `${name} RUNNING${elsewhere}`,
      wait,
    );
  }

  /**
   * Applies `spec` and runs `body`; whatever happens, then runs `cleanup` (lifting injected
   * faults, say) and stops the workload, so the next test finds nothing of it.
   */
  async withWorkload(
    spec: { name: string },
    body: () => Promise<void>,
    cleanup?: () => unknown,
  ): Promise<void> {
    try {
      await this.apply(spec);
      await body();
    } finally {
      await cleanup?.();
      await this.cli(['stop', spec.name]);
    }
  }

  /** The workload is stopped at the teardown, before the worker, whatever became of the test. */
  stopAtEnd(name: string): void {
    this.toStop.push(name);
  }

  /** The beforeAll of {@link useE2eInstallation}. */
  async start(o: E2eOptions): Promise<void> {
    const pools = o.pools ?? [];
    const made = await makeEnv(pools, o.config);
    this.installation = made;
    made.env = { ...made.env, ...o.env };
    const added = await o.setup?.(made);
    if (added?.config) await writeConfig(made.configPath, pools, { ...o.config, ...added.config });
    made.env = { ...made.env, ...added?.env };
    if (o.worker ?? true) this.currentWorker = await startWorker(made.env);
    if (o.client) this.currentClient = await temporalClient();
  }

  /** Its afterAll: what the tests left running, the worker, what `setup` started, the directory. */
  async stop(o: E2eOptions): Promise<void> {
    await this.poller.close();
    if (this.installation) for (const name of this.toStop) await cli(['stop', name], this.env);
    await this.currentWorker?.stop();
    await o.teardown?.();
    await this.currentClient?.connection.close();
    await this.installation?.cleanup();
  }
}

/**
 * Registers the file's beforeAll and afterAll: an installation with `pools`, what `setup`
 * starts, a worker and, if asked, a client; torn down in the reverse order.
 */
export function useE2eInstallation(o: E2eOptions = {}): E2eInstallation {
  const installation = new E2eInstallation();
  beforeAll(() => installation.start(o), o.timeoutMs ?? 120_000);
  afterAll(() => installation.stop(o));
  return installation;
}

/**
 * Provider settings for an agent started by a played VM's boot script (test/support/played-vm.ts):
 * this checkout's agent instead of an installed one, and retries short enough for a test.
 */
export function playedVmProvider(callTimeout: string): Record<string, unknown> {
  return {
    agentInstall: '',
    agentCommand: `node '${join(ROOT, 'dist/agent/main.js')}'`,
    retryDelay: '10ms',
    maxRetryDelay: '50ms',
    callTimeout,
  };
}

/** One status in a few lines: phase, where, and its last timeline events. */
export function describeStatus(s: StatusJson): string {
  const where = [s.provider, s.region, s.instanceId].filter(Boolean).join('/') || 'nowhere';
  const events = (s.status?.timeline ?? []).slice(-8).map((e) => `  ${e.at} ${e.type}: ${e.message}`);
  return [`${s.name} ${s.workflowStatus} ${s.phase} on ${where}`, ...events].join('\n');
}

/** What each provisioning attempt in the timeline tried, e.g. "aws/us-east-1/use1-az1 g4dn.xlarge". */
export function triedOffers(s: StatusJson): string[] {
  return (s.status?.timeline ?? [])
    .filter((e) => e.type === 'provisioning')
    .map((e) => e.message.replace(/^attempt \d+: provisioning /, ''));
}

/**
 * Waits until the workload runs on a played VM, one other than `not` when given; a timeout
 * says what the worker and the VMs said.
 */
export function runningOnPlayedVm(
  e2e: E2eInstallation,
  player: PlayedVms,
  name: string,
  not?: string,
): Promise<StatusJson> {
  return e2e.waitRunning(name, { not, timeoutMs: 90_000, everyMs: 300 }).catch(explainPlayed(e2e, player));
}

/** For the `.catch` of a wait on played VMs: adds what the worker and the VMs said to the error. */
export function explainPlayed(e2e: E2eInstallation, player: PlayedVms): (err: Error) => never {
  return (err) => {
    err.message += `\nworker:\n${e2e.worker.output().slice(-3000)}\n${player.describe()}`;
    throw err;
  };
}
