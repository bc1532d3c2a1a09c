/**
 * Reconcile (`driftless gc`, the reconcile workflow on the real dev server) against GCP instances
 * on the fake Compute Engine: an instance of this installation that no open workflow claims is
 * abandoned and deleted; one carrying the same owner mark but another installation's labels is
 * left alone, and so is one of this installation that is too young for the grace.
 */
import { randomBytes } from 'node:crypto';
import { cliJson, waitFor } from '../support/harness';
import { playedVmProvider, useE2eInstallation } from '../support/e2e';
import { startFakeGce, type FakeGce } from '../support/gcp-server';
import { GCP_LABELS } from '../../src/providers/gcp/names';
import type { Installation } from '../../src/providers/types';
import type { ReconcileReport } from '../../src/workflows/reconcile';

const ZONE = 'us-central1-a';
const owner = `e2e-gcprc-${randomBytes(3).toString('hex')}`;
let fake: FakeGce;

const e2e = useE2eInstallation({
  pools: [{ name: 'lab-gcprc' }],
  config: { owner },
  setup: async () => {
    fake = await startFakeGce();
    const gcp = { project: fake.project, zones: [ZONE], endpoint: fake.endpoint, credentials: 'none' };
    return { config: { providers: { gcp: { ...gcp, ...playedVmProvider('5s') } } } };
  },
  teardown: async () => {
    await fake?.close();
  },
  timeoutMs: 180_000,
});

const gc = (...args: string[]) => cliJson<ReconcileReport>(['gc', '--timeout', '60s', ...args], e2e.env);

/** An instance as a driftless create labels it, for `who`'s workflow `workflowId` (closed: never started). */
function instanceOf(name: string, who: Installation, workflowId: string, createdAgoMs = 0) {
  return fake.putInstance(ZONE, {
    name,
    creationTimestamp: new Date(Date.now() - createdAgoMs).toISOString(),
    labels: {
      [GCP_LABELS.owner]: owner,
      [GCP_LABELS.namespace]: who.namespace,
      [GCP_LABELS.installation]: who.id,
      [GCP_LABELS.workload]: 'gone',
      [GCP_LABELS.workflowId]: workflowId,
      [GCP_LABELS.attempt]: '1',
    },
  });
}

test("reconcile deletes this installation's abandoned GCP instance and leaves another installation's alone", async () => {
  const ours = (await gc('--dry-run')).installation!;
  expect(ours.id).toMatch(/^[0-9a-f]{12}$/);
  const other: Installation = { namespace: 'elsewhere', id: 'aaaaaaaaaaaa' };
  const hour = 3_600_000;
  instanceOf('driftless-gone-ours', ours, 'workload-gone', hour);
  instanceOf('driftless-gone-theirs', other, 'workload-gone', hour);
  // Ours too, but launched a moment ago: a create whose workflow may not be visible yet.
  instanceOf('driftless-young-ours', ours, 'workload-young');

  const report = await gc('--grace', '10m');
  expect(report.providerErrors).toEqual([]);
  expect(report.terminated.map((t) => t.id)).toEqual(['driftless-gone-ours']);
  expect(report.terminated[0]).toMatchObject({ provider: 'gcp', workflowId: 'workload-gone' });
  expect(report.kept).toContainEqual(
    expect.objectContaining({
      id: 'driftless-gone-theirs',
      reason: `not ours: it belongs to installation ${other.id} in namespace ${other.namespace}`,
    }),
  );
  expect(report.kept.map((k) => k.id)).toContain('driftless-young-ours');
  expect(
    fake
      .calls('instances.delete')
      .map((c) => c.path.split('/').pop())
      .sort(),
  ).toEqual(['driftless-gone-ours']);
  await waitFor(() => fake.instance(ZONE, 'driftless-gone-ours') === undefined, 'the orphan deleted', 30_000);
  expect(fake.instance(ZONE, 'driftless-gone-theirs')?.status).toBe('RUNNING');
  expect(fake.instance(ZONE, 'driftless-young-ours')?.status).toBe('RUNNING');
});
