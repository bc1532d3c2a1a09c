import { createHash } from 'node:crypto';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isAlive, killGroup } from '../../common/processes';
import { sleep } from '../../common/sleep';
import type { ProviderCheck } from '../check';
import {
  CapacityError,
  InvalidRequestError,
  ProviderUnavailableError,
  TransientProviderError,
} from '../errors';
import type {
  Instance,
  InstanceRef,
  InstanceState,
  OwnedInstance,
  Provider,
  ProvisionRequest,
} from '../types';
import type { Offer } from '../types';
import { AgentHosts } from './agent-host';
import { agentGraceMs, findAgentProcess, spawnAgent } from './agent-process';
import { LOCAL_PROVIDER, type LocalPoolConfig, type LocalProviderConfig } from './config';
import { detectGpus, machineCpus } from './gpus';
import { LocalStateDir, type AgentStatusFile, type LocalInstanceRecord } from './records';

export type { AgentStatusFile, LocalInstanceRecord } from './records';

export interface LocalProviderOptions {
  config: LocalProviderConfig;
  /** Instance records, logs and pool state live under `<stateDir>/local`. */
  stateDir: string;
  logger: Logger;
  /**
   * How to start an agent: argv before driftless's own arguments.
   * @default [node, <package>/dist/agent/main.js]
   */
  agentCommand?: string[];
}

/** Instance id from the idempotency key: the same key always names the same instance. */
export function localInstanceId(idempotencyKey: string): string {
  return 'l' + createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 15);
}

/**
 * Pools of capacity on this machine. An instance is a detached agent process in its own
 * process group; its identity derives from the idempotency key, so a retried provision finds
 * the instance the first try started. A pool marked down refuses provisioning and loses its
 * running instances: the outage the demo and the failover tests use.
 */
export class LocalProvider implements Provider {
  readonly name = LOCAL_PROVIDER;
  private readonly state: LocalStateDir;
  private readonly hosts: AgentHosts;
  private readonly log: Logger;
  private readonly pools = new Map<string, LocalPoolConfig>();
  private detected?: Promise<Awaited<ReturnType<typeof detectGpus>>>;
  /** Serialises capacity checks and launches per pool within this process. */
  private readonly poolLocks = new Map<string, Promise<unknown>>();

  constructor(private readonly opts: LocalProviderOptions) {
    this.state = new LocalStateDir(opts.stateDir);
    this.log = opts.logger.child({ component: 'local-provider' });
    this.hosts = new AgentHosts(this.state.root, this.log);
    for (const p of opts.config.pools) this.pools.set(p.name, p);
  }

  poolNames(): string[] {
    return [...this.pools.keys()];
  }

  private instanceDir(id: string): string {
    return this.state.instanceDir(id);
  }

  isPoolDown(pool: string): boolean {
    return this.state.isPoolDown(pool);
  }

  private async inventory(pool: LocalPoolConfig) {
    if (pool.gpus === 'detect') {
      this.detected ??= detectGpus();
      const d = await this.detected;
      return { type: d.type, count: d.count, memoryGb: d.memoryGb };
    }
    return pool.gpus;
  }

  private async withPoolLock<T>(pool: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.poolLocks.get(pool) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    this.poolLocks.set(
      pool,
      run.catch(() => undefined),
    );
    return run;
  }

  readRecord(id: string): Promise<LocalInstanceRecord | undefined> {
    return this.state.readRecord(id);
  }

  private writeRecord(rec: LocalInstanceRecord): Promise<void> {
    return this.state.writeRecord(rec);
  }

  readAgentStatus(id: string): Promise<AgentStatusFile | undefined> {
    return this.state.readAgentStatus(id);
  }

  /** Every instance record (of one pool, when given), live or not. */
  records(pool?: string): Promise<LocalInstanceRecord[]> {
    return this.state.records(pool);
  }

