/**
 * The agent host of a local pool in scale mode: one process holding the agents of many
 * simulated instances. Each agent keeps its own task queue, activities, heartbeats and workload
 * process group (instance-agent.ts); only the process and its Temporal connection are shared.
 * The local provider talks to it over HTTP on 127.0.0.1 (port in <hostDir>/host-<pid>.json):
 *   PUT    /agents/<id>        start the instance's agent (idempotent)
 *   DELETE /agents/<id>?graceMs=N   stop its workload (SIGTERM, N ms, SIGKILL) and the agent
 *   GET    /agents             the ids of the agents it holds
 * With no agent left for DRIFTLESS_HOST_IDLE_MS (default 10 s) it exits.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { identify } from '../common/processes';
import { createLogger } from '../logger';
import { installRuntimeLogger } from '../runtime';
import { connectionOptions, dataConverterFromEnv } from '../temporal-connection';
import { agentCredentials } from './secrets';
import { deadManTimeoutFromEnv, temporalDeadMan } from './dead-man';
import { InstanceAgent } from './instance-agent';

/** What the provider sends to start an instance's agent. */
export interface HostedAgentRequest {
  dir: string;
  workload: string;
  /** CUDA_VISIBLE_DEVICES for the workload. */
  gpus: string;
  /** The user the workload runs as (DRIFTLESS_WORKLOAD_USER); the host's own when unset. */
  runAs?: string;
  /** The Temporal address and namespace the agent must poll: the host's own. */
  address: string;
  namespace: string;
}

/** What the host writes to <hostDir>/host.json once it listens. */
export interface HostFile {
  pid: number;
  startTime: string;
  port: number;
  address: string;
  namespace: string;
}

/** Activity polls per hosted agent: a thousand agents at the SDK's default would be 5,000 polls. */
const POLLS_PER_AGENT = 2;

export async function runAgentHost(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const hostDir = env.DRIFTLESS_HOST_DIR;
  if (!hostDir) throw new Error('DRIFTLESS_HOST_DIR is not set');
  const pool = env.DRIFTLESS_POOL ?? 'local';
  const idleMs = Number(env.DRIFTLESS_HOST_IDLE_MS) || 10_000;
  const logger = createLogger({ component: 'agent-host', pool });
  installRuntimeLogger(logger);
  const { connection: settings, codecEnv } = await agentCredentials(env);
  const { address, namespace } = settings;
  const dataConverter = dataConverterFromEnv(codecEnv);
  const connection = await NativeConnection.connect(connectionOptions(settings));
  const agents = new Map<string, { agent: Promise<InstanceAgent>; ended: Promise<void> }>();
  let lastBusy = Date.now();
  let exiting = false;

  const start = (id: string, req: HostedAgentRequest): Promise<InstanceAgent> => {
    const held = agents.get(id);
    if (held) return held.agent;
    const agentEnv = {
      ...env,
      DRIFTLESS_INSTANCE_ID: id,
      DRIFTLESS_INSTANCE_DIR: req.dir,
      DRIFTLESS_WORKLOAD: req.workload,
      CUDA_VISIBLE_DEVICES: req.gpus,
      DRIFTLESS_WORKLOAD_USER: req.runAs ?? '',
    };
    const agent = InstanceAgent.create({
      connection,
      namespace,
      dataConverter,
      instanceId: id,
      dir: req.dir,
      logger: logger.child({ instanceId: id }),
      env: agentEnv,
      maxPolls: POLLS_PER_AGENT,
    });
    const ended = agent.then(
      (a) => a.run().finally(() => a.runner.markGone()),
      (err) => logger.error({ instanceId: id, err: (err as Error).message }, 'agent did not start'),
    );
    agents.set(id, { agent, ended });
    // Forgotten once it ends, however it ends (stopped, or the worker failed).
    void ended.finally(() => {
      agents.delete(id);
      lastBusy = Date.now();
    });
    return agent;
  };

  const stop = async (id: string, graceMs: number | undefined, why: string): Promise<boolean> => {
    const held = agents.get(id);
    if (!held) return false;
    const agent = await held.agent.catch(() => undefined);
    // As a terminated machine's agent does: the supervision reports the instance going away.
    if (agent) await agent.shutdown(why, undefined, graceMs);
    await held.ended;
    return true;
  };

  const stopAll = (why: string) => Promise.all([...agents.keys()].map((id) => stop(id, undefined, why)));

  const server = createServer((req, res) => {
    lastBusy = Date.now();
    handle(req, res).catch((err: Error) => reply(res, 500, { error: err.message }));
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://host');
    const id = /^\/agents\/([a-z0-9-]+)$/.exec(url.pathname)?.[1];
    if (exiting) return reply(res, 503, { error: 'the agent host is exiting' });
    if (req.method === 'GET' && url.pathname === '/agents')
      return reply(res, 200, { ids: [...agents.keys()] });
    if (req.method === 'PUT' && id) {
      const body = JSON.parse(await readBody(req)) as HostedAgentRequest;
      if (body.address !== address || body.namespace !== namespace) {
        return reply(res, 409, { error: `this agent host serves ${namespace} at ${address}` });
      }
      const existed = agents.has(id);
      await start(id, body);
      return reply(res, existed ? 200 : 201, { id });
    }
    if (req.method === 'DELETE' && id) {
      const grace = url.searchParams.get('graceMs');
      const stopped = await stop(id, grace === null ? undefined : Number(grace), 'instance terminated');
      return reply(res, 200, { id, stopped });
    }
    reply(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const me = identify(process.pid);
  const file: HostFile = {
    pid: process.pid,
    startTime: me?.startTime ?? 'unknown',
    port,
    address,
    namespace,
  };
  // Its own file (how each instance's record finds its host) and the pool's newest (host.json).
  for (const name of [`host-${process.pid}.json`, 'host.json']) {
    writeFileSync(join(hostDir, `${name}.tmp`), JSON.stringify(file), { mode: 0o600 });
    renameSync(join(hostDir, `${name}.tmp`), join(hostDir, name));
  }
  logger.info({ port, address, namespace }, 'agent host listening');

  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const exit = (why: string) => {
    if (exiting) return;
    exiting = true;
    logger.info({ reason: why, agents: agents.size }, 'agent host stopping');
    server.close();
    void stopAll(why).finally(done);
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => exit(sig));
  const idle = setInterval(() => {
    if (agents.size === 0 && Date.now() - lastBusy > idleMs) exit('no agents left');
  }, 500);
  const deadMan = temporalDeadMan(connection, deadManTimeoutFromEnv(env), logger, () => {
    const workloads = [...agents.values()].map(async (h) =>
      (await h.agent.catch(() => undefined))?.runner.stop(),
    );
    exit('dead-man switch: Temporal unreachable');
    // Workers cannot shut down gracefully without their server: once every workload has
    // stopped (with its grace), do not wait for them.
    void Promise.all(workloads).finally(() => setTimeout(() => process.exit(0), 2000).unref());
  });
  try {
    await finished;
  } finally {
    clearInterval(idle);
    deadMan?.stop();
    rmSync(join(hostDir, `host-${process.pid}.json`), { force: true });
    await connection.close();
  }
}

function reply(res: ServerResponse, code: number, body: unknown): void {
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (s += d));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

if (require.main === module) {
  runAgentHost().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`driftless agent host: ${(err as Error).stack ?? err}\n`);
      process.exit(1);
    },
  );
}
