import { spawn } from 'node:child_process';
import { agentsOf, CLI, cliJson, serviceSpec, sleep, waitFor, marker } from '../support/harness';
import { useE2eInstallation } from '../support/e2e';

// `driftless logs`: read through Temporal from the agents of real local instances.
const e2e = useE2eInstallation({
  pools: [
    { name: 'cheap', pricePerGpuHour: 1 },
    { name: 'dear', pricePerGpuHour: 2 },
    { name: 'dearest', pricePerGpuHour: 3 },
  ],
});

/** A service that prints "tick <its instance id> <n>" every 200 ms. */
function tickingSpec(name: string, extra: Record<string, unknown> = {}) {
  const script =
    'let n = 0; setInterval(() => console.log("tick " + process.env.DRIFTLESS_INSTANCE_ID + " " + ++n), 200)';
  return serviceSpec(name, { command: ['node', '-e', script, marker(name)], ...extra });
}

async function logs(...args: string[]) {
  return e2e.cli(['logs', ...args], 60_000);
}

test('logs prints what a job wrote to stdout and stderr; --tail, --json, an unknown name and no previous instance', async () => {
  const name = 'job-logs';
  e2e.stopAtEnd(name);
  const script =
    'for (let i = 1; i <= 5; i++) console.log("job line " + i); console.error("job error 6"); setTimeout(() => {}, 300000)';
  const spec = { ...serviceSpec(name), kind: 'job', command: ['node', '-e', script, marker(name)] };
  await e2e.apply(spec);
  const s = await e2e.waitRunning(name);
  const all = await waitFor(async () => {
    const r = await logs(name);
    return r.code === 0 && r.stdout.includes('job error 6') ? r : undefined;
  }, 'the job output through logs');
  expect(all.stdout).toBe('job line 1\njob line 2\njob line 3\njob line 4\njob line 5\njob error 6\n');

  const tail = await logs(name, '--tail', '2');
  expect([tail.code, tail.stdout]).toEqual([0, 'job line 5\njob error 6\n']);

  const json = await logs(name, '--tail', '1', '--json');
  expect(json.code).toBe(0);
  expect(JSON.parse(json.stdout)).toMatchObject({
    name,
    instanceId: s.instanceId,
    previous: false,
    text: 'job error 6\n',
    truncated: false,
  });

  // Everything was written more than a second ago.
  await sleep(1500);
  expect(await logs(name, '--since', '1s')).toMatchObject({ code: 0, stdout: '' });
  expect((await logs(name, '--since', '1h')).stdout).toBe(all.stdout);

  const unknown = await logs('no-such-workload');
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('no workload named no-such-workload');

  const previous = await logs(name, '--previous');
  expect(previous.code).toBe(3);
  expect(previous.stderr).toContain(`${name} has had no instance before ${s.instanceId}`);

  // The log reads are workflows of their own (logs-<name>-...): ls shows workloads only.
  const listed = await cliJson<Array<{ name: string; workflowId: string }>>(['ls'], e2e.env);
  expect(listed.map((w) => w.name)).toContain(name);
  expect(listed.filter((w) => !w.workflowId.startsWith('workload-'))).toEqual([]);
});

test('logs -f follows a service, to its new instance after a migration; --previous reads the old one while it drains; Ctrl-C ends it', async () => {
  const name = 'svc-follow';
  e2e.stopAtEnd(name);
  await e2e.apply(tickingSpec(name, { recovery: { maxRestarts: 2, cooldown: '5m', drain: '2m' } }));
  const before = await e2e.waitRunning(name);

  const child = spawn(process.execPath, [CLI, 'logs', name, '-f'], {
    env: e2e.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    const ticks = (id: string) =>
      [...stdout.matchAll(new RegExp(`^tick ${id} (\\d+)$`, 'gm'))].map((m) => Number(m[1]));
    // Lines written after the first read come too: the follow goes on reading.
    const first = await waitFor(() => ticks(before.instanceId!)[0], 'the first ticks', 30_000);
    await waitFor(() => ticks(before.instanceId!).some((n) => n >= first + 10), 'later ticks', 30_000);
    expect(ticks(before.instanceId!)).toEqual(
      Array.from({ length: ticks(before.instanceId!).length }, (_, i) => first + i),
    );

    const moved = await e2e.cli(['migrate', name, '--to', 'local/dear']);
    expect(moved.code).toBe(0);
    const after = await e2e.waitRunning(name, { not: before.instanceId });
    await waitFor(() => ticks(after.instanceId!).length >= 3, 'ticks of the new instance', 30_000);
    expect(stderr).toContain(
      `${name} moved from ${before.instanceId} to ${after.instanceId}; following it there`,
    );
    expect(ticks(after.instanceId!)[0]).toBe(1); // the new instance's log from its start

    // The old instance drains for 2 minutes: its log is still there.
    const previous = await logs(name, '--previous');
    expect(previous.code).toBe(0);
    expect(previous.stdout).toContain(`tick ${before.instanceId} 1\n`);
    expect(previous.stdout).not.toContain(after.instanceId!);
    const current = await logs(name, '--tail', '3');
    expect(current.stdout).toMatch(new RegExp(`^(tick ${after.instanceId} \\d+\\n){3}$`));
  } finally {
    child.kill('SIGINT');
  }
  const sentAt = Date.now();
  const code = await exited;
  expect(Date.now() - sentAt).toBeLessThan(5_000);
  expect(code).toBe(130);
});

test('after a failover logs shows the new instance; --previous says clearly that the old one is gone', async () => {
  const name = 'svc-failover-logs';
  e2e.stopAtEnd(name);
  await e2e.apply(tickingSpec(name));
  const before = await e2e.waitRunning(name);
  await waitFor(
    async () => (await logs(name)).stdout.includes(`tick ${before.instanceId} 2\n`),
    'the first ticks',
  );
  const [agent] = agentsOf(name);
  process.kill(agent!, 'SIGKILL');
  const after = await e2e.waitRunning(name, { not: before.instanceId, timeoutMs: 60_000 });

  const now = await waitFor(async () => {
    const r = await logs(name);
    return r.code === 0 && r.stdout.includes(`tick ${after.instanceId} 2\n`) ? r : undefined;
  }, 'the new instance ticks');
  expect(now.stdout).not.toContain(before.instanceId!);

  const previous = await logs(name, '--previous', '--timeout', '3s');
  expect(previous.code).toBe(3);
  expect(previous.stderr).toMatch(
    new RegExp(`the previous instance of ${name}, ${before.instanceId}, (is gone|does not answer)`),
  );
  expect(previous.stdout).toBe('');
});
