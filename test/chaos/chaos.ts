/**
 * Chaos against the real stack: a Temporal dev server on a persisted database, a worker, local
 * pools, AWS (moto) and GCP (the fake Compute Engine) with their VMs played on this machine, and
 * N services, a few of them on each cloud, under provider faults injected into a share of the
 * cloud API calls (capacity, quota, throttling, 5xx, lost answers; test/chaos/clouds.ts), random
 * SIGKILLs of the worker (restarted), SIGKILLs of agents (local and played cloud ones),
 * pool outages, migrations (the migrate signal, to anywhere else), short-lived workloads stopped
 * while they provision (on a pool that boots slowly) and one restart of the dev server. A
 * sampler watches the workload processes the whole time. At the end the stack is left to settle and reconciled, and the run reports:
 *
 * - duplicates: times a workload had two live processes (two instances) in two samples in a row,
 *   other than the two a make-before-break move runs on purpose (both claimed by the workflow)
 * - leaked: live instances (agents or workloads, and EC2 or GCE instances that still exist) that
 *   are not their workflow's current instance, counted before the final reconcile (what the
 *   workflows themselves left), and anything left of a workload stopped mid-provision; then
 *   reconcile runs, what it had to end is reported, and leaks are counted again
 * - providerFaults: the faults injected, per cloud and kind
 * - desired: workloads RUNNING with exactly one workload process, of all
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startDevServer, type DevServer } from '../../src/client/services/dev-server';
import { freePort } from '../../src/common/free-port';
import { scanProcesses } from '../../src/common/processes';
import { randomBytes } from 'node:crypto';
import { migrateSignal, statusQuery } from '../../src/workflows/messages';
import type { ReconcileReport } from '../../src/workflows/reconcile';
import type { WorkloadStatus } from '../../src/workflows/types';
import {
  cli,
  cliJson,
  makeEnv,
  agentsOf,
  RUN_DIRS,
  serviceSpec,
  sleep,
  startWorker,
  waitFor,
  writeSpec,
  type TestEnv,
  type WorkerProcess,
  marker,
} from '../support/harness';
import { startChaosClouds, type ChaosClouds, type CloudInstance, type FaultCounts } from './clouds';
import { seededRandom } from '../support/seeded-random';

export interface ChaosOptions {
  workloads: number;
  durationMs: number;
  /** Seed of the event sequence, so a failing run can be repeated. */
  seed: number;
  /** Workloads placed on each cloud (AWS, GCP), of `workloads`. @default a fifth of them each */
  cloudWorkloads?: number;
  /** Share of the cloud API calls that get an injected fault. @default 0.3 */
  faultRate?: number;
  log?: (line: string) => void;
}

export interface ChaosReport {
  workloads: number;
  durationS: number;
  seed: number;
  events: Record<string, number>;
  duplicates: number;
  /** What the workflows themselves left, counted before the final reconcile. */
  leaked: number;
  /** What is still left after reconcile has run. */
  leakedAfterReconcile: number;
  desired: number;
  reconcile: { seen: number; terminated: number };
  settleS: number;
  /** Workloads placed on each cloud. */
  cloudWorkloads: { aws: number; gcp: number };
  faultRate: number;
  /** Faults injected into the cloud API calls, per cloud and kind. */
  providerFaults: FaultCounts;
  /**
   * EC2 and GCE instances that exist after the final reconcile: one per cloud workload, its
   * current one, when nothing leaked (and proof that the leak count sees the clouds at all).
   */
  cloudInstances: number;
}

const POOLS = ['pool-a', 'pool-b', 'pool-c', 'pool-d'];
/** Boots slowly (and costs the most), so a stop right after apply lands mid-provision. */
const SLOW_POOL = 'pool-slow';

/** Instance id of each live workload process of a workload (they carry DRIFTLESS_INSTANCE_ID). */
const workloadInstances = (name: string): string[] =>
  scanProcesses((p) => (p.argv.includes(marker(name)) ? p.env('DRIFTLESS_INSTANCE_ID') : undefined));

/**
 * Instance ids of the live agents of a workload: a local pool's (argv `--instance ID --workload
 * NAME`) and a played cloud VM's, started by its boot script (`node .../dist/agent/main.js`,
 * the workload and instance in its environment), of this run's Temporal server.
 */
