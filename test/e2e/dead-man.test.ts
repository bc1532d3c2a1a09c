/**
 * The agent's dead-man's switch against a Temporal dev server of this test's own (the shared one
 * cannot be stopped): with the server and the worker gone for longer than the timeout, the
 * agents stop their workloads and exit; a shorter silence changes nothing.
 */
import { join } from 'node:path';
import { freePort, startDevServer, type DevServer } from '../../src/client/services/dev-server';
import {
  agentsOf,
  cli,
  cliJson,
  makeEnv,
  serviceSpec,
  sleep,
  startWorker,
  waitFor,
  workloadProcesses,
  writeSpec,
  type StatusJson,
  type TestEnv,
  type WorkerProcess,
} from '../support/harness';

const TIMEOUT_S = 4;

let server: DevServer | undefined;
let env: TestEnv;
let worker: WorkerProcess | undefined;

beforeAll(async () => {
  env = await makeEnv([{ name: 'pool-a' }], { agent: { deadManTimeout: `${TIMEOUT_S}s` } });
  server = await startDevServer({
    port: await freePort(),
    headless: true,
    dbFile: join(env.dir, 'temporal.db'),
    readyTimeoutMs: 120_000,
  });
  env.env = { ...env.env, TEMPORAL_ADDRESS: server.address };
  worker = await startWorker(env.env);
}, 180_000);

afterAll(async () => {
  await worker?.stop();
  await server?.stop();
  await env?.cleanup();
});

async function runningService(name: string): Promise<void> {
  const file = await writeSpec(env, serviceSpec(name));
  expect((await cli(['apply', file], env.env)).code).toBe(0);
  await waitFor(
    async () => (await cliJson<StatusJson>(['status', name], env.env)).phase === 'RUNNING',
    `${name} RUNNING`,
  );
  await waitFor(() => workloadProcesses(name).length === 1, `${name}'s workload process`, 30_000);
}

test('the workload survives a control-plane silence shorter than the timeout', async () => {
  const name = 'dm-short';
  await runningService(name);
  await worker!.kill('SIGKILL');
  worker = undefined;
  // Temporal answers, the worker does not: nothing for the agent to worry about.
  await sleep((TIMEOUT_S + 3) * 1000);
  expect(workloadProcesses(name)).toHaveLength(1);
  expect(agentsOf(name)).toHaveLength(1);
  worker = await startWorker(env.env);
  expect((await cli(['stop', name], env.env)).code).toBe(0);
  await waitFor(() => workloadProcesses(name).length === 0, 'the workload to stop', 30_000);
});

test('with Temporal and the worker down for longer than the timeout, the agent stops its workload and exits', async () => {
  const name = 'dm-long';
  await runningService(name);
  const agents = agentsOf(name);
  expect(agents).toHaveLength(1);
  await worker!.kill('SIGKILL');
  worker = undefined;
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
