import type { Installation, OwnedInstance } from '../../src/providers/types';
import { decide, type Claim } from '../../src/reconcile/decide';

const NOW = Date.parse('2026-11-29T12:00:00Z');
const GRACE = 5 * 60_000;
/** The installation reconciling; instances are marked as its own unless a test says otherwise. */
const OURS: Installation = { namespace: 'prod', id: 'a1b2c3' };
const MARKS = { namespace: OURS.namespace, installation: OURS.id };

function inst(id: string, labels: OwnedInstance['labels'], ageMs?: number): OwnedInstance {
  return {
    provider: 'local',
    id,
    region: 'pool-a',
    zone: 'pool-a',
    labels: labels && { ...MARKS, ...labels },
    launchedAt: ageMs === undefined ? undefined : new Date(NOW - ageMs).toISOString(),
  };
}

const OLD = 60 * 60_000;
const run = (instances: OwnedInstance[], claims: Record<string, Claim>) =>
  Object.fromEntries(
    decide({ instances, claims, now: NOW, graceMs: GRACE, installation: OURS }).map((v) => [
      v.instance.id,
      [v.action, v.reason],
    ]),
  );

/** The verdict on one old instance, attempt `attempt` of workflow w, given w's claim. */
const verdictOn = (id: string, attempt: number, claim: Claim) =>
  run([inst(id, { workflowId: 'w', attempt }, OLD)], { w: claim })[id];

test('the current instance of an open workflow is kept', () => {
  expect(verdictOn('i-1', 3, { kind: 'open', current: 'i-1', attempts: 3 })).toEqual([
    'keep',
    'current instance of w',
  ]);
});

test('a workflow that does not say what it has in flight: its latest attempt is kept even before it is current', () => {
  expect(verdictOn('i-2', 4, { kind: 'open', current: 'i-1', attempts: 4 })).toEqual([
    'keep',
    'attempt 4 of w is in flight',
  ]);
});

test('the attempts a workflow has in flight are kept, whichever they are; a settled latest attempt is not', () => {
  // A hedge: attempts 5 and 6 launched together; 5 still boots, 6 lost and was settled.
  const r = run(
    [
      inst('i-5', { workflowId: 'w', attempt: 5 }, OLD),
      inst('i-6', { workflowId: 'w', attempt: 6 }, OLD),
      inst('i-4', { workflowId: 'w', attempt: 4 }, OLD),
    ],
    { w: { kind: 'open', current: 'i-4', attempts: 6, inflight: [5] } },
  );
  expect(r).toEqual({
    'i-5': ['keep', 'attempt 5 of w is in flight'],
    'i-6': ['terminate', 'attempt 6 of w is over (now at attempt 6)'],
    'i-4': ['keep', 'current instance of w'],
  });
});

test("an open workflow's earlier attempt that is not current is terminated", () => {
  expect(verdictOn('i-0', 1, { kind: 'open', current: 'i-1', attempts: 3 })).toEqual([
    'terminate',
    'attempt 1 of w is over (now at attempt 3)',
  ]);
});

test('instances of closed, terminated or unknown workflows are terminated, naming why', () => {
  const r = run(
    [
      inst('a', { workflowId: 'done', attempt: 1 }, OLD),
      inst('b', { workflowId: 'killed', attempt: 1 }, OLD),
      inst('c', { workflowId: 'never', attempt: 1 }, OLD),
      inst('d', {}, OLD),
    ],
    { done: { kind: 'closed', status: 'COMPLETED' }, killed: { kind: 'closed', status: 'TERMINATED' } },
  );
  expect(r).toEqual({
    a: ['terminate', 'done is completed'],
    b: ['terminate', 'killed is terminated'],
    c: ['terminate', 'never is not found'],
    d: ['terminate', 'it names no workflow'],
  });
});

test('an open workflow whose state cannot be read keeps all its instances', () => {
  expect(verdictOn('i-0', 1, { kind: 'unknown', reason: 'query timed out' })).toEqual([
    'keep',
    'w is open but unreadable (query timed out)',
  ]);
});

test('unclaimed instances younger than the grace period are kept; at the grace period they go', () => {
  const claims: Record<string, Claim> = { w: { kind: 'closed', status: 'TERMINATED' } };
  const r = run(
    [
      inst('young', { workflowId: 'w', attempt: 1 }, GRACE - 1),
      inst('due', { workflowId: 'w', attempt: 1 }, GRACE),
      inst('ageless', { workflowId: 'w', attempt: 1 }),
    ],
    claims,
  );
  expect(r.young).toEqual(['keep', 'w is terminated, but it is younger than the grace period']);
  expect(r.due?.[0]).toBe('terminate');
  // Without a launch time, its age cannot protect it; only a claim can.
  expect(r.ageless?.[0]).toBe('terminate');
});

test('what an open workflow abandoned (an instance or an attempt it could not end) is terminated', () => {
  const r = run(
    [
      inst('i-given-up', { workflowId: 'w', attempt: 5 }, OLD),
      inst('i-released-attempt', { workflowId: 'w', attempt: 6 }, OLD),
      inst('i-kept', { workflowId: 'w', attempt: 6 }, OLD),
    ],
    {
      w: {
        kind: 'open',
        current: 'i-kept',
        attempts: 6,
        abandoned: { instances: ['i-given-up'], attempts: [6] },
      },
    },
  );
  expect(r['i-given-up']).toEqual(['terminate', 'w could not end it and left it to reconcile']);
  expect(r['i-released-attempt']).toEqual(['terminate', 'w could not end it and left it to reconcile']);
  // An abandoned attempt never takes the current instance with it.
  expect(r['i-kept']).toEqual(['keep', 'current instance of w']);
});

