/**
 * The branches of a migration that the happy path never takes, end to end: a move that is
 * accepted but fails (exit 3, the workload stays where it was), a job moved to another pool,
 * each refusal of the validator ("already in progress", "is stopping", "only a running or
 * recovering workload"), a rejected migrate signal, and a move still pending when the workflow
 * ends (its update fails instead of waiting forever).
 */
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { migrateSignal, migrateUpdate } from '../../src/workflows/messages';
import { serviceSpec, sleep, type StatusJson, marker } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

const e2e = useE2eInstallation({
  pools: [
    { name: 'lab-a', pricePerGpuHour: 1 },
    { name: 'lab-b', pricePerGpuHour: 2 },
    // Provisioning here takes 8 s: long enough to find a move under way.
    { name: 'lab-slow', pricePerGpuHour: 3, bootDelay: '8s' },
    { name: 'lab-forbidden', pricePerGpuHour: 4 },
  ],
  client: true,
});

/** The workloads a test started: stopped after it, so each test finds the pools free. */
const started: string[] = [];
afterEach(async () => {
  for (const name of started.splice(0)) await e2e.cli(['stop', name]);
});

/** A service that may run on lab-a, lab-b and lab-slow (not lab-forbidden); SIGTERM is ignored for `stopGrace`. */
function spec(name: string, extra: Record<string, unknown> = {}) {
  return serviceSpec(name, {
    placement: { regions: ['lab-a', 'lab-b', 'lab-slow'] },
    ...extra,
  });
}

async function runningOn(name: string, pool: string, not?: string): Promise<StatusJson> {
  return e2e.waitStatus(
    name,
    (s) => s.phase === 'RUNNING' && s.pool === pool && s.instanceId !== not,
    `${name} RUNNING on ${pool}`,
    { timeoutMs: 60_000 },
  );
}

test('an accepted move that cannot be carried out exits 3 and leaves the workload where it was', async () => {
  const name = 'mb-fails';
  started.push(name);
  await e2e.apply(spec(name));
  const before = await runningOn(name, 'lab-a');
  // lab-b had an offer at placement (so the move is accepted), then goes down.
  expect((await e2e.cli(['pool', 'down', 'lab-b'])).code).toBe(0);
  try {
    const r = await e2e.cli(['migrate', name, '--to', 'local/lab-b'], 120_000);
    expect(r.code).toBe(3);
    expect(r.stderr).not.toMatch(/refused/);
    const after = await e2e.status(name);
    expect(after).toMatchObject({ phase: 'RUNNING', pool: 'lab-a', instanceId: before.instanceId });
    expect(after.status?.timeline.map((e) => e.type)).toContain('migrate-failed');
    expect(after.status?.moving).toBeUndefined();
  } finally {
    await e2e.cli(['pool', 'up', 'lab-b']);
  }
});

test('a job migrates: it restarts on the target pool, on a new instance', async () => {
  const name = 'mb-job';
  started.push(name);
  const job = { ...spec(name), kind: 'job' };
  await e2e.apply(job);
  const before = await runningOn(name, 'lab-a');
  const r = await e2e.cli(['migrate', name, '--to', 'local/lab-b', '--json'], 120_000);
  expect(r.code).toBe(0);
  expect(JSON.parse(r.stdout)).toMatchObject({ to: 'local/lab-b/lab-b' });
  const after = await runningOn(name, 'lab-b', before.instanceId);
  expect(after.status?.kind).toBe('job');
  expect(after.instanceId).not.toBe(before.instanceId);
});

test('refusals: a move already in progress, a workload stopping, a workload not running; each changes nothing', async () => {
  const name = 'mb-refuse';
  started.push(name);
  // SIGTERM ignored and a long stop grace: the stop below takes a while.
  await e2e.apply(
    spec(name, {
      command: ['node', '-e', "process.on('SIGTERM', () => {}); setInterval(() => {}, 1000)", marker(name)],
      recovery: { stopGrace: '20s' },
    }),
  );
  const before = await runningOn(name, 'lab-a');
  // A move to the slow pool is under way (8 s to provision) ...
  const slow = await e2e.cli(['migrate', name, '--to', 'local/lab-slow', '--no-wait']);
  expect(slow.code).toBe(0);
  // ... so another one is refused.
  const second = await e2e.cli(['migrate', name, '--to', 'local/lab-b']);
  expect(second.code).toBe(2);
  expect(second.stderr).toMatch(/refused: a migrate of mb-refuse is already in progress/);
  await runningOn(name, 'lab-slow', before.instanceId);
  // Stopping (the workload takes its 20 s grace): a migration is refused.
  expect((await e2e.cli(['stop', name, '--no-wait'])).code).toBe(0);
  await e2e.waitStatus(name, (s) => s.phase === 'STOPPING', `${name} STOPPING`, { timeoutMs: 30_000 });
  const stopping = await e2e.cli(['migrate', name, '--to', 'local/lab-b']);
  expect(stopping.code).toBe(2);
  expect(stopping.stderr).toMatch(/refused: mb-refuse is stopping/);
});

test('a workload that is not running (waiting for capacity) cannot be migrated', async () => {
  const name = 'mb-pending';
  started.push(name);
  // Eight GPUs fit no pool: the workload waits for capacity.
  await e2e.apply(spec(name, { resources: { gpu: { type: 'A100', count: 8 } } }));
  await e2e.waitStatus(
    name,
    (s) => s.phase === 'PENDING' && (s.status?.attempts ?? 0) === 0,
    `${name} waiting`,
    {
      timeoutMs: 30_000,
    },
  );
  const r = await e2e.cli(['migrate', name, '--to', 'local/lab-b']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(
    /refused: mb-pending is PENDING; only a running or recovering workload can be migrated/,
  );
});

test('a migrate signal the workflow refuses lands in the timeline and changes nothing', async () => {
  const name = 'mb-signal';
  started.push(name);
  await e2e.apply(spec(name));
  const before = await runningOn(name, 'lab-a');
  await e2e.client.workflow
    .getHandle(`workload-${name}`)
    .signal(migrateSignal, { to: 'local/lab-forbidden' });
  const after = await e2e.waitStatus(
    name,
    (s) => s.status?.timeline.some((e) => e.type === 'migrate-rejected') === true,
    'the rejection in the timeline',
    { timeoutMs: 30_000 },
  );
  const rejected = after.status!.timeline.find((e) => e.type === 'migrate-rejected')!;
  expect(rejected.message).toMatch(
    /^migration to local\/lab-forbidden rejected: no offer at local\/lab-forbidden fits/,
  );
  expect(after).toMatchObject({ phase: 'RUNNING', instanceId: before.instanceId });
  expect(after.status?.moving).toBeUndefined();
});

test('a move still pending when the workload is stopped fails its update instead of waiting forever', async () => {
  const name = 'mb-pending-move';
  started.push(name);
  await e2e.apply(spec(name));
  await runningOn(name, 'lab-a');
  const handle = e2e.client.workflow.getHandle(`workload-${name}`);
  const update = handle.executeUpdate(migrateUpdate, { args: [{ to: 'local/lab-slow' }] });
  update.catch(() => undefined);
  // The move is under way (8 s to provision on lab-slow): stop the workload now.
  await e2e.waitStatus(name, (s) => s.status?.moving !== undefined, `${name} moving`, { timeoutMs: 30_000 });
  await sleep(500);
  expect((await e2e.cli(['stop', name])).code).toBe(0);
  const err = await update.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  const end = await e2e.status(name);
  expect(end.phase).toBe('STOPPED');
});
