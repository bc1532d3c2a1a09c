import { PhaseProgress, progressText } from '../../src/client/progress';
import type { WorkloadView } from '../../src/client/services/workloads';
import { watchStatus } from '../../src/client/watch';
import { CliError } from '../../src/client/errors';
import type { Phase, TimelineEvent } from '../../src/workflows/types';

function view(phase: Phase | 'UNKNOWN', extra: Partial<WorkloadView> = {}, last?: string): WorkloadView {
  const timeline: TimelineEvent[] = last
    ? [{ at: '2026-01-01T00:00:00Z', type: 'placed', message: last }]
    : [];
  return {
    name: 'web',
    workflowId: 'workload-web',
    runId: 'r',
    workflowStatus: 'RUNNING',
    phase,
    status: {
      name: 'web',
      kind: 'service',
      phase: phase as Phase,
      attempts: 1,
      restarts: 0,
      recoveries: 0,
      blocks: [],
      timeline,
    } as unknown as WorkloadView['status'],
    ...extra,
  };
}

function recorder(tty: boolean) {
  let t = 0;
  const writes: string[] = [];
  return {
    writes,
    tick: (ms: number) => (t += ms),
    out: { write: (s: string) => void writes.push(s), tty, now: () => t, spinEveryMs: 0 },
  };
}

describe('PhaseProgress, not a terminal', () => {
  test('one line per phase change with the time since the start, nothing for a repeat', () => {
    const r = recorder(false);
    const p = new PhaseProgress(r.out);
    p.update(view('PENDING'));
    p.update(view('PENDING'));
    r.tick(1500);
    p.update(view('PROVISIONING', { provider: 'local', region: 'lab-a', pool: 'lab-a' }, 'attempt 1'));
    r.tick(2000);
    p.update(
      view('RUNNING', { provider: 'local', region: 'lab-a', pool: 'lab-a', instanceId: 'l1' }, 'running'),
    );
    p.stop();
    expect(r.writes).toEqual([
      '[0ms] web PENDING\n',
      '[2s] web PROVISIONING: attempt 1\n',
      '[4s] web RUNNING on local/lab-a: running\n',
    ]);
  });

  test('a new instance in the same phase is a change too (a recovery)', () => {
    const r = recorder(false);
    const p = new PhaseProgress(r.out);
    p.update(view('RUNNING', { provider: 'local', pool: 'a', region: 'a', instanceId: 'l1' }));
    p.update(view('RUNNING', { provider: 'local', pool: 'b', region: 'b', instanceId: 'l2' }));
    expect(r.writes).toHaveLength(2);
    expect(r.writes[1]).toContain('on local/b');
  });
});

describe('PhaseProgress on a terminal', () => {
  test('rewrites one line in place and clears it at the end', () => {
    const r = recorder(true);
    const p = new PhaseProgress(r.out);
    p.update(view('PENDING'));
    p.update(view('PROVISIONING'));
    p.stop();
    expect(r.writes.every((w) => w.startsWith('\r\x1b[2K'))).toBe(true);
    expect(r.writes.some((w) => w.includes('\n'))).toBe(false);
    expect(r.writes[0]).toContain('web PENDING');
    expect(r.writes[1]).toContain('web PROVISIONING');
    expect(r.writes.at(-1)).toBe('\r\x1b[2K');
  });
});

test('progressText names a closed workflow', () => {
  expect(progressText(view('FAILED', { workflowStatus: 'FAILED' }))).toBe('web FAILED (workflow FAILED)');
});

describe('watchStatus', () => {
  test('not a terminal: one block per change, ends when the workflow closes', async () => {
    const views = [
      view('PENDING'),
      view('PENDING'),
      view('RUNNING'),
      view('STOPPED', { workflowStatus: 'COMPLETED' }),
    ];
    const writes: string[] = [];
    let polls = 0;
    const last = await watchStatus(
      async () => views[Math.min(polls++, views.length - 1)]!,
      { write: (s) => void writes.push(s), tty: false },
      { everyMs: 1 },
    );
    expect(polls).toBe(4);
    expect(last?.phase).toBe('STOPPED');
    expect(writes).toHaveLength(3);
    expect(writes[0]).toMatch(/^web {2}service {2}PENDING/);
    expect(writes[1]).toMatch(/^\nweb {2}service {2}RUNNING/);
  });

  test('on a terminal each block clears the screen first', async () => {
    const writes: string[] = [];
    await watchStatus(
      async () => view('STOPPED', { workflowStatus: 'COMPLETED' }),
      { write: (s) => void writes.push(s), tty: true },
      { everyMs: 1 },
    );
    expect(writes).toHaveLength(1);
    expect(writes[0]!.startsWith('\x1b[H\x1b[2J')).toBe(true);
  });

  test('an abort (Ctrl-C) ends the watch during its wait', async () => {
    const stop = new AbortController();
    let polls = 0;
    const p = watchStatus(
      async () => {
        polls++;
        return view('RUNNING');
      },
      { write: () => undefined, tty: false },
      { everyMs: 60_000, signal: stop.signal },
    );
    setTimeout(() => stop.abort(), 50);
    await expect(p).resolves.toMatchObject({ phase: 'RUNNING' });
    expect(polls).toBe(1);
  });

  test('a failed poll is retried; an error the user must act on ends it', async () => {
    let polls = 0;
    const p = watchStatus(
      async () => {
        polls++;
        if (polls === 1) throw new Error('unavailable');
        throw new CliError('no workload named web');
      },
      { write: () => undefined, tty: false },
      { everyMs: 1 },
    );
    await expect(p).rejects.toThrow('no workload named web');
    expect(polls).toBe(2);
  });
});