test("another installation's instances are never touched, though their workflow id is closed here; ours are", () => {
  const gone: Record<string, Claim> = { w: { kind: 'closed', status: 'NOT_FOUND' } };
  const r = run(
    [
      inst('other-namespace', { workflowId: 'w', attempt: 1, namespace: 'staging' }, OLD),
      inst('other-installation', { workflowId: 'w', attempt: 1, installation: 'ffffff' }, OLD),
      inst('unmarked', { workflowId: 'w', attempt: 1, namespace: undefined, installation: undefined }, OLD),
      inst('no-labels', undefined, OLD),
      inst('ours', { workflowId: 'w', attempt: 1 }, OLD),
    ],
    gone,
  );
  expect(r).toEqual({
    'other-namespace': ['keep', 'not ours: it belongs to installation a1b2c3 in namespace staging'],
    'other-installation': ['keep', 'not ours: it belongs to installation ffffff in namespace prod'],
    unmarked: ['keep', 'not ours: it names no installation'],
    'no-labels': ['keep', 'not ours: it names no installation'],
    ours: ['terminate', 'w is not found'],
  });
});

test('the namespace and the id must both match: the same id in another namespace is not ours', () => {
  const r = run([inst('i-1', { workflowId: 'w', attempt: 1, namespace: 'default' }, OLD)], {});
  expect(r['i-1']?.[0]).toBe('keep');
});

test('an instance with only one of the two marks is not ours, and the report shows the missing one as "?"', () => {
  const r = run(
    [
      inst('no-id', { workflowId: 'w', attempt: 1, installation: undefined }, OLD),
      inst('no-namespace', { workflowId: 'w', attempt: 1, namespace: undefined }, OLD),
    ],
    {},
  );
  expect(r).toEqual({
    'no-id': ['keep', 'not ours: it belongs to installation ? in namespace prod'],
    'no-namespace': ['keep', 'not ours: it belongs to installation a1b2c3 in namespace ?'],
  });
});

test('a listing of an older version: an instance without any labels names no workflow and goes', () => {
  const verdicts = decide({
    instances: [inst('bare', undefined, OLD)],
    claims: {},
    now: NOW,
    graceMs: GRACE,
    installation: undefined,
  });
  expect(verdicts.map((v) => [v.action, v.reason])).toEqual([['terminate', 'it names no workflow']]);
});

test('a listing that names no installation (a worker of an older version) filters nothing', () => {
  const verdicts = decide({
    instances: [inst('i-1', { workflowId: 'w', attempt: 1, namespace: 'x', installation: 'y' }, OLD)],
    claims: {},
    now: NOW,
    graceMs: GRACE,
    installation: undefined,
  });
  expect(verdicts.map((v) => v.action)).toEqual(['terminate']);
});

test('the instances an open workflow has live (draining after a move, booting in a hedge) are kept', () => {
  const r = run(
    [
      inst('i-draining', { workflowId: 'w', attempt: 2 }, OLD),
      inst('i-current', { workflowId: 'w', attempt: 3 }, OLD),
      inst('i-ended', { workflowId: 'w', attempt: 1 }, OLD),
    ],
    { w: { kind: 'open', current: 'i-current', attempts: 3, inflight: [], live: ['i-draining'] } },
  );
  expect(r).toEqual({
    'i-draining': ['keep', 'w has it and will end it (draining or not yet current)'],
    'i-current': ['keep', 'current instance of w'],
    'i-ended': ['terminate', 'attempt 1 of w is over (now at attempt 3)'],
  });
});

test('an abandoned instance goes even when the workflow still lists it as live', () => {
  const r = run([inst('i-1', { workflowId: 'w', attempt: 2 }, OLD)], {
    w: {
      kind: 'open',
      current: 'i-9',
      attempts: 3,
      inflight: [],
      live: ['i-1'],
      abandoned: { instances: ['i-1'], attempts: [] },
    },
  });
  expect(r['i-1']).toEqual(['terminate', 'w could not end it and left it to reconcile']);
});

test('an abandoned instance goes even when the workflow still names it as current', () => {
  // The workflow could not end its current instance and handed it over (a terminate that kept
  // failing): the abandonment wins over "current".
  const r = run([inst('i-current', { workflowId: 'w', attempt: 3 }, OLD)], {
    w: {
      kind: 'open',
      current: 'i-current',
      attempts: 3,
      abandoned: { instances: ['i-current'], attempts: [] },
    },
  });
  expect(r['i-current']).toEqual(['terminate', 'w could not end it and left it to reconcile']);
});

test("an open workflow's instance that names no attempt is kept: it may be the one in flight", () => {
  // Not current, not live, not abandoned, no attempt label (launched by a version that did not
  // stamp one, or a provider that lost the label): ending it could kill a live machine.
  const r = run([inst('i-no-attempt', { workflowId: 'w' }, OLD)], {
    w: { kind: 'open', current: 'i-other', attempts: 4, inflight: [] },
  });
  expect(r['i-no-attempt']).toEqual(['keep', 'an attempt of w may be in flight (it names none)']);
});
