import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../config/config';
import { createLogger } from '../../logger';
import { LocalProvider } from '../../providers/local/local-provider';
import { formatResources } from '../../spec/describe';
import { parseSpecText } from '../../spec/load';
import { createDriftlessWorker } from '../../worker';
import { CliError, ExitCode } from '../errors';
import { formatStatus, formatTimeline } from '../format';
import { freePort, portInUse, startDevServer } from './dev-server';
import { connectClient } from './temporal-client';
import { WorkloadService } from './workloads';

export interface DemoOptions {
  /** Directory holding driftless.config.yaml and http-service.yaml. */
  examplesDir: string;
  /** Keep the server, worker and workload running after the demo until Ctrl-C. */
  keep: boolean;
  say: (line: string) => void;
  /** Aborted on Ctrl-C: the demo cleans up and, unless it was only keeping, fails with 130. */
  signal: AbortSignal;
}

function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new CliError('interrupted: cleaning up', ExitCode.Interrupted));
    if (signal.aborted) fail();
    else signal.addEventListener('abort', fail, { once: true });
  });
}

function httpGet(port: number): Promise<string> {
  return new Promise((res, rej) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => res(body.trim()));
    });
    req.on('error', rej);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function httpGetWithRetry(port: number, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await httpGet(port);
    } catch (err) {
      if (Date.now() > deadline) return `(no answer: ${(err as Error).message})`;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * The whole story on one machine: a dev server, a worker, two local pools, a service placed
 * on the cheaper pool, an outage of that pool, recovery on the other, the timeline, a stop.
 */
export async function runDemo(opts: DemoOptions): Promise<void> {
  const { say } = opts;
  const stateDir = await mkdtemp(join(tmpdir(), 'driftless-demo-'));
  const port = (await portInUse(7233)) ? await freePort() : 7233;
  const uiPort = (await portInUse(8233)) ? await freePort() : 8233;
  say(`1. starting a Temporal dev server on 127.0.0.1:${port} (state in ${stateDir})`);
  const server = await startDevServer({ port, uiPort, logFile: join(stateDir, 'temporal-server.log') });
  const loaded = await loadConfig({
    configPath: join(opts.examplesDir, 'driftless.config.yaml'),
    stateDir,
    taskQueue: 'driftless-demo',
  });
  // Its own plain dev server: nothing of the shell's TEMPORAL_* settings or profile.
  const config = {
    ...loaded,
    temporal: { address: server.address, namespace: 'default', taskQueue: loaded.temporal.taskQueue },
  };
  const logger = createLogger({}, process.env.DRIFTLESS_LOG_LEVEL ?? 'warn');
  const worker = await createDriftlessWorker(config, logger);
  const running = worker.run();
  const client = await connectClient(config);
  const svc = new WorkloadService(client, config);
  const local = new LocalProvider({ config: config.providers.local!, stateDir, logger });
  let name: string | undefined;
  const interrupted = aborted(opts.signal);
  interrupted.catch(() => undefined);
  /** Every step gives way to Ctrl-C, so the cleanup below always runs. */
  let racing = true;
  const step = <T>(p: Promise<T>): Promise<T> => (racing ? Promise.race([p, interrupted]) : p);
  try {
    say(`2. worker running; pools: ${local.poolNames().join(', ')}`);
    const text = await step(readFile(join(opts.examplesDir, 'http-service.yaml'), 'utf8'));
    const parsed = parseSpecText(text);
    if (!parsed.ok) throw new CliError('examples/http-service.yaml is invalid', ExitCode.Bug);
    const servicePort = (await step(portInUse(18080))) ? await step(freePort()) : 18080;
    const spec = { ...parsed.spec, env: { ...parsed.spec.env, PORT: String(servicePort) } };
    name = spec.name;
    say(`3. applying ${spec.name} (needs ${formatResources(spec.resources)})`);
    await step(svc.apply(spec));
    const first = await step(svc.waitPhase(spec.name, ['RUNNING', 'FAILED'], 120_000));
    if (first.phase !== 'RUNNING')
      throw new CliError(`${spec.name} did not start:\n${formatStatus(first)}`, ExitCode.Failed);
    say(`   RUNNING on pool ${first.pool} as ${first.instanceId} at $${first.pricePerHour}/h`);
    say(`   GET http://127.0.0.1:${servicePort}/ -> ${await step(httpGetWithRetry(servicePort))}`);

    say(`4. outage: marking pool ${first.pool} down (its agents are killed)`);
    const t0 = Date.now();
    await step(local.setPoolDown(first.pool!, true));
    const moved = await step(
      svc.waitUntil(
        spec.name,
        (v) => v.phase === 'FAILED' || (v.phase === 'RUNNING' && v.pool !== first.pool),
        120_000,
        'run on another pool',
      ),
    );
    if (moved.phase !== 'RUNNING')
      throw new CliError(`${spec.name} did not recover:\n${formatStatus(moved)}`, ExitCode.Failed);
    say(
      `   recovered: RUNNING on pool ${moved.pool} as ${moved.instanceId} ${((Date.now() - t0) / 1000).toFixed(1)}s after the outage`,
    );
    say(`   GET http://127.0.0.1:${servicePort}/ -> ${await step(httpGetWithRetry(servicePort))}`);
    say('5. timeline:');
    say(formatTimeline(moved.status?.timeline ?? []).replace(/^/gm, '   '));

    if (opts.keep) {
      say(`\nkeeping everything running. Web UI: ${server.uiUrl}/namespaces/default/workflows`);
      say(
        `  try: driftless --address ${server.address} --task-queue driftless-demo --config ${join(opts.examplesDir, 'driftless.config.yaml')} --state-dir ${stateDir} status ${spec.name}`,
      );
      say('Ctrl-C stops the workload, the worker and the server.');
      await new Promise((r) => opts.signal.addEventListener('abort', r, { once: true }));
      racing = false; // Ctrl-C was the way to end keeping: finish normally
    }
    say(`6. stopping ${spec.name}`);
    await step(svc.stop(spec.name, 'demo finished'));
    const end = await step(svc.waitClosed(spec.name, 60_000));
    name = undefined;
    say(`   ${end.phase}; workflow ${end.workflowStatus}`);
    say(`\nWeb UI (while a server runs): ${server.uiUrl}/namespaces/default/workflows/workload-${spec.name}`);
    say(
      'The demo server is stopping now; `driftless demo --keep` keeps it, or run `driftless dev` for your own.',
    );
  } finally {
    if (name)
      await svc
        .stop(name, 'demo interrupted')
        .then(() => svc.waitClosed(name!, 30_000))
        .catch(() => undefined);
    // Whatever is still alive is ended: the demo leaves no process behind.
    for (const r of await local.records()) await local.terminate(local.ref(r));
    await client.connection.close();
    await worker.shutdown();
    await running.catch(() => undefined);
    await server.stop();
    await rm(stateDir, { recursive: true, force: true });
  }
}
