/**
 * The agent's dead-man's switch against a Temporal dev server of this test's own (the shared one
 * cannot be stopped): with the server and the worker gone for longer than the timeout, the
 * agents stop their workloads and exit; a shorter silence changes nothing.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startDevServer, type DevServer } from '../../src/client/services/dev-server';
import { freePort } from '../../src/common/free-port';
import { agentsOf, serviceSpec, sleep, startWorker, waitFor, workloadProcesses } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

const TIMEOUT_S = 8;

let server: DevServer | undefined;
const e2e = useE2eInstallation({
  pools: [{ name: 'pool-a' }],
  config: { agent: { deadManTimeout: `${TIMEOUT_S}s` } },
  setup: async (installation) => {
    server = await startDevServer({
      port: await freePort(),
      headless: true,
      dbFile: join(installation.dir, 'temporal.db'),
      readyTimeoutMs: 120_000,
    });
    return { env: { TEMPORAL_ADDRESS: server.address } };
  },
  teardown: async () => {
    await server?.stop();
  },
  timeoutMs: 180_000,
});

async function runningService(name: string, extra: Record<string, unknown> = {}): Promise<void> {
  await e2e.apply(serviceSpec(name, extra));
  await e2e.waitRunning(name);
  await waitFor(() => workloadProcesses(name).length === 1, `${name}'s workload process`, 30_000);
}

test('the workload survives a control-plane silence shorter than the timeout', async () => {
  const name = 'dm-short';
  // Heartbeats may lapse longer than the silence: what is tested is the agent's switch, not
  // Temporal timing out the agent's activity when it wakes up.
  await runningService(name, { health: { heartbeatTimeout: '60s', startupGrace: '30s' } });
  const { instanceId } = await e2e.status(name);
  const agentLog = join(e2e.dir, 'state', 'local', 'instances', instanceId!, 'agent.log');
  await e2e.worker.kill('SIGKILL');
  try {
    // Temporal itself goes silent: its process frozen, connections open, nothing answered.
    const silentMs = (TIMEOUT_S / 2) * 1000;
    const frozenAt = Date.now();
    server!.process.kill('SIGSTOP');
    try {
      await sleep(silentMs);
    } finally {
      server!.process.kill('SIGCONT');
    }
    // The agent saw the silence (so the test silenced what it watches) ...
    const log = await waitFor(
      async () => {
        const text = await readFile(agentLog, 'utf8');
        return /control plane unreachable; the workload stops if this lasts/.test(text) && text;
      },
      'the agent to log the silence',
      10_000,
    );
    expect(log).not.toMatch(/dead-man switch fired/);
    // ... and past the moment the switch would have fired had the silence gone on, nothing stopped.
    await sleep(Math.max(0, frozenAt + (TIMEOUT_S + 3) * 1000 - Date.now()));
    expect(await readFile(agentLog, 'utf8')).not.toMatch(/dead-man switch fired/);
    expect(workloadProcesses(name)).toHaveLength(1);
    expect(agentsOf(name)).toHaveLength(1);
  } finally {
    e2e.worker = await startWorker(e2e.env);
  }
  expect((await e2e.cli(['stop', name])).code).toBe(0);
  await waitFor(() => workloadProcesses(name).length === 0, 'the workload to stop', 30_000);
});

test('with Temporal and the worker down for longer than the timeout, the agent stops its workload and exits', async () => {
  const name = 'dm-long';
  await runningService(name);
  const agents = agentsOf(name);
  expect(agents).toHaveLength(1);
  await e2e.worker.kill('SIGKILL');
  const downAt = Date.now();
  server!.process.kill('SIGKILL');
  await server!.stop();
  server = undefined;

  await waitFor(() => workloadProcesses(name).length === 0, 'the workload to be stopped', 60_000, 250);
  const stoppedAfterS = (Date.now() - downAt) / 1000;
  // The clock starts at the last answer, up to one probe interval (timeout / 6) before the kill.
  expect(stoppedAfterS).toBeGreaterThanOrEqual(TIMEOUT_S * (5 / 6) - 0.1);
  await waitFor(() => agentsOf(name).length === 0, 'the agent to exit', 30_000);
  console.log(
    `dead-man timeout ${TIMEOUT_S}s: workload stopped ${stoppedAfterS.toFixed(1)}s and agent gone ` +
      `${((Date.now() - downAt) / 1000).toFixed(1)}s after Temporal went down`,
  );
});
