/**
 * Supervision holds no worker slot (issue 12): with a worker of 4 activity slots, 8 running
 * workloads and a 9th applied later all run, and the provider-side check (the batched watcher)
 * still sees an agent killed, well before its heartbeat timeout would.
 */
import { agentsOf, serviceSpec, waitFor, writeSpec } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

const e2e = useE2eInstallation({
  pools: [{ name: 'big', gpus: { type: 'A100', count: 9 } }],
  config: { worker: { maxConcurrentActivities: 4 } },
});

/** A long heartbeat timeout: a loss found sooner was found by the provider-side check. */
const HEARTBEAT_TIMEOUT_S = 60;
const spec = (name: string) =>
  serviceSpec(name, {
    health: { heartbeatTimeout: `${HEARTBEAT_TIMEOUT_S}s`, startupGrace: '60s' },
    // One pool: the lost zone's block must be over by the time the workload places again.
    recovery: { maxRestarts: 2, cooldown: '1s' },
  });

test('with 4 activity slots, 8 workloads and a 9th applied later all run, and a killed agent is seen by the provider-side check', async () => {
  const names = Array.from({ length: 8 }, (_, i) => `slot-${i}`);
  for (const name of [...names, 'slot-late']) e2e.stopAtEnd(name);
  const files = await Promise.all(names.map((n) => writeSpec(e2e, spec(n))));
  for (const f of files) expect((await e2e.cli(['apply', f])).code).toBe(0);
  for (const name of names) await e2e.waitRunning(name, { timeoutMs: 120_000 });

  // Every slot a running workload once held is free: a late one starts as the first ones did.
  await e2e.apply(spec('slot-late'), '--wait', '--timeout', '60s');
  const late = await e2e.waitRunning('slot-late');
  expect(late.status?.attempts).toBe(1);

  const victim = names[3]!;
  const before = await e2e.waitRunning(victim);
  const killedAt = Date.now();
  process.kill(agentsOf(victim)[0]!, 'SIGKILL');
  const after = await e2e.waitRunning(victim, { not: before.instanceId, timeoutMs: 45_000 });
  const tookS = (Date.now() - killedAt) / 1000;
  console.log(
    `agent SIGKILL -> running elsewhere: ${tookS.toFixed(1)} s (heartbeat timeout ${HEARTBEAT_TIMEOUT_S}s)`,
  );
  const lost = after.status?.timeline.find((e) => e.type === 'lost' && e.instanceId === before.instanceId);
  expect(lost?.message).toMatch(/provider reports the instance terminated/);
  expect(tookS).toBeLessThan(HEARTBEAT_TIMEOUT_S / 2);
  await waitFor(() => agentsOf(victim).length === 1, 'one agent of the victim', 10_000);
});
