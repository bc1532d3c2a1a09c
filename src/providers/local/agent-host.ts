/**
 * The provider's side of a pool's agent host (scale mode, src/agent/host.ts): started on the
 * first provision, told over HTTP on 127.0.0.1 to start and stop instances' agents.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, fchmodSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { HostedAgentRequest, HostFile } from '../../agent/host';
import { isAlive, type ProcessIdentity } from '../../common/processes';
import { sleep } from '../../common/sleep';
import { packageRoot } from '../../package-root';
import type { ProvisionRequest } from '../types';
import { localAgentEnv } from './agent-env';
import { PRIVATE_DIR, PRIVATE_FILE, type LocalInstanceRecord } from './records';

/** How long a provision waits for a host to start and take the agent. */
const START_TIMEOUT_MS = 20_000;

export class AgentHosts {
  constructor(
    /** `<stateDir>/local`. */
    private readonly root: string,
    private readonly log: Logger,
  ) {}

  private dir(pool: string): string {
    return join(this.root, 'hosts', pool);
  }

  /** A host's own file (host-<pid>.json), or the pool's newest (host.json). */
  private read(pool: string, pid?: number): HostFile | undefined {
    try {
      const file = join(this.dir(pool), pid === undefined ? 'host.json' : `host-${pid}.json`);
      return JSON.parse(readFileSync(file, 'utf8')) as HostFile;
    } catch {
      return undefined;
    }
  }

  /** Starts the instance's agent in the pool's host (starting the host first if none runs); returns the host. */
  async start(rec: LocalInstanceRecord, req: ProvisionRequest, dir: string): Promise<ProcessIdentity> {
    const body: HostedAgentRequest = {
      dir,
      workload: rec.labels.workload,
      gpus: rec.gpuIndexes.join(','),
      ...(rec.runAs ? { runAs: rec.runAs } : {}),
      address: req.agent.address,
      namespace: req.agent.namespace,
    };
    const deadline = Date.now() + START_TIMEOUT_MS;
    let why = 'no answer';
    for (;;) {
      let host = this.read(rec.pool);
      if (!host || !isAlive(host)) host = await this.ensure(rec.pool, req);
      const res = await call(host.port, 'PUT', `/agents/${rec.id}`, body).catch((e: Error) => ({
        status: 0,
        body: { error: e.message },
      }));
      if (res.status === 200 || res.status === 201) return { pid: host.pid, startTime: host.startTime };
      why = String(res.body.error ?? res.status);
      // 409: the host serves another Temporal; 503: it is exiting (idle), and a new one is due.
      if (res.status === 409) throw new Error(`the agent host of pool ${rec.pool}: ${why}`);
      if (Date.now() > deadline)
        throw new Error(`the agent host of pool ${rec.pool} did not take the agent: ${why}`);
      await sleep(200);
    }
  }

  /** Hosts being started, by pool: concurrent provisions in this process start one, not one each. */
  private readonly starting = new Map<string, Promise<HostFile>>();

  /** The pool's live host, started now unless another provision here has just started it. */
  private ensure(pool: string, req: ProvisionRequest): Promise<HostFile> {
    const before = this.starting.get(pool) ?? Promise.resolve(undefined);
    const next = before
      .catch(() => undefined)
      .then(() => {
        const host = this.read(pool);
        return host && isAlive(host) ? host : this.spawn(pool, req);
      });
    this.starting.set(pool, next);
    return next;
  }

  /** Starts a host for the pool and waits until it listens. */
  private async spawn(pool: string, req: ProvisionRequest): Promise<HostFile> {
    const dir = this.dir(pool);
    mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR });
    chmodSync(dir, PRIVATE_DIR);
    const out = openSync(join(dir, 'host.log'), 'a', PRIVATE_FILE);
    let exited: string | undefined;
    try {
      fchmodSync(out, PRIVATE_FILE);
      const child = spawn(
        process.execPath,
        [join(packageRoot(), 'dist/agent/host.js'), '--agent-host', dir],
        {
          detached: true, // its own process group, like an instance's agent
          stdio: ['ignore', out, out],
          cwd: dir,
          env: localAgentEnv(req.agent, { DRIFTLESS_HOST_DIR: dir, DRIFTLESS_POOL: pool }),
        },
      );
      child.on('error', (err) => (exited = err.message));
      child.on('exit', (code, signal) => (exited = `exited (${signal ?? code})`));
      child.unref();
      const deadline = Date.now() + START_TIMEOUT_MS;
      while (Date.now() < deadline && !exited) {
        const host = child.pid === undefined ? undefined : this.read(pool, child.pid);
        if (host) {
          this.log.info({ pool, pid: host.pid, port: host.port }, 'agent host started');
          return host;
        }
        await sleep(50);
      }
      throw new Error(
        `the agent host of pool ${pool} did not start: ${exited ?? 'no answer'} (see ${dir}/host.log)`,
      );
    } finally {
      closeSync(out);
    }
  }

  /** Stops a hosted instance's agent and its workload (the workload's grace, or the start's). */
  async stop(rec: LocalInstanceRecord, graceMs: number | undefined): Promise<void> {
    if (!rec.agent || !isAlive(rec.agent)) return;
    const host = this.read(rec.pool, rec.agent.pid);
    if (!host) return;
    const query = graceMs === undefined ? '' : `?graceMs=${graceMs}`;
    await call(host.port, 'DELETE', `/agents/${rec.id}${query}`).catch((err: Error) =>
      this.log.warn({ instanceId: rec.id, err: err.message }, 'agent host did not answer a stop'),
    );
  }
}

interface Answer {
  status: number;
  body: { error?: string } & Record<string, unknown>;
}

function call(port: number, method: string, path: string, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json' } },
      (res) => {
        let s = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (s += d));
        res.on('end', () => {
          try {
            resolve({ status: res.statusCode ?? 0, body: s ? (JSON.parse(s) as Answer['body']) : {} });
          } catch {
            resolve({ status: res.statusCode ?? 0, body: { error: s } });
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
