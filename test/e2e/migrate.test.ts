/**
 * Moving a running HTTP service between local pools with the real worker and dev server:
 * make-before-break under a probe every 100 ms, validator refusals that change nothing, the
 * signal form, `apply` as an update, and continue-as-new under a running workload.
 */
import { get } from 'node:http';
import { WORKLOAD_WORKFLOW_TYPE } from '../../src/common/names';
import { WorkloadSpec } from '../../src/spec/workload-spec';
import { statusQuery } from '../../src/workflows/messages';
import type { WorkloadInput } from '../../src/workflows/types';
import {
  agentsOf,
  serviceSpec,
  sleep,
  waitFor,
  workloadProcesses,
  type StatusJson,
  marker,
} from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

const e2e = useE2eInstallation({
  pools: [
    { name: 'lab-a', pricePerGpuHour: 1 },
    { name: 'lab-b', pricePerGpuHour: 2 },
    { name: 'lab-c', pricePerGpuHour: 3 },
  ],
  client: true,
});

/** Starts the workflow as the CLI would, with the test-only fields of its input. */
async function startWorkload(input: WorkloadInput): Promise<void> {
  await e2e.client.workflow.start(WORKLOAD_WORKFLOW_TYPE, {
    workflowId: `workload-${input.spec.name}`,
    taskQueue: e2e.taskQueue,
    args: [input],
  });
}

/** Waits until the workflow has run `runs` times (continued as new `runs - 1` times). */
const afterRuns = (name: string, runs: number, what: string) =>
  e2e.waitStatus(name, (v) => (v.status?.runs ?? 0) >= runs, what, { timeoutMs: 90_000, everyMs: 500 });

/** An HTTP service answering with its instance id on $PORT. */
function httpService(name: string, extra: Record<string, unknown> = {}) {
  return serviceSpec(name, {
    command: [
      'node',
      '-e',
      "require('http').createServer((q, r) => r.end(process.env.DRIFTLESS_INSTANCE_ID + ' ' + (process.env.GREETING || ''))).listen(process.env.PORT, '127.0.0.1')",
      marker(name),
    ],
    health: { heartbeatTimeout: '5s', startupGrace: '30s', http: { path: '/', interval: '200ms' } },
    placement: { regions: ['lab-a', 'lab-b'] },
    // The drain outlasts a slow status query: the prober has switched before the old one ends.
    recovery: { maxRestarts: 2, cooldown: '5m', drain: '3s' },
    ...extra,
  });
}

async function runningAt(name: string, pool: string): Promise<StatusJson> {
  return e2e
    .waitStatus(
      name,
      (v) => v.phase === 'RUNNING' && v.pool === pool && !!v.endpoint,
      `${name} RUNNING on ${pool}`,
    )
    .catch((err: Error) => {
      throw new Error(`${err.message}\n${e2e.worker.output().slice(-3000)}`);
    });
}

function httpGet(endpoint: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get(`http://${endpoint}/`, { timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`HTTP ${res.statusCode}`)),
      );
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

test('a service migrates between pools make-before-break: a probe every 100 ms never fails', async () => {
  const name = 'mig-svc';
  await e2e.apply(httpService(name));
  try {
    await migrateUnderProbe(name);
  } finally {
    await e2e.cli(['stop', name]);
  }
});

