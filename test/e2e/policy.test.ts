/**
 * Recovery policy with the real worker, dev server and local pools: hedged provisioning, exit
 * codes that always restart, the restart window, and HTTP health that recovers on a threshold
 * of failed checks but never on one.
 */
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  agentsOf,
  serviceSpec,
  sleep,
  waitFor,
  workloadProcesses,
  type StatusJson,
  marker,
} from '../support/harness';
import { CancelledFailure, WorkflowFailedError } from '@temporalio/client';
import { useE2eInstallation } from '../support/e2e';

const e2e = useE2eInstallation({
  pools: [
    // The cheapest pool boots slowly: a hedge keeps whichever is ready first. Slowly enough that a
    // loaded machine, slow to start the fast pool's agent, cannot make the two ready together
    // (the loser's boot is cut short when it is cancelled, so this costs the test nothing).
    { name: 'slow', pricePerGpuHour: 1, bootDelay: '20s' },
    { name: 'fast', pricePerGpuHour: 2 },
    // Cheapest, launched at once, but its machine takes long to boot (pending for 20 s).
    { name: 'booting', pricePerGpuHour: 0.5, readyDelay: '20s' },
  ],
  client: true,
});

const events = (s: StatusJson) => s.status?.timeline.map((e) => e.type) ?? [];

/** A job that exits with the codes given, one per run, counting its runs in a file. */
function scriptedJob(name: string, codes: number[], recovery: Record<string, unknown>) {
  const counter = join(e2e.dir, `${name}.runs`);
  const script =
    `const fs=require('fs');const f=${JSON.stringify(counter)};` +
    `const n=fs.existsSync(f)?Number(fs.readFileSync(f,'utf8')):0;fs.writeFileSync(f,String(n+1));` +
    `const codes=${JSON.stringify(codes)};process.exit(codes[Math.min(n,codes.length-1)])`;
  return {
    ...serviceSpec(name),
    kind: 'job',
    command: ['node', '-e', script, marker(name)],
    placement: { regions: ['fast'] },
    recovery: { cooldown: '5m', backoff: { initial: '200ms', max: '1s' }, ...recovery },
  };
}

/** Applies `spec` and waits until it runs. */
async function applyRunning(spec: { name: string }): Promise<StatusJson> {
  await e2e.apply(spec);
  return e2e.waitRunning(spec.name);
}

const closed = (name: string) =>
  e2e.waitStatus(name, (s) => s.workflowStatus !== 'RUNNING', `${name} to end`);

test('hedged provisioning keeps the offer ready first and terminates the other', async () => {
  const name = 'pol-hedge';
  try {
    const s = await applyRunning(serviceSpec(name, { placement: { hedge: 2, regions: ['slow', 'fast'] } }));
    // The slow pool is cheaper and ranked first, but the fast one was ready first.
    expect(s.pool).toBe('fast');
    expect(s.status?.attempts).toBe(2);
    const timeline = s.status!.timeline;
    expect(timeline.find((e) => e.type === 'provisioning')?.message).toMatch(
      /hedging: provisioning 2 offers/,
    );
    expect(timeline.filter((e) => e.type === 'provisioning').map((e) => e.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/local\/slow/), expect.stringMatching(/local\/fast/)]),
    );
    await waitFor(() => agentsOf(name).length === 1, 'only the kept instance', 30_000);
    expect(workloadProcesses(name)).toHaveLength(1);
  } finally {
    await e2e.cli(['stop', name]);
  }
});

test('a hedged instance still booting when another is ready is terminated, not left running', async () => {
  const name = 'pol-hedge-boot';
  try {
    const s = await applyRunning(
      serviceSpec(name, { placement: { hedge: 2, regions: ['booting', 'fast'] } }),
    );
    expect(s.pool).toBe('fast');
    // Both were launched: the booting one was waiting to become ready when it lost.
    expect(s.status!.timeline.filter((e) => e.type === 'provisioned').map((e) => e.location)).toEqual(
      expect.arrayContaining(['local/booting', 'local/fast']),
    );
    await waitFor(() => agentsOf(name).length === 1, 'only the kept instance', 30_000);
    expect(workloadProcesses(name)).toHaveLength(1);
    // Nothing is left in flight for reconcile to keep.
    expect(s.status?.inflight ?? []).toEqual([]);
  } finally {
    await e2e.cli(['stop', name]);
  }
});

test('cancelling the workflow during a hedge ends every hedged instance and closes it CANCELED', async () => {
  const name = 'pol-hedge-cancel';
  // Both offers take 20 s: one boots slowly inside its provision, the other is slow to be ready.
  await e2e.apply(serviceSpec(name, { placement: { hedge: 2, regions: ['slow', 'booting'] } }));
  const handle = e2e.client.workflow.getHandle(`workload-${name}`);
  try {
    await e2e.waitStatus(
      name,
      (s) => s.status?.timeline.some((e) => e.type === 'provisioned' && e.location === 'local/booting'),
      'the booting offer to be launched while the slow one boots',
      { timeoutMs: 15_000 },
    );
    await handle.cancel();
    const err = await handle.result().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
    const closed = await handle.describe();
    expect(closed.status.name).toBe('CANCELLED');
    await sleep(1500); // nothing may come up after the close either
    expect(agentsOf(name)).toHaveLength(0);
    expect(workloadProcesses(name)).toHaveLength(0);
  } finally {
    await e2e.cli(['stop', name]);
  }
});