  /** Whether the instance's agent runs: its process, or (hosted) its host and its place there. */
  private async isLive(rec: LocalInstanceRecord, status?: AgentStatusFile): Promise<boolean> {
    if (rec.terminatedAt || !isAlive(rec.agent)) return false;
    return !rec.hosted || !(status ?? (await this.readAgentStatus(rec.id)))?.gone;
  }

  /** Stops the instance's agent and so its workload, with the workload's stop grace. */
  private stopAgent(rec: LocalInstanceRecord, stopGraceMs: number | undefined): Promise<void> {
    // Never the host's process group: it holds the pool's other instances too.
    if (rec.hosted) return this.hosts.stop(rec, stopGraceMs);
    return killGroup(rec.agent, agentGraceMs(stopGraceMs));
  }

  private async usedGpuIndexes(pool: string): Promise<Set<number>> {
    const used = new Set<number>();
    // A hosted instance holds its GPUs while its host lives (a stopped one is marked terminated
    // by the same terminate that stops it); its host is looked up once for all of them.
    const hostAlive = new Map<string, boolean>();
    const holds = async (r: LocalInstanceRecord) => {
      if (r.terminatedAt) return false;
      if (!r.agent) return true; // being launched
      if (!r.hosted) return this.isLive(r);
      const host = `${r.agent.pid}@${r.agent.startTime}`;
      if (!hostAlive.has(host)) hostAlive.set(host, isAlive(r.agent));
      return hostAlive.get(host)!;
    };
    for (const r of await this.records(pool)) {
      if (await holds(r)) {
        r.gpuIndexes.forEach((i) => used.add(i));
      }
    }
    return used;
  }

  /** Offers for every pool: one per GPU count that its free GPUs can still hold. */
  async offers(): Promise<Offer[]> {
    const out: Offer[] = [];
    for (const pool of this.pools.values()) {
      const inv = await this.inventory(pool);
      const free = inv.count - (await this.usedGpuIndexes(pool.name)).size;
      for (let n = 0; n <= Math.max(0, free); n++) {
        out.push({
          provider: this.name,
          region: pool.name,
          zone: pool.name,
          instanceType: n === 0 ? `${pool.name}:cpu` : `${pool.name}:${n}x${inv.type}`,
          gpuType: n === 0 ? undefined : inv.type,
          gpuCount: n,
          gpuMemoryGb: n === 0 ? undefined : inv.memoryGb,
          vcpus: pool.cpus ?? machineCpus(),
          memoryGb: pool.memoryGb ?? Math.floor(totalmem() / 1e9),
          spot: false,
          pricePerHour: Math.round((pool.pricePerHour + n * pool.pricePerGpuHour) * 10000) / 10000,
        });
      }
    }
    return out;
  }

