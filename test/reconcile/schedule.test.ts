import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptions,
} from '@temporalio/client';
import {
  RECONCILE_WORKFLOW_TYPE,
  ensureReconcileSchedule,
  reconcileNow,
  reconcileScheduleId,
} from '../../src/reconcile/schedule';
import {
  installationScheduleId,
  newInstallationId,
  storedInstallationId,
} from '../../src/reconcile/installation';

/**
 * A client that keeps schedules in a map, as the Temporal server does for one namespace:
 * `schedule.create` of an id that exists rejects with ScheduleAlreadyRunning (the SDK's
 * ScheduleClient.create maps the server's AlreadyExists to it), and `describe` returns the memo
 * the schedule was created with. Other errors are whatever `failWith` holds.
 */
function fakeClient(
  o: { failWith?: Error; memoOf?: (id: string) => Record<string, unknown> | undefined } = {},
) {
  const schedules = new Map<string, ScheduleOptions>();
  const started: { type: string; options: Record<string, unknown> }[] = [];
  const client = {
    schedule: {
      async create(options: ScheduleOptions) {
        if (o.failWith) throw o.failWith;
        if (schedules.has(options.scheduleId)) {
          throw new ScheduleAlreadyRunning('Schedule already exists and is running', options.scheduleId);
        }
        schedules.set(options.scheduleId, options);
      },
      getHandle(id: string) {
        return {
          async describe() {
            const memo = o.memoOf ? o.memoOf(id) : schedules.get(id)?.memo;
            return { memo };
          },
        };
      },
    },
    workflow: {
      async start(type: string, options: Record<string, unknown>) {
        started.push({ type, options });
        return { result: async () => ({ report: 'done', input: (options.args as unknown[])[0] }) };
      },
    },
  };
  return { client: client as unknown as Client, schedules, started };
}

describe('reconcile schedule', () => {
  test('the schedule id names the owner and the task queue, so installations sharing a namespace do not collide', () => {
    expect(reconcileScheduleId('alice', 'gpu-q')).toBe('driftless-reconcile-alice-gpu-q');
    expect(reconcileScheduleId('bob', 'gpu-q')).not.toBe(reconcileScheduleId('alice', 'gpu-q'));
  });

  test('the first worker creates the schedule: the reconcile workflow every interval, overlaps skipped, with the grace', async () => {
    const { client, schedules } = fakeClient();
    const created = await ensureReconcileSchedule(client, {
      owner: 'alice',
      taskQueue: 'gpu-q',
      everyMs: 600_000,
      graceMs: 120_000,
    });
    expect(created).toBe(true);
    const s = schedules.get('driftless-reconcile-alice-gpu-q');
    expect(s).toMatchObject({
      spec: { intervals: [{ every: 600_000 }] },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1m' },
      action: {
        type: 'startWorkflow',
        workflowType: RECONCILE_WORKFLOW_TYPE,
        workflowId: 'driftless-reconcile-alice',
        taskQueue: 'gpu-q',
        args: [{ graceMs: 120_000 }],
        workflowExecutionTimeout: '30m',
      },
      memo: { driftless: 'reconcile' },
    });
    expect(RECONCILE_WORKFLOW_TYPE).toBe('reconcileWorkflow');
  });

  test('a worker that finds the schedule already there leaves it as it is and says it created nothing', async () => {
    const { client, schedules } = fakeClient();
    const o = { owner: 'alice', taskQueue: 'gpu-q', everyMs: 600_000, graceMs: 120_000 };
    await ensureReconcileSchedule(client, o);
    const again = await ensureReconcileSchedule(client, { ...o, everyMs: 1000 });
    expect(again).toBe(false);
    expect(schedules.get(reconcileScheduleId('alice', 'gpu-q'))?.spec).toEqual({
      intervals: [{ every: 600_000 }],
    });
  });

  test('any other failure to create the schedule is passed on', async () => {
    const { client } = fakeClient({ failWith: new Error('namespace not found') });
    await expect(
      ensureReconcileSchedule(client, { owner: 'a', taskQueue: 'q', everyMs: 1, graceMs: 1 }),
    ).rejects.toThrow('namespace not found');
  });

  test('a reconcile on demand starts the reconcile workflow on the task queue and returns its report', async () => {
    const { client, started } = fakeClient();
    const report = await reconcileNow(client, 'gpu-q', { dryRun: true }, 30_000);
    expect(report).toEqual({ report: 'done', input: { dryRun: true } });
    expect(started).toHaveLength(1);
    expect(started[0]?.type).toBe('reconcileWorkflow');
    expect(started[0]?.options).toMatchObject({ taskQueue: 'gpu-q', workflowExecutionTimeout: 30_000 });
    expect(started[0]?.options.workflowId).toMatch(/^driftless-gc-[0-9a-z]+$/);
  });

  test('a reconcile on demand gets at least a second to run, whatever timeout it is given', async () => {
    const { client, started } = fakeClient();
    await reconcileNow(client, 'q', {}, 10);
    expect(started[0]?.options.workflowExecutionTimeout).toBe(1000);
  });
});