const agentInstances = (name: string, temporal: string): string[] =>
  scanProcesses((p) => {
    const argv = p.argv;
    const i = argv.indexOf('--instance');
    if (i >= 0) {
      // A local agent of this run (another run's chaos has workloads of the same names).
      const ours = argv[argv.indexOf('--workload') + 1] === name && p.cwd.startsWith(RUN_DIRS);
      return (ours && argv[i + 1]) || undefined;
    }
    if (!argv.some((a) => a.endsWith('dist/agent/main.js'))) return undefined;
    if (p.env('DRIFTLESS_WORKLOAD') !== name || p.env('TEMPORAL_ADDRESS') !== temporal) return undefined;
    return p.env('DRIFTLESS_INSTANCE_ID');
  });

/** pids of the agents of a workload's played cloud VMs (see agentInstances). */
const cloudAgentPids = (name: string, temporal: string): number[] =>
  scanProcesses((p) => {
    const argv = p.argv;
    if (argv.includes('--instance') || !argv.some((a) => a.endsWith('dist/agent/main.js'))) return undefined;
    return p.env('DRIFTLESS_WORKLOAD') === name && p.env('TEMPORAL_ADDRESS') === temporal ? p.pid : undefined;
  });

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const log = o.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const rnd = seededRandom(o.seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const events: Record<string, number> = {};
  const count = (e: string) => (events[e] = (events[e] ?? 0) + 1);
  const perCloud = Math.min(o.cloudWorkloads ?? Math.round(o.workloads / 5), Math.floor(o.workloads / 3));
  const faultRate = o.faultRate ?? 0.3;
  const awsNames = Array.from({ length: perCloud }, (_, i) => `chaos-aws-${i}`);
  const gcpNames = Array.from({ length: perCloud }, (_, i) => `chaos-gcp-${i}`);
  const names = [
    ...awsNames,
    ...gcpNames,
    ...Array.from({ length: o.workloads - 2 * perCloud }, (_, i) => `chaos-${i}`),
  ];
  /** Where each workload may run: a cloud's GPU in its two regions, or any local pool's A100. */
  const placementOf = (name: string) =>
    awsNames.includes(name)
      ? { resources: { gpu: 'T4:1' }, placement: { providers: ['aws'] } }
      : gcpNames.includes(name)
        ? { resources: { gpu: 'L4:1' }, placement: { providers: ['gcp'] } }
        : { placement: { providers: ['local'] } };

  const port = await freePort();
  const temporalAddress = `127.0.0.1:${port}`;
  const owner = `chaos-${randomBytes(3).toString('hex')}`;
  const clouds: ChaosClouds = await startChaosClouds(owner);
  const env: TestEnv = await makeEnv(
    [
      ...POOLS.map((name) => ({ name, gpus: { type: 'A100', count: Math.ceil(o.workloads / 2) } })),
      { name: SLOW_POOL, gpus: { type: 'A100', count: 4 }, pricePerGpuHour: 50, bootDelay: '3s' },
    ],
    {
      owner,
      providers: clouds.providers,
      // Long enough to ride out the dev server's restart; the test is not about the switch. The
      // played cloud VMs reach this run's own server.
      agent: { deadManTimeout: '5m', temporal: { address: temporalAddress } },
    },
  ).catch(async (err: unknown) => {
    await clouds.stop();
    throw err;
  });
  env.env = { ...env.env, ...clouds.env };
  const dbFile = join(env.dir, 'temporal.db');
  const startServer = () =>
    startDevServer({
      port,
      headless: true,
      dbFile,
      logFile: join(env.dir, 'temporal.log'),
      readyTimeoutMs: 120_000,
    });
  let server: DevServer | undefined = await startServer();
  env.env = { ...env.env, TEMPORAL_ADDRESS: server.address };
  let worker: WorkerProcess | undefined = await startWorker(env.env);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: 'default' });
  let duplicates = 0;
  const twoBefore = new Set<string>();
  let sampling = true;
  try {
    // Faults from the first call on: the first placements on the clouds meet them too.
    // Its own generator: the draws follow the calls' timing, the events' sequence stays the seed's.
    clouds.inject(faultRate, seededRandom(o.seed ^ 0x5eed));
    for (const name of names) {
      const spec = serviceSpec(name, {
        health: { heartbeatTimeout: '5s', startupGrace: '30s' },
        // Starts and losses are many under injected faults; the limits are not what is tested.
        recovery: { maxRestarts: 5, cooldown: '20s', maxStartFailures: 20, maxRecoveries: 50 },
        ...placementOf(name),
      });
      const r = await cli(['apply', await writeSpec(env, spec)], env.env);
      if (r.code !== 0) throw new Error(`apply ${name}: ${r.stderr}`);
    }
    /**
     * RUNNING, with exactly one workload process and one agent, both of the workflow's current
     * instance. Not just "RUNNING": right after an agent SIGKILL the workflow still says RUNNING
     * (until it notices) while the orphaned workload runs on.
     */
    const inDesiredState = (name: string, s: WorkloadStatus) => {
      const current = s.current?.instanceId;
      const only = (ids: string[]) => ids.length === 1 && ids[0] === current;
      return (
        s.phase === 'RUNNING' && only(workloadInstances(name)) && only(agentInstances(name, temporalAddress))
      );
    };
    const running = async () => {
      let n = 0;
      for (const name of names) {
        try {
          const s = await client.workflow.getHandle(`workload-${name}`).query(statusQuery);
          if (inDesiredState(name, s)) n++;
        } catch {
          /* no answer yet */
        }
      }
      return n;
    };
    await waitFor(async () => (await running()) === names.length, 'every workload RUNNING', 180_000, 1000);
    log(`chaos: ${names.length} workloads running; chaos for ${o.durationMs / 1000}s (seed ${o.seed})`);

    /**
     * Two instances both claimed by the workflow (the current one and one it has not ended yet:
     * the new one of a make-before-break move, or the old one draining) are the overlap a
     * migration means to have, not a duplicate. Undefined when the workflow cannot answer.
     */
    const allClaimed = async (name: string, ids: Set<string>): Promise<boolean | undefined> => {
      try {
        const s = await client.workflow.getHandle(`workload-${name}`).query(statusQuery);
        const claimed = new Set([...(s.current ? [s.current.instanceId] : []), ...(s.live ?? [])]);
        return [...ids].every((id) => claimed.has(id));
      } catch {
        return undefined;
      }
    };
    // The sampler: two live workload processes of one workload in two samples in a row count
    // once, unless the workflow claims both (a move under way).
    const sampler = (async () => {
      while (sampling) {
        for (const name of names) {
          const ids = new Set(workloadInstances(name));
          const two = ids.size > 1 && (await allClaimed(name, ids)) !== true;
          if (two && twoBefore.has(name)) {
            duplicates++;
            log(`chaos: DUPLICATE ${name}: ${workloadInstances(name).join(', ')}`);
          }
          if (two) twoBefore.add(name);
          else twoBefore.delete(name);
        }
        await sleep(1000);
      }
    })();

    /** Short-lived workloads stopped while they provision, and the stops still running. */
    const stoppedEarly: string[] = [];
    const stops: Promise<unknown>[] = [];
    const stopMidProvision = async () => {
      const name = `chaos-stop-${stoppedEarly.length}`;
      stoppedEarly.push(name);
      count('stop mid-provision');
      const spec = serviceSpec(name, {
        placement: { regions: [SLOW_POOL] },
        health: { heartbeatTimeout: '5s', startupGrace: '30s' },
      });
      const r = await cli(['apply', await writeSpec(env, spec)], env.env);
      if (r.code !== 0) throw new Error(`apply ${name}: ${r.stderr}`);
      // In the background: the stop waits for the workflow to close, the chaos goes on meanwhile.
      stops.push(sleep(rnd() * 2000).then(() => cli(['stop', name], env.env)));
    };
    const migrate = async () => {
      const name = pick(names);
      count('migration');
      await client.workflow
        .getHandle(`workload-${name}`)
        .signal(migrateSignal, { reason: 'chaos' })
        .catch(() => undefined); // the server may be restarting
    };
    /** A cloud takes a cloud workload's instance away (EC2 terminates it, GCE deletes it). */
    const cloudNames = [...awsNames, ...gcpNames];
    const loseCloudInstance = async () => {
      const name = pick(cloudNames);
      const current = await client.workflow
        .getHandle(`workload-${name}`)
        .query(statusQuery)
        .then((s) => s.current?.instanceId)
        .catch(() => undefined); // the server may be restarting
      if (current && (await clouds.takeAway(current))) count('cloud instance lost');
    };
    // One of each at once, so every run has them whatever the seed draws.
    await migrate();
    await stopMidProvision();
    if (cloudNames.length > 0) await loseCloudInstance();

    const end = Date.now() + o.durationMs;
    let serverRestarted = false;
    let poolDown: { pool: string; until: number } | undefined;
    while (Date.now() < end) {
      await sleep(2000 + rnd() * 3000);
      if (poolDown && Date.now() > poolDown.until) {
        await cli(['pool', 'up', poolDown.pool], env.env);
        poolDown = undefined;
      }
      if (!serverRestarted && Date.now() > end - o.durationMs / 2) {
        serverRestarted = true;
        count('dev-server restart');
        log('chaos: restarting the dev server on its database');
        server.process.kill('SIGKILL');
        await server.stop();
        server = undefined;
        await sleep(1000);
        server = await startServer();
        continue;
      }
      const r = rnd();
      if (r < 0.2 && worker) {
        count('worker SIGKILL');
        await worker.kill('SIGKILL');
        worker = undefined;
        await sleep(1000 + rnd() * 2000);
        worker = await startWorker(env.env);
      } else if (r < 0.5) {
        const agents = names.flatMap((n) => [
          ...agentsOf(n).map((pid) => ({ pid, cloud: false })),
          ...cloudAgentPids(n, temporalAddress).map((pid) => ({ pid, cloud: true })),
        ]);
        if (agents.length > 0) {
          const agent = pick(agents);
          count(agent.cloud ? 'cloud agent SIGKILL' : 'agent SIGKILL');
          try {
            process.kill(agent.pid, 'SIGKILL');
          } catch {
            /* already gone */
          }
        }
      } else if (r < 0.65 && !poolDown) {
        const pool = pick(POOLS);
        count('pool outage');
        poolDown = { pool, until: Date.now() + 5000 + rnd() * 10_000 };
        await cli(['pool', 'down', pool], env.env);
      } else if (r < 0.78) {
        await migrate();
      } else if (r < 0.9) {
        await stopMidProvision();
      } else if (r < 0.96 && cloudNames.length > 0) {
        await loseCloudInstance();
      } else {
        count('quiet');
      }
    }
    if (poolDown) await cli(['pool', 'up', poolDown.pool], env.env);
    worker ??= await startWorker(env.env);
    // The clouds answer truly again: what is left to see is whether the workflows recover.
    clouds.stopInjecting();
    const providerFaults = clouds.faults();
    log(`chaos: provider faults injected ${JSON.stringify(providerFaults)}`);

    await Promise.all(stops);
    log('chaos: settling');
    const settleFrom = Date.now();
    await waitFor(
      async () => (await running()) === names.length,
      'every workload RUNNING again',
      240_000,
      1000,
    ).catch(() => undefined);
    // A move under way ends its other instance once its drain is over: settled means no workflow
    // still holds an instance besides its current one. One that still does after a minute is
    // named, and what it holds is counted below.
    const holding = async () => {
      const held: string[] = [];
      for (const name of names) {
        const s = await client.workflow.getHandle(`workload-${name}`).query(statusQuery);
        if ((s.live ?? []).length || (s.inflight ?? []).length || s.moving) {
          held.push(
            `${name} (live ${(s.live ?? []).join(',') || '-'}, inflight ${(s.inflight ?? []).length})`,
          );
        }
      }
      return held;
    };
    await waitFor(async () => (await holding()).length === 0, 'no move under way', 60_000, 1000).catch(
      async () => log(`chaos: still holding another instance: ${(await holding()).join('; ')}`),
    );
    const settleS = (Date.now() - settleFrom) / 1000;
    sampling = false;
    await sampler;

    // Leaked: anything alive (or recorded open) that is not its workflow's current instance.
    // Counted before the final reconcile, so what the workflows themselves left shows; then
    // reconcile runs and whatever it had to end is reported beside it.
    let desired = 0;
    let cloudInstances = 0;
    const countLeaks = async (when: string): Promise<number> => {
      let leaked = 0;
      desired = 0;
      const currents = new Set<string>();
      for (const name of names) {
        const s = await client.workflow.getHandle(`workload-${name}`).query(statusQuery);
        const current = s.current?.instanceId;
        if (current) currents.add(current);
        const stray = [
          ...new Set([...workloadInstances(name), ...agentInstances(name, temporalAddress)]),
        ].filter((id) => id !== current);
        if (stray.length) log(`chaos: LEAKED ${when} ${name}: ${stray.join(', ')} (current ${current})`);
        leaked += stray.length;
        if (inDesiredState(name, s)) desired++;
      }
      // A workload stopped mid-provision has closed and left nothing, not even a process.
      for (const name of stoppedEarly) {
        const d = await client.workflow.getHandle(`workload-${name}`).describe();
        const left = [...new Set([...workloadInstances(name), ...agentInstances(name, temporalAddress)])];
        if (d.status.name !== 'COMPLETED' || left.length > 0) {
          log(
            `chaos: LEAKED ${when} ${name} (stopped mid-provision, workflow ${d.status.name}): ${left.join(', ')}`,
          );
          leaked += Math.max(1, left.length);
        }
      }
      // Instance records the local provider still holds open without a workflow using them.
      const strayRecords = readdirSync(join(env.dir, 'state'), { recursive: true })
        .map(String)
        .filter((f) => f.endsWith('instance.json'))
        .map(
          (f) =>
            JSON.parse(readFileSync(join(env.dir, 'state', f), 'utf8')) as {
              id: string;
              terminatedAt?: string;
            },
        )
        .filter((rec) => !rec.terminatedAt && !currents.has(rec.id));
      if (strayRecords.length) {
        log(`chaos: LEAKED ${when} records: ${strayRecords.map((r) => r.id).join(', ')}`);
      }
      // Cloud instances that still exist (EC2 pending or running, a GCE instance not being
      // deleted) and are not their workflow's current instance: they would be billed.
      const onClouds = await clouds.instances();
      cloudInstances = onClouds.length;
      const strayCloud = onClouds.filter((i: CloudInstance) => !currents.has(i.id));
      if (strayCloud.length) {
        log(
          `chaos: LEAKED ${when} cloud instances: ${strayCloud
            .map((i) => `${i.provider} ${i.id} (${i.workload ?? '?'}, ${i.state})`)
            .join(', ')}`,
        );
      }
      return leaked + strayRecords.length + strayCloud.length;
    };
    const leaked = await countLeaks('before reconcile');
    for (const name of stoppedEarly) {
      const { timeline } = await client.workflow.getHandle(`workload-${name}`).query(statusQuery);
      if (!timeline.some((e) => e.type === 'running')) count('stop landed before the workload ran');
    }
    const report = await cliJson<ReconcileReport>(['gc', '--grace', '0s'], env.env);
    if (report.terminated.length) {
      log(`chaos: reconcile had to end ${report.terminated.map((t) => `${t.id} (${t.reason})`).join(', ')}`);
    }
    const leakedAfterReconcile = await countLeaks('after reconcile');

    const result: ChaosReport = {
      workloads: names.length,
      durationS: o.durationMs / 1000,
      seed: o.seed,
      events,
      duplicates,
      leaked,
      leakedAfterReconcile,
      desired,
      reconcile: { seen: report.seen, terminated: report.terminated.length },
      settleS,
      cloudWorkloads: { aws: awsNames.length, gcp: gcpNames.length },
      faultRate,
      providerFaults,
      cloudInstances,
    };
    log(
      `chaos: ${result.workloads} workloads, ${result.durationS}s, events ${JSON.stringify(events)}; ` +
        `duplicates ${duplicates}, leaked ${leaked} (after reconcile ${leakedAfterReconcile}), desired ${desired}/${names.length} ` +
        `(settled in ${settleS.toFixed(0)}s; reconcile saw ${report.seen}, terminated ${report.terminated.length}); ` +
        `provider faults ${JSON.stringify(providerFaults)}`,
    );
    return result;
  } finally {
    sampling = false;
    for (const name of names) {
      await client.workflow
        .getHandle(`workload-${name}`)
        .terminate('chaos over')
        .catch(() => undefined);
    }
    await connection.close().catch(() => undefined);
    await worker?.stop();
    await server?.stop();
    await clouds.stop();
    await env.cleanup();
  }
}
