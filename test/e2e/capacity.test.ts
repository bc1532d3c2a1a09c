import {
  agentsOf,
  cli,
  cliJson,
  makeEnv,
  serviceSpec,
  startWorker,
  waitFor,
  writeSpec,
  type StatusJson,
  type TestEnv,
  type WorkerProcess,
} from '../support/harness';

let env: TestEnv;
let worker: WorkerProcess;
const started: string[] = [];

beforeAll(async () => {
  env = await makeEnv([
    { name: 'small', gpus: { type: 'A100', count: 1 }, pricePerGpuHour: 1 },
    { name: 'large', gpus: { type: 'A100', count: 4 }, pricePerGpuHour: 2 },
  ]);
  worker = await startWorker(env.env);
});

afterAll(async () => {
  for (const name of started) await cli(['stop', name], env.env);
  await worker?.stop();
  await env?.cleanup();
});

const status = (name: string) => cliJson<StatusJson>(['status', name], env.env);

async function apply(name: string, extra: Record<string, unknown> = {}, wait = true) {
  started.push(name);
  const r = await cli(
    ['apply', await writeSpec(env, serviceSpec(name, extra)), ...(wait ? ['--wait'] : [])],
    env.env,
  );
  expect(r.code).toBe(0);
}

test('a full pool is passed over: the second workload goes to the next cheapest pool with free GPUs', async () => {
  await apply('cap-first');
  await apply('cap-second');
  expect((await status('cap-first')).pool).toBe('small');
  const second = await status('cap-second');
  expect(second.pool).toBe('large');
  const placed = second.status!.timeline.find((e) => e.type === 'placed');
  expect(placed?.message).toMatch(/chose local\/large/);
  await cli(['stop', 'cap-first'], env.env);
  await cli(['stop', 'cap-second'], env.env);
});

test('with every pool down the workload waits (PENDING, no offer) and runs once a pool comes back', async () => {
  for (const p of ['small', 'large']) expect((await cli(['pool', 'down', p], env.env)).code).toBe(0);
  try {
    await apply('cap-wait', { recovery: { maxRestarts: 1, cooldown: '2s' } }, false);
    const waiting = await waitFor(
      async () => {
        const s = await status('cap-wait');
        return s.status?.timeline.some((e) => e.type === 'no-offer') ? s : undefined;
      },
      'a no-offer event',
      30_000,
    );
    expect(['PENDING', 'PROVISIONING']).toContain(waiting.phase);
    const failures = waiting.status!.timeline.filter((e) => e.type === 'provision-failed');
    expect(failures.map((e) => e.message).join('\n')).toMatch(
      /ProviderUnavailableError: local pool (small|large) is down/,
    );
    expect(agentsOf('cap-wait')).toHaveLength(0);
  } finally {
    await cli(['pool', 'up', 'large'], env.env);
  }
  const s = await waitFor(
    async () => {
      const v = await status('cap-wait');
      return v.phase === 'RUNNING' ? v : undefined;
    },
    'RUNNING after the pool came back',
    30_000,
  );
  expect(s.pool).toBe('large');
  expect(agentsOf('cap-wait')).toHaveLength(1);
  await cli(['pool', 'up', 'small'], env.env);
});
