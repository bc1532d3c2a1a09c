/**
 * Reconcile's readClaims against the real Temporal dev server: what each workflow id says about
 * its instances. A workflow that is open but cannot answer (no worker polls its task queue, so
 * the status query gets no answer) is "unknown", and decide keeps its instances; a closed one
 * and an id the server never saw are "closed", and their instances go.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createReconcileActivities } from '../../src/activities/reconcile';
import { decide, type Claim } from '../../src/reconcile/decide';
import type { OwnedInstance } from '../../src/providers/types';
import { temporalClient } from '../support/harness';

let client: Client;
const queue = `no-worker-${randomBytes(4).toString('hex')}`;
const installation = { namespace: 'default', id: 'claims-test' };

beforeAll(async () => {
  client = await temporalClient();
});
afterAll(async () => {
  await client?.connection.close();
});

function readClaims(ids: string[]): Promise<Record<string, Claim>> {
  const acts = createReconcileActivities({
    providers: new Map(),
    owner: 'test',
    installation,
    logger: pino({ level: 'silent' }),
    client: async () => client,
    queryTimeoutMs: 1500,
  });
  return new MockActivityEnvironment().run(acts.readClaims, ids);
}

/** An instance of this installation that `workflowId` launched as its attempt 1, an hour ago. */
const instance = (id: string, workflowId: string): OwnedInstance => ({
  provider: 'local',
  id,
  region: 'p',
  zone: 'p',
  launchedAt: new Date(Date.now() - 3_600_000).toISOString(),
  labels: { workflowId, attempt: 1, namespace: installation.namespace, installation: installation.id },
});

test('an open workflow that cannot answer is unknown and its instance is kept; closed and never-seen ones are ended', async () => {
  const open = `claims-open-${randomBytes(3).toString('hex')}`;
  const closed = `claims-closed-${randomBytes(3).toString('hex')}`;
  const never = `claims-never-${randomBytes(3).toString('hex')}`;
  // Started on a queue no worker polls: RUNNING to describe, silent to a query.
  const h1 = await client.workflow.start('workloadWorkflow', {
    taskQueue: queue,
    workflowId: open,
    args: [],
  });
  const h2 = await client.workflow.start('workloadWorkflow', {
    taskQueue: queue,
    workflowId: closed,
    args: [],
  });
  try {
    await h2.terminate('the test closes it');
    const started = Date.now();
    const claims = await readClaims([open, closed, never]);
    expect(claims[open]).toMatchObject({ kind: 'unknown' });
    expect((claims[open] as { reason: string }).reason).toMatch(/no answer within 1\.5s/);
    // It gave up at its deadline, not the client's own (much longer) one.
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(claims[closed]).toEqual({ kind: 'closed', status: 'TERMINATED' });
    expect(claims[never]).toEqual({ kind: 'closed', status: 'NOT_FOUND' });

    const verdicts = decide({
      instances: [instance('i-open', open), instance('i-closed', closed), instance('i-never', never)],
      claims,
      now: Date.now(),
      graceMs: 60_000,
      installation,
    });
    const byId = Object.fromEntries(verdicts.map((v) => [v.instance.id, v]));
    expect(byId['i-open']).toMatchObject({ action: 'keep' });
    expect(byId['i-open']!.reason).toMatch(/is open but unreadable/);
    expect(byId['i-closed']).toMatchObject({ action: 'terminate', reason: `${closed} is terminated` });
    expect(byId['i-never']).toMatchObject({ action: 'terminate', reason: `${never} is not found` });
  } finally {
    await h1.terminate('test over').catch(() => undefined);
  }
});