  async provision(req: ProvisionRequest): Promise<Instance> {
    const poolName = req.offer.region;
    const pool = this.pools.get(poolName);
    const location = { provider: this.name, region: poolName, zone: poolName };
    if (!pool) throw new InvalidRequestError(`no local pool named "${poolName}"`, location, 'UnknownPool');
    const id = localInstanceId(req.idempotencyKey);
    const got = await this.withPoolLock(
      poolName,
      async (): Promise<LocalInstanceRecord | { launch: LocalInstanceRecord }> => {
        const existing = await this.readRecord(id);
        if (existing && !existing.agent && !existing.terminatedAt && !existing.hosted) {
          // A crash between launching the agent and recording it: adopt that agent, never start a second.
          const orphan = findAgentProcess(id);
          if (orphan) {
            existing.agent = orphan;
            await this.writeRecord(existing);
          }
        }
        if (existing?.agent) {
          this.log.info(
            { instanceId: id, pool: poolName },
            'provision retried: returning the existing instance',
          );
          return existing;
        }
        if (this.isPoolDown(poolName)) {
          throw new ProviderUnavailableError(
            `local pool ${poolName} is down`,
            location,
            'PoolDown',
            'region',
          );
        }
        const inv = await this.inventory(pool);
        const used = await this.usedGpuIndexes(poolName);
        if (existing) existing.gpuIndexes.forEach((i) => used.delete(i));
        const free = [...Array(inv.count).keys()].filter((i) => !used.has(i));
        if (free.length < req.offer.gpuCount) {
          throw new CapacityError(
            `local pool ${poolName} has ${free.length} free GPUs, ${req.offer.gpuCount} needed`,
            location,
            'InsufficientGpus',
          );
        }
        const rec: LocalInstanceRecord = existing ?? {
          id,
          pool: poolName,
          idempotencyKey: req.idempotencyKey,
          labels: req.labels,
          offer: req.offer,
          gpuIndexes: free.slice(0, req.offer.gpuCount),
          createdAt: new Date().toISOString(),
          ...(pool.agents === 'shared' ? { hosted: true } : {}),
          ...(pool.runAs ? { runAs: pool.runAs } : {}),
        };
        if (req.signal?.aborted)
          throw new TransientProviderError('provision cancelled', location, 'Cancelled');
        // Recorded before the launch: a crash between the two leaves a record a retry completes.
        await this.state.makeInstanceDir(id);
        await this.writeRecord(rec);
        // A host takes its agent outside the lock (it may be slow with a thousand agents); the
        // record, written, already holds the GPUs.
        return rec.hosted ? { launch: rec } : this.launchAgent(rec, req, false);
      },
    );
    const instance = 'launch' in got ? await this.launchAgent(got.launch, req, true) : got;
    if (!instance.terminatedAt && this.isPoolDown(poolName)) {
      // The pool went down while we launched: the outage takes this instance too.
      await this.terminate(this.ref(instance), undefined, 'pool-down');
      throw new ProviderUnavailableError(`local pool ${poolName} is down`, location, 'PoolDown', 'region');
    }
    if (pool.bootDelay > 0) await sleep(pool.bootDelay, req.signal);
    return this.toInstance(instance, await this.describe(this.ref(instance)));
  }

  /**
   * Starts the record's agent and records it, unless a terminate (this process's or another's)
   * marked the record meanwhile: then the agent is stopped and the marked record returned.
   * `locked`: take the pool's lock to record (the caller does not hold it).
   */
  private async launchAgent(
    rec: LocalInstanceRecord,
    req: ProvisionRequest,
    locked: boolean,
  ): Promise<LocalInstanceRecord> {
    const underLock = <T>(fn: () => Promise<T>) => (locked ? this.withPoolLock(rec.pool, fn) : fn());
    const dir = this.instanceDir(rec.id);
    try {
      rec.agent = rec.hosted
        ? await this.hosts.start(rec, req, dir)
        : spawnAgent(rec, req, dir, this.log, this.opts.agentCommand);
    } catch (err) {
      // Nothing runs: release the record's GPUs and say why.
      await underLock(async () => {
        rec.terminatedAt = new Date().toISOString();
        rec.terminatedBy = 'terminate';
        await this.writeRecord(rec);
      });
      throw new InvalidRequestError(
        `cannot start the agent: ${(err as Error).message}`,
        { provider: this.name, region: rec.pool, zone: rec.pool },
        'AgentSpawnFailed',
      );
    }
    const agent = rec.agent;
    return underLock(async () => {
      // Another process (a terminate, `pool down`) may have touched the record meanwhile.
      const now = await this.readRecord(rec.id);
      if (now?.terminatedAt) {
        await this.stopAgent(rec, 0);
        return now;
      }
      await this.writeRecord(rec);
      this.log.info({ instanceId: rec.id, pool: rec.pool, pid: agent.pid }, 'instance started');
      return rec;
    });
  }

  ref(rec: LocalInstanceRecord): InstanceRef {
    return { provider: this.name, id: rec.id, region: rec.pool, zone: rec.pool };
  }

  private toInstance(rec: LocalInstanceRecord, state: InstanceState): Instance {
    return {
      ...this.ref(rec),
      offer: rec.offer,
      address: '127.0.0.1',
      launchedAt: rec.createdAt, // where its cost starts (src/common/cost.ts)
      state,
      details: {
        pid: rec.agent?.pid,
        logDir: this.instanceDir(rec.id),
        gpus: rec.gpuIndexes.join(',') || undefined,
      },
    };
  }