describe('installation id', () => {
  test('the schedule holding the id names the owner and the task queue', () => {
    expect(installationScheduleId('alice', 'gpu-q')).toBe('driftless-installation-alice-gpu-q');
  });

  test('a new installation id is 12 hex characters, different each time', () => {
    const a = newInstallationId();
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(newInstallationId()).not.toBe(a);
  });

  test('the first worker stores its generated id in a paused schedule that never runs, and uses it', async () => {
    const { client, schedules } = fakeClient();
    const id = await storedInstallationId(
      client,
      { owner: 'alice', taskQueue: 'gpu-q' },
      () => 'aaaaaaaaaaaa',
    );
    expect(id).toBe('aaaaaaaaaaaa');
    const s = schedules.get('driftless-installation-alice-gpu-q');
    expect(s).toMatchObject({
      spec: { intervals: [{ every: '365d' }] },
      state: { paused: true },
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
      action: {
        type: 'startWorkflow',
        workflowType: 'reconcileWorkflow',
        workflowId: 'driftless-installation-alice',
        taskQueue: 'gpu-q',
        args: [{ dryRun: true }],
      },
      memo: { driftless: 'installation', installation: 'aaaaaaaaaaaa' },
    });
    expect(s?.state?.note).toMatch(/never runs/);
  });

  test('a worker that loses the race reads the id the first one stored, not its own', async () => {
    const { client } = fakeClient();
    const o = { owner: 'alice', taskQueue: 'gpu-q' };
    await storedInstallationId(client, o, () => 'first0000000');
    await expect(storedInstallationId(client, o, () => 'second000000')).resolves.toBe('first0000000');
  });

  test('without a generator the stored id is a new 12-hex id', async () => {
    const { client } = fakeClient();
    await expect(storedInstallationId(client, { owner: 'a', taskQueue: 'q' })).resolves.toMatch(
      /^[0-9a-f]{12}$/,
    );
  });

  test('an existing schedule whose memo holds no id (or an empty one) is an error that says how to set it', async () => {
    for (const memo of [undefined, {}, { installation: '' }, { installation: 42 }]) {
      const { client } = fakeClient({ memoOf: () => memo });
      await storedInstallationId(client, { owner: 'a', taskQueue: 'q' }, () => 'x');
      await expect(storedInstallationId(client, { owner: 'a', taskQueue: 'q' }, () => 'y')).rejects.toThrow(
        'schedule driftless-installation-a-q holds no installation id; set "installation" in the config',
      );
    }
  });

  test('any other failure to create the schedule is passed on without reading it', async () => {
    const { client } = fakeClient({
      failWith: new Error('permission denied'),
      memoOf: () => {
        throw new Error('describe must not be called');
      },
    });
    await expect(storedInstallationId(client, { owner: 'a', taskQueue: 'q' })).rejects.toThrow(
      'permission denied',
    );
  });
});