test('an exit code listed in restartExitCodes always restarts and is not counted', async () => {
  const name = 'pol-codes';
  const spec = scriptedJob(name, [75, 75, 0], { maxRestarts: 0, restartExitCodes: [75] });
  await e2e.apply(spec);
  const s = await closed(name);
  expect(s.workflowStatus).toBe('COMPLETED');
  expect(s.phase).toBe('SUCCEEDED');
  expect(s.status?.restarts).toBe(0);
  expect(s.status?.timeline.filter((e) => e.type === 'restarting').map((e) => e.message)).toEqual([
    expect.stringMatching(/exit code 75 always restarts \(not counted\)/),
    expect.stringMatching(/exit code 75 always restarts \(not counted\)/),
  ]);

  // Without the listing, the same job fails at its first exit.
  const other = 'pol-codes-off';
  await e2e.apply(scriptedJob(other, [75, 0], { maxRestarts: 0 }));
  const f = await closed(other);
  expect(f.workflowStatus).toBe('FAILED');
  expect(f.failure).toMatch(/exit code 75 after 0 restarts \(max 0\)/);
});

test('only restarts within restartWindow count against maxRestarts', async () => {
  const name = 'pol-window';
  // Four failures a backoff of 1.5 s apart: with a 1 s window, never more than one counts.
  const spec = scriptedJob(name, [1, 1, 1, 0], {
    maxRestarts: 1,
    restartWindow: '1s',
    backoff: { initial: '1500ms', max: '1500ms' },
  });
  await e2e.apply(spec);
  const s = await closed(name);
  expect(s.phase).toBe('SUCCEEDED');
  expect(s.status?.restarts).toBe(3);

  const other = 'pol-window-off';
  const strict = scriptedJob(other, [1, 1, 1, 0], {
    maxRestarts: 1,
    backoff: { initial: '200ms', max: '200ms' },
  });
  await e2e.apply(strict);
  const f = await closed(other);
  expect(f.workflowStatus).toBe('FAILED');
  expect(f.failure).toMatch(/after 1 restarts \(max 1\)/);
});

test('one failed HTTP check never recovers a service; failureThreshold checks in a row do', async () => {
  const name = 'pol-http';
  // `blip` fails exactly one check (the server removes it as it answers 500); `sick` fails all.
  const blip = join(e2e.dir, `${name}.blip`);
  const sick = join(e2e.dir, `${name}.sick`);
  const server =
    `const fs=require('fs');require('http').createServer((q,r)=>{` +
    `let bad=fs.existsSync(${JSON.stringify(sick)});` +
    `try{fs.unlinkSync(${JSON.stringify(blip)});bad=true}catch{}` +
    `r.statusCode=bad?500:200;r.end()})` +
    `.listen(process.env.PORT,'127.0.0.1')`;
  const spec = serviceSpec(name, {
    command: ['node', '-e', server, marker(name)],
    placement: { regions: ['fast'] },
    health: {
      heartbeatTimeout: '5s',
      startupGrace: '30s',
      http: { path: '/healthz', interval: '300ms', timeout: '2s', failureThreshold: 3 },
    },
    recovery: { maxRestarts: 3, cooldown: '5m', backoff: { initial: '200ms', max: '1s' } },
  });
  try {
    const first = await applyRunning(spec);

    // A blip: one failed check, then the checks pass again for several intervals.
    await writeFile(blip, '');
    await waitFor(() => !existsSync(blip), 'the blip to be checked', 30_000);
    await sleep(2000);
    const still = await e2e.status(name);
    expect(still.instanceId).toBe(first.instanceId);
    expect(events(still)).not.toContain('unhealthy');

    // Sick for good: after three failed checks in a row it is restarted, on the same machine.
    await writeFile(sick, '');
    const replaced = await e2e.waitStatus(
      name,
      (v) => events(v).includes('restarting'),
      `${name} to be found unhealthy and restarted`,
    );
    expect(events(replaced)).toContain('unhealthy');
    expect(replaced.status?.timeline.find((e) => e.type === 'unhealthy')?.message).toMatch(
      /3 HTTP checks failed in a row; last: GET \/healthz answered 500/,
    );
    expect(replaced.status?.restarts).toBe(1);
    expect(replaced.instanceId).toBe(first.instanceId);
    expect(events(replaced)).not.toContain('terminated');
  } finally {
    await rm(sick, { force: true });
    await rm(blip, { force: true });
    await e2e.cli(['stop', name]);
  }
});
