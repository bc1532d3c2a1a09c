import { formatReport } from '../../src/client/commands/gc';
import type { ReconcileReport, ReconciledInstance } from '../../src/workflows/reconcile';

const instance = (id: string, reason: string): ReconciledInstance => ({
  provider: 'aws',
  id,
  region: 'us-east-1',
  zone: 'use1-az1',
  reason,
});

const report = (kept: ReconciledInstance[]): ReconcileReport => ({
  at: '2026-12-02T00:00:00.000Z',
  dryRun: false,
  graceMs: 0,
  seen: kept.length,
  kept,
  terminated: [],
  failed: [],
  providerErrors: [],
});

test('gc names instances with the owner mark but no installation mark, which reconcile never ends', () => {
  const text = formatReport(
    report([
      instance('i-old-1', 'not ours: it names no installation'),
      instance('i-old-2', 'not ours: it names no installation'),
      instance('i-other', 'not ours: it belongs to installation abc in namespace prod'),
      instance('i-mine', 'current instance of workload-web'),
    ]),
  );
  expect(text).toMatch(/^2 instance\(s\) carry the owner mark but no installation mark/m);
  expect(text).toContain('i-old-1');
});

test('gc says nothing of unmarked instances when there are none', () => {
  const text = formatReport(
    report([instance('i-other', 'not ours: it belongs to installation abc in namespace prod')]),
  );
  expect(text).not.toMatch(/no installation mark/);
});