async function migrateUnderProbe(name: string): Promise<void> {
  const before = await runningAt(name, 'lab-a');

  // The prober follows the workload's endpoint as the workflow reports it, like a load balancer.
  const client = e2e.client;
  let endpoint = before.endpoint!;
  let probing = true;
  const answers: string[] = [];
  const failures: string[] = [];
  const follow = (async () => {
    while (probing) {
      try {
        const s = await client.workflow.getHandle(`workload-${name}`).query(statusQuery);
        if (s.current?.endpoint) endpoint = s.current.endpoint;
      } catch {
        /* keep the last known endpoint */
      }
      await sleep(50);
    }
  })();
  const probe = (async () => {
    while (probing) {
      const t = Date.now();
      try {
        answers.push(await httpGet(endpoint));
      } catch (err) {
        failures.push(`${endpoint}: ${(err as Error).message}`);
      }
      await sleep(Math.max(0, 100 - (Date.now() - t)));
    }
  })();
  try {
    await sleep(1000);
    const r = await e2e.cli(['migrate', name, '--to', 'local/lab-b', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const moved = JSON.parse(r.stdout) as { from: string; to: string; instanceId: string; tookMs: number };
    expect(moved.from).toBe('local/lab-a/lab-a');
    expect(moved.to).toBe('local/lab-b/lab-b');
    expect(moved.instanceId).not.toBe(before.instanceId);
    // Past the drain, the old instance is gone.
    await waitFor(() => agentsOf(name).length === 1, 'the old agent to go', 30_000).catch(
      async (err: Error) => {
        const v = await e2e.status(name);
        const timeline = v.status?.timeline.map((e) => `${e.type}: ${e.message}`).join('\n');
        throw new Error(`${err.message}\n${timeline}\n${e2e.worker.output().slice(-3000)}`);
      },
    );
    await sleep(1000);
  } finally {
    probing = false;
    await Promise.all([follow, probe]);
  }
  expect(failures).toEqual([]);
  expect(answers.length).toBeGreaterThan(20);
  const servedBy = [...new Set(answers.map((a) => a.split(' ')[0]))];
  expect(servedBy).toHaveLength(2);
  const after = await runningAt(name, 'lab-b');
  expect(after.status?.restarts).toBe(0);
  expect(after.status?.timeline.map((e) => e.type)).toEqual(
    expect.arrayContaining(['migrating', 'switched']),
  );
  expect(workloadProcesses(name)).toHaveLength(1);
  console.log(`migration: ${answers.length} probes, ${failures.length} failed`);

  // The signal form (what the Web UI sends) moves it back.
  await client.workflow.getHandle(`workload-${name}`).signal('migrate', { to: 'local/lab-a' });
  await runningAt(name, 'lab-a');
  await waitFor(() => agentsOf(name).length === 1, 'one agent after the move back', 30_000);
}

test('a migration to a target the spec forbids, or to nowhere, is refused and changes nothing', async () => {
  const name = 'mig-refuse';
  await e2e.apply(httpService(name));
  const before = await runningAt(name, 'lab-a');
  try {
    const forbidden = await e2e.cli(['migrate', name, '--to', 'local/lab-c']);
    expect(forbidden.code).toBe(2);
    expect(forbidden.stderr).toMatch(
      /refused: no offer at local\/lab-c fits the spec of mig-refuse: region lab-c/,
    );
    const unknown = await e2e.cli(['migrate', name, '--to', 'gcp/us-central1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/refused: no offer at gcp\/us-central1 fits/);
    const here = await e2e.cli(['migrate', name, '--to', 'local/lab-a']);
    expect(here.code).toBe(2);
    expect(here.stderr).toMatch(/already runs at local\/lab-a/);
    const bad = await e2e.cli(['migrate', name, '--to', 'local//x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/expected a target such as/);

    const after = await e2e.status(name);
    expect(after.instanceId).toBe(before.instanceId);
    expect(after.status?.timeline.map((e) => e.type)).not.toContain('migrating');
    expect(agentsOf(name)).toHaveLength(1);
  } finally {
    await e2e.cli(['stop', name]);
  }
});

test('apply with a changed spec updates the running service in place of a new workflow; the same spec is a no-op', async () => {
  const name = 'mig-apply';
  const first = httpService(name, { env: { GREETING: 'one' } });
  await e2e.apply(first);
  const before = await runningAt(name, 'lab-a');
  try {
    expect(await httpGet(before.endpoint!)).toMatch(/ one$/);
    const same = await e2e.apply(first, '--json');
    expect(JSON.parse(same.stdout)).toMatchObject({ outcome: 'unchanged' });

    const changed = await e2e.apply(httpService(name, { env: { GREETING: 'two' } }), '--json');
    const out = JSON.parse(changed.stdout) as {
      outcome: string;
      runId: string;
      update: { instanceId: string };
    };
    expect(out.outcome).toBe('updated');
    expect(out.update.instanceId).not.toBe(before.instanceId);
    const after = await e2e.status(name);
    expect(after.runId).toBe(before.runId);
    expect(after.instanceId).toBe(out.update.instanceId);
    expect(await httpGet(after.endpoint!)).toMatch(/ two$/);
    await waitFor(() => agentsOf(name).length === 1, 'the old instance to go', 30_000);

    const again = await e2e.apply(httpService(name, { env: { GREETING: 'two' } }), '--json');
    expect(JSON.parse(again.stdout)).toMatchObject({ outcome: 'unchanged' });
  } finally {
    await e2e.cli(['stop', name]);
  }
});

test('a service forced to continue-as-new every few events keeps running, with no restart, across runs', async () => {
  const name = 'mig-can';
  const spec = WorkloadSpec.parse(httpService(name));
  try {
    await startWorkload({ spec, continueAsNewAfterEvents: 30, superviseSliceMs: 500 });
    const first = await runningAt(name, 'lab-a');
    const pids = workloadProcesses(name);
    expect(pids).toHaveLength(1);
    const later = await afterRuns(name, 3, 'three continue-as-new runs');
    expect(later.runId).not.toBe(first.runId);
    expect(later.phase).toBe('RUNNING');
    expect(later.instanceId).toBe(first.instanceId);
    expect(later.status?.restarts).toBe(0);
    expect(later.status?.recoveries).toBe(0);
    expect(workloadProcesses(name)).toEqual(pids);
    expect(await httpGet(later.endpoint!)).toMatch(new RegExp(`^${first.instanceId}`));
    expect(later.status?.timeline.map((e) => e.type)).toContain('continued');
  } finally {
    await e2e.cli(['stop', name]);
  }
  await waitFor(() => workloadProcesses(name).length === 0, 'the workload to stop', 30_000);
});

test('a workload waiting for capacity continues as new while it waits, and runs once capacity is back', async () => {
  const name = 'mig-can-wait';
  const spec = WorkloadSpec.parse(
    httpService(name, {
      placement: { regions: ['lab-c'] },
      recovery: { maxRestarts: 2, cooldown: '1s', drain: '1s' },
    }),
  );
  expect((await e2e.cli(['pool', 'down', 'lab-c'])).code).toBe(0);
  try {
    await startWorkload({ spec, continueAsNewAfterEvents: 30 });
    // The only pool is down: every placement fails and waits, run after run.
    const waiting = await afterRuns(name, 2, 'two continue-as-new runs while waiting');
    expect(waiting.phase).not.toBe('RUNNING');
    expect(waiting.status?.timeline.map((e) => e.type)).toEqual(
      expect.arrayContaining(['continued', 'blocked']),
    );
    expect(agentsOf(name)).toEqual([]);

    expect((await e2e.cli(['pool', 'up', 'lab-c'])).code).toBe(0);
    const running = await runningAt(name, 'lab-c');
    expect(running.status?.restarts).toBe(0);
    expect(workloadProcesses(name)).toHaveLength(1);
  } finally {
    await e2e.cli(['pool', 'up', 'lab-c']);
    await e2e.cli(['stop', name]);
  }
  await waitFor(() => workloadProcesses(name).length === 0, 'the workload to stop', 30_000);
});

test('cancelling the workflow while the old instance drains ends both instances', async () => {
  const name = 'mig-cancel-drain';
  const spec = httpService(name, { recovery: { maxRestarts: 2, cooldown: '5m', drain: '60s' } });
  await e2e.apply(spec);
  try {
    const before = await runningAt(name, 'lab-a');
    const r = await e2e.cli(['migrate', name, '--to', 'local/lab-b', '--json']);
    expect(r.code).toBe(0);
    // Switched: the new instance serves, the old one drains for a minute.
    expect(agentsOf(name)).toHaveLength(2);
    await e2e.client.workflow.getHandle(`workload-${name}`).cancel();
    await waitFor(() => agentsOf(name).length === 0, 'both agents to end', 30_000);
    expect(workloadProcesses(name)).toEqual([]);
    const after = await e2e.status(name);
    expect(after.workflowStatus).toBe('CANCELLED');
    expect(after.status?.timeline.map((e) => e.message)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(new RegExp(`^terminated ${before.instanceId} \\(workflow cancelled\\)`)),
      ]),
    );
  } finally {
    await e2e.cli(['stop', name]);
  }
});

test('reconcile during a migration drain keeps the draining instance, which the workflow ends after the drain', async () => {
  const name = 'mig-drain-gc';
  e2e.stopAtEnd(name);
  await e2e.apply(httpService(name, { recovery: { maxRestarts: 2, cooldown: '5m', drain: '20s' } }));
  const before = await runningAt(name, 'lab-a');
  const r = await e2e.cli(['migrate', name, '--to', 'local/lab-b', '--json']);
  expect(r.code).toBe(0);
  const draining = await e2e.status(name);
  expect(draining.status?.live).toEqual([before.instanceId]);
  const gc = await e2e.cli(['gc', '--grace', '0s', '--json']);
  expect(gc.code).toBe(0);
  const report = JSON.parse(gc.stdout) as {
    kept: Array<{ id: string; reason: string }>;
    terminated: Array<{ id: string }>;
  };
  expect(report.terminated.map((i) => i.id)).not.toContain(before.instanceId);
  expect(report.kept.find((i) => i.id === before.instanceId)?.reason).toMatch(/has it and will end it/);
  expect(agentsOf(name)).toHaveLength(2);
  // The drain over, the workflow ends the old instance itself.
  await waitFor(() => agentsOf(name).length === 1, 'the old agent to go after the drain', 40_000);
  const after = await e2e.status(name);
  expect(after.status?.live).toBeUndefined();
  expect(after.status?.timeline.filter((e) => e.type === 'terminated').map((e) => e.instanceId)).toEqual([
    before.instanceId,
  ]);
});

test('a watcher report of the current instance carried across continue-as-new is acted on by the next run at once', async () => {
  const name = 'carried-gone';
  e2e.stopAtEnd(name);
  const spec = WorkloadSpec.parse(
    serviceSpec(name, {
      health: { heartbeatTimeout: '60s', startupGrace: '30s' },
      // The loss blocks lab-b for a while: lab-c takes the workload.
      placement: { regions: ['lab-b', 'lab-c'] },
    }),
  );
  // A run that continued as new just as the watcher reported its instance terminated: the report
  // comes with the carried state. The instance never existed here, so the watcher itself could
  // only ever say "not-found", and the agent's heartbeat timeout is a minute away.
  const ghost = 'lcarriedghost01';
  const since = new Date().toISOString();
  await startWorkload({
    spec,
    specHash: 'carried',
    carried: {
      status: {
        name,
        kind: 'service',
        phase: 'RUNNING',
        current: {
          provider: 'local',
          region: 'lab-b',
          zone: 'lab-b',
          instanceId: ghost,
          instanceType: 'lab-b:1xA100',
          gpuType: 'A100',
          gpuCount: 1,
          pricePerHour: 2,
          since,
        },
        attempts: 1,
        restarts: 0,
        recoveries: 0,
        blocks: [],
        timeline: [],
      },
      restartTimes: [],
      providerStates: { [ghost]: 'terminated' },
    },
  });
  const s = await e2e.waitRunning(name, { not: ghost, timeoutMs: 30_000 });
  const lost = s.status?.timeline.find((e) => e.type === 'lost' && e.instanceId === ghost);
  expect(lost?.message).toMatch(/provider reports the instance terminated/);
  expect(workloadProcesses(name)).toHaveLength(1);
});
