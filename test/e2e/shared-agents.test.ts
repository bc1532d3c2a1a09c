/**
 * Scale mode (issue 12): a local pool with `agents: shared` holds every instance's agent in one
 * agent host process. Each agent still has its own task queue, heartbeats and workload process
 * group: a stop ends one workload only, and the host's death is every instance's loss, each
 * re-placed once with nothing left running of the old instances.
 */
import { join } from 'node:path';
import {
  processesWith,
  serviceSpec,
  waitFor,
  workloadProcesses,
  worksUnder,
  writeSpec,
} from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

const e2e = useE2eInstallation({
  pools: [
    { name: 'hosted-a', gpus: { type: 'A100', count: 8 }, pricePerGpuHour: 1, agents: 'shared' },
    { name: 'hosted-b', gpus: { type: 'A100', count: 8 }, pricePerGpuHour: 2, agents: 'shared' },
  ],
  // A host with no agent left exits after 1 s instead of 10.
  env: { DRIFTLESS_HOST_IDLE_MS: '1000' },
});

const hostsOf = (pool: string) => processesWith('--agent-host', join(e2e.dir, 'state/local/hosts', pool));
const spec = (name: string) => serviceSpec(name, { recovery: { maxRestarts: 2, cooldown: '1s' } });

test('six workloads share one agent host; a stop ends one workload; the host killed moves the rest once, leaving nothing behind', async () => {
  const names = Array.from({ length: 6 }, (_, i) => `shared-${i}`);
  for (const name of names) e2e.stopAtEnd(name);
  const files = await Promise.all(names.map((n) => writeSpec(e2e, spec(n))));
  for (const f of files) expect((await e2e.cli(['apply', f])).code).toBe(0);
  const first = await Promise.all(names.map((n) => e2e.waitRunning(n, { timeoutMs: 90_000 })));
  expect(new Set(first.map((s) => s.pool))).toEqual(new Set(['hosted-a']));
  expect(new Set(first.map((s) => s.instanceId)).size).toBe(6);
  // One process holds the six agents; no agent process of its own per instance.
  const [host] = hostsOf('hosted-a');
  expect(hostsOf('hosted-a')).toHaveLength(1);
  expect(processesWith('--instance').filter((pid) => worksUnder(pid, e2e.dir))).toEqual([]);
  for (const n of names) expect(workloadProcesses(n)).toHaveLength(1);

  // A stop ends that workload and its agent, and nothing else in the host.
  expect((await e2e.cli(['stop', names[0]!])).code).toBe(0);
  await waitFor(() => workloadProcesses(names[0]!).length === 0, `${names[0]}'s workload gone`, 10_000);
  for (const n of names.slice(1)) expect(workloadProcesses(n)).toHaveLength(1);
  expect(hostsOf('hosted-a')).toEqual([host]);

  // The host dies: every instance it held is lost, and each workload runs once on the other pool.
  process.kill(host!, 'SIGKILL');
  const rest = names.slice(1);
  const moved = await Promise.all(
    rest.map((n, i) => e2e.waitRunning(n, { not: first[i + 1]!.instanceId, timeoutMs: 60_000 })),
  );
  expect(new Set(moved.map((s) => s.pool))).toEqual(new Set(['hosted-b']));
  // The old instances' workloads (left running by the host's death) were ended with them.
  for (const n of rest) await waitFor(() => workloadProcesses(n).length === 1, `one process of ${n}`, 20_000);
  expect(hostsOf('hosted-b')).toHaveLength(1);

  for (const n of rest) expect((await e2e.cli(['stop', n])).code).toBe(0);
  for (const n of rest) expect(workloadProcesses(n)).toEqual([]);
  // With no agent left, the host exits by itself.
  await waitFor(() => hostsOf('hosted-b').length === 0, 'the idle agent host to exit', 15_000);
});
