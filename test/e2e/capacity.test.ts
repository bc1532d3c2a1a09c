import { agentsOf, serviceSpec } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

const e2e = useE2eInstallation({
  pools: [
    { name: 'small', gpus: { type: 'A100', count: 1 }, pricePerGpuHour: 1 },
    { name: 'large', gpus: { type: 'A100', count: 4 }, pricePerGpuHour: 2 },
  ],
});

function apply(name: string, extra: Record<string, unknown> = {}, wait = true) {
  e2e.stopAtEnd(name);
  return e2e.apply(serviceSpec(name, extra), ...(wait ? ['--wait'] : []));
}

test('a full pool is passed over: the second workload goes to the next cheapest pool with free GPUs', async () => {
  await apply('cap-first');
  await apply('cap-second');
  expect((await e2e.status('cap-first')).pool).toBe('small');
  const second = await e2e.status('cap-second');
  expect(second.pool).toBe('large');
  const placed = second.status!.timeline.find((e) => e.type === 'placed');
  expect(placed?.message).toMatch(/chose local\/large/);
  await e2e.cli(['stop', 'cap-first']);
  await e2e.cli(['stop', 'cap-second']);
});

test('with every pool down the workload waits (PENDING, no offer) and runs once a pool comes back', async () => {
  for (const p of ['small', 'large']) expect((await e2e.cli(['pool', 'down', p])).code).toBe(0);
  try {
    await apply('cap-wait', { recovery: { maxRestarts: 1, cooldown: '2s' } }, false);
    const waiting = await e2e.waitStatus(
      'cap-wait',
      (s) => s.status?.timeline.some((e) => e.type === 'no-offer'),
      'a no-offer event',
      { timeoutMs: 30_000 },
    );
    expect(['PENDING', 'PROVISIONING']).toContain(waiting.phase);
    const failures = waiting.status!.timeline.filter((e) => e.type === 'provision-failed');
    expect(failures.map((e) => e.message).join('\n')).toMatch(
      /ProviderUnavailableError: local pool (small|large) is down/,
    );
    expect(agentsOf('cap-wait')).toHaveLength(0);
  } finally {
    await e2e.cli(['pool', 'up', 'large']);
  }
  const s = await e2e.waitRunning('cap-wait', { timeoutMs: 30_000 });
  expect(s.pool).toBe('large');
  expect(agentsOf('cap-wait')).toHaveLength(1);
  await e2e.cli(['pool', 'up', 'small']);
});