  async describe(ref: InstanceRef): Promise<InstanceState> {
    const rec = await this.readRecord(ref.id);
    if (!rec) return 'not-found';
    if (rec.terminatedAt) return rec.terminatedBy === 'pool-down' ? 'preempted' : 'terminated';
    if (!rec.agent) return 'pending';
    const status = await this.readAgentStatus(ref.id);
    if (!(await this.isLive(rec, status))) return 'terminated';
    const booting = Date.parse(rec.createdAt) + (this.pools.get(rec.pool)?.readyDelay ?? 0) > Date.now();
    if (booting) return 'pending';
    return status?.ready ? 'running' : 'pending';
  }

  async terminate(
    ref: InstanceRef,
    _signal?: AbortSignal,
    by: 'terminate' | 'pool-down' = 'terminate',
  ): Promise<void> {
    const rec = await this.readRecord(ref.id);
    if (!rec) return;
    const status = await this.readAgentStatus(ref.id);
    // The agent first: it stops its workload (with the workload's stop grace) and reports the
    // instance going away, so the workflow sees a lost instance rather than a workload that
    // exited. Then whatever is left.
    await this.stopAgent(rec, status?.stopGraceMs);
    await killGroup(status?.workload);
    if (rec.terminatedAt) return;
    // Marked under the pool's lock: a provision of this instance still under way in this process
    // either sees the mark before it records its agent (and kills it), or has recorded it by now.
    await this.withPoolLock(rec.pool, async () => {
      const now = (await this.readRecord(ref.id)) ?? rec;
      if (now.terminatedAt) return;
      if (now.agent && now.agent.pid !== rec.agent?.pid) await this.stopAgent(now, undefined);
      now.terminatedAt = new Date().toISOString();
      now.terminatedBy = by;
      await this.writeRecord(now);
      this.log.info({ instanceId: now.id, pool: now.pool, by }, 'instance terminated');
    });
  }

  /** Instances of this owner not yet terminated through the provider (a dead agent still counts). */
  async listOwned(owner: string): Promise<OwnedInstance[]> {
    return (await this.records())
      .filter((r) => r.labels.owner === owner && !r.terminatedAt)
      .map((r) => ({ ...this.ref(r), labels: r.labels, launchedAt: r.createdAt }));
  }

  /**
   * Marks a pool down (provisioning fails, running instances are killed) or up again.
   * Returns the ids of the instances it killed.
   */
  async setPoolDown(pool: string, down: boolean): Promise<string[]> {
    if (!this.pools.has(pool)) {
      throw new InvalidRequestError(
        `no local pool named "${pool}" (configured: ${this.poolNames().join(', ')})`,
        { provider: this.name, region: pool },
        'UnknownPool',
      );
    }
    await this.state.markPool(pool, down);
    if (!down) return [];
    const open = (await this.records(pool)).filter((r) => !r.terminatedAt);
    // Instances whose agent had already died are cleaned up, but were not the outage's victims.
    const live = new Set<string>();
    for (const r of open) if (await this.isLive(r)) live.add(r.id);
    await Promise.all(
      open.map((r) => this.terminate(this.ref(r), undefined, live.has(r.id) ? 'pool-down' : 'terminate')),
    );
    return open.filter((r) => live.has(r.id)).map((r) => r.id);
  }

  /** Pools on this machine always answer: nothing to sign in to. */
  check(): Promise<ProviderCheck> {
    const pools = this.poolNames();
    return Promise.resolve({
      provider: this.name,
      ok: true,
      detail: `${pools.length} pool(s) on this machine`,
      regions: pools.map((p) => ({ region: p, ok: true, detail: 'pool' })),
    });
  }

  /** Path of the workload's output for an instance. */
  logPath(id: string): string {
    return join(this.instanceDir(id), 'workload.log');
  }
}
