/**
 * What a workload costs, end to end: a service at a known $/h run for a measured time (its
 * instance's own record: created to terminated) is reported by `driftless cost` at price × time;
 * a budget stops a service, and fails a job, once it is reached, with the reason in `status`.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cliJson, serviceSpec, sleep, type StatusJson } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

const e2e = useE2eInstallation({
  pools: [
    // One A100 for $36/h: a cent a second.
    { name: 'meter', gpus: { type: 'A100', count: 1 }, pricePerGpuHour: 36 },
    // $360/h: ten cents a second, so a budget of 50 cents lasts about five.
    { name: 'pricey', gpus: { type: 'A100', count: 1 }, pricePerGpuHour: 360 },
  ],
});

interface CostJson {
  workloads: Array<{ name: string; workflowStatus: string; costUsd?: number; ratePerHour?: number }>;
  totalUsd: number;
}

async function cost(...args: string[]): Promise<CostJson> {
  const r = await e2e.cli(['cost', ...args, '--json']);
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as CostJson;
}

/** The local provider's record of an instance: when it was created and terminated. */
async function lifetimeSeconds(instanceId: string): Promise<number> {
  const file = join(e2e.dir, 'state', 'local', 'instances', instanceId, 'instance.json');
  const rec = JSON.parse(await readFile(file, 'utf8')) as { createdAt: string; terminatedAt?: string };
  expect(rec.terminatedAt).toBeDefined();
  return (Date.parse(rec.terminatedAt!) - Date.parse(rec.createdAt)) / 1000;
}

test('a service at a known $/h run for a measured time: cost reports price x time within 2%', async () => {
  const name = 'cost-meter';
  e2e.stopAtEnd(name);
  const applied = await e2e.apply(
    serviceSpec(name, { placement: { regions: ['meter'] } }),
    '--wait',
    '--timeout',
    '60s',
    '--json',
  );
  const running = JSON.parse(applied.stdout) as StatusJson;
  expect(running.pricePerHour).toBe(36);
  await sleep(15_000);
  // While it runs: the rate, and a cost that grows.
  const during = await cost(name);
  expect(during.workloads).toHaveLength(1);
  expect(during.workloads[0]).toMatchObject({ workflowStatus: 'RUNNING', ratePerHour: 36 });
  expect(during.workloads[0]!.costUsd).toBeGreaterThan(0.1);
  const status = await e2e.status(name);
  expect(status.costUsd).toBeGreaterThan(0.1);
  expect((await e2e.cli(['status', name])).stdout).toMatch(/cost so far \$0\.\d\d {2}now \$36\.00\/h/);
  expect((await e2e.cli(['stop', name])).code).toBe(0);

  const seconds = await lifetimeSeconds(running.instanceId!);
  const expected = (36 * seconds) / 3600;
  const after = await cost(name);
  const reported = after.workloads[0]!.costUsd!;
  console.log(
    `ran ${seconds.toFixed(2)} s at $36/h: expected $${expected.toFixed(4)}, reported $${reported.toFixed(4)}`,
  );
  expect(Math.abs(reported - expected) / expected).toBeLessThan(0.02);
  expect(after.workloads[0]!.workflowStatus).toBe('COMPLETED');
  // It no longer grows once it has ended.
  await sleep(2000);
  expect((await cost(name)).workloads[0]!.costUsd).toBeCloseTo(reported, 6);
  // ls shows it too, and the total covers it.
  const ls = await cliJson<StatusJson[]>(['ls'], e2e.env);
  expect(ls.find((v) => v.name === name)?.costUsd).toBeCloseTo(reported, 4);
  expect((await cost()).totalUsd).toBeGreaterThanOrEqual(reported);
});

test('a service with budget.maxTotal is stopped when the budget is reached; the reason is in status', async () => {
  const name = 'cost-budget-svc';
  e2e.stopAtEnd(name);
  await e2e.apply(serviceSpec(name, { placement: { regions: ['pricey'] }, budget: { maxTotal: 0.5 } }));
  const s = await e2e.waitStatus(
    name,
    (v) => v.phase === 'STOPPED' && v.workflowStatus === 'COMPLETED',
    'stopped by its budget',
    {
      timeoutMs: 60_000,
    },
  );
  expect(s.workflowStatus).toBe('COMPLETED');
  expect(s.status?.result?.message).toMatch(/^budget reached: \$0\.5\d of \$0\.50 \(budget\.maxTotal\)$/);
  expect(s.status?.timeline.map((e) => e.message)).toContainEqual(
    expect.stringMatching(/^stopping: budget reached/),
  );
  // Reached, not overrun by more than the time a stop takes (graceful stop, terminate).
  expect(s.costUsd).toBeGreaterThanOrEqual(0.5);
  expect(s.costUsd).toBeLessThan(0.5 + 0.1 * 10);
  expect((await e2e.cli(['status', name])).stdout).toMatch(/budget reached/);
});

test('a job with budget.maxTotal fails when the budget is reached', async () => {
  const name = 'cost-budget-job';
  e2e.stopAtEnd(name);
  const job = {
    ...serviceSpec(name, { placement: { regions: ['pricey'] }, budget: { maxTotal: 0.3 } }),
    kind: 'job',
  };
  await e2e.apply(job);
  const s = await e2e.waitStatus(name, (v) => v.workflowStatus === 'FAILED', 'failed by its budget', {
    timeoutMs: 60_000,
  });
  expect(s.phase).toBe('FAILED');
  expect(s.failure).toMatch(/budget reached: \$0\.3\d of \$0\.30/);
});
