import {
  currentDetails,
  durationText,
  oneDollar,
  shortId,
  workloadDetails,
  workloadSummary,
} from '../../src/workflows/details';
import type { WorkloadStatus } from '../../src/workflows/types';
import { WorkloadSpec } from '../../src/spec/workload-spec';

const spec = WorkloadSpec.parse({
  name: 'web-1',
  kind: 'service',
  command: ['serve', '--token', 'argv-is-not-shown'],
  env: { HF_TOKEN: 'hf_secret_value' },
  resources: { gpu: { type: 'A100', count: 1 } },
  placement: { providers: ['aws', 'local'], maxPricePerHour: 30 },
  health: { http: { path: '/healthz' } },
  budget: { maxTotal: 50 },
});

test('the static summary names the workload, its kind, GPUs and providers', () => {
  expect(workloadSummary(spec)).toBe('web-1 · service · 1× A100 · aws, local');
});

test('the static details tell resources, placement, health and recovery, and never an env value or the command', () => {
  const d = workloadDetails(spec);
  expect(d).toContain('- **Resources**: gpu A100:1');
  expect(d).toContain('- **Placement**: providers aws, local; regions any; spot never; at most $30/h');
  expect(d).toContain('HTTP GET /healthz every 2s, unhealthy after 3 failures in a row');
  expect(d).toContain('- **Recovery**: 3 restarts in place, backoff 1s..1m');
  expect(d).toContain('- **Budget**: $50.00 in all');
  expect(d).toContain('1 env variables, values not shown');
  expect(d).not.toContain('hf_secret_value');
  expect(d).not.toContain('argv-is-not-shown');
  // One dollar sign a line: the Web UI reads two as the ends of a formula.
  for (const line of d.split('\n')) expect((line.match(/\$/g) ?? []).length).toBeLessThanOrEqual(1);
});

test('current details: phase, where and since, rate and cost, what it waits on, blocks in force, the last five events', () => {
  const now = Date.parse('2026-12-02T12:10:00Z');
  const status: WorkloadStatus = {
    name: 'web-1',
    kind: 'service',
    phase: 'RUNNING',
    phaseSince: '2026-12-02T12:00:00Z',
    current: {
      provider: 'local',
      region: 'lab-b',
      zone: 'lab-b',
      instanceId: 'l9a3f0c1d2e4b5a6',
      instanceType: 'lab-b:1xA100',
      gpuType: 'A100',
      gpuCount: 1,
      pricePerHour: 2,
      since: '2026-12-02T12:00:00Z',
    },
    attempts: 2,
    restarts: 0,
    recoveries: 1,
    blocks: [
      { provider: 'local', region: 'lab-a', zone: 'lab-a', until: now + 60_000, reason: 'a preemption' },
      { provider: 'aws', until: now - 1, reason: 'expired' },
    ],
    cost: {
      accruedUsd: 0.5,
      open: [{ instanceId: 'l9a3f0c1d2e4b5a6', pricePerHour: 2, since: '2026-12-02T12:00:00Z' }],
      instances: 2,
    },
    timeline: Array.from({ length: 7 }, (_, i) => ({
      at: `2026-12-02T12:0${i}:00Z`,
      type: 'placed' as const,
      message: `event ${i} at $1/h of $2`,
    })),
  };
  const d = currentDetails(status, { now, waiting: 'supervise l9a3f0c1… on local/lab-b' });
  expect(d.split('\n')).toEqual([
    '**RUNNING** on local/lab-b since 12:00:00 UTC',
    '',
    '- instance l9a3f0c1d2e4b5a6 (lab-b:1xA100, 1× A100) since 12:00:00 UTC',
    '- rate $2.00/h',
    '- cost so far $0.83 (as of 12:10:00 UTC)',
    '- waiting on: supervise l9a3f0c1… on local/lab-b',
    '- blocked: local/lab-a until 12:11:00 UTC (a preemption)',
    '- attempts 2, restarts 0, recoveries 1',
    '',
    '**Last events**',
    '',
    ...[2, 3, 4, 5, 6].map((i) => `- 12:0${i}:00 UTC placed: event ${i} at \\$1/h of \\$2`),
  ]);
});

test('a finished workload shows its result and waits on nothing', () => {
  const d = currentDetails(
    {
      name: 'j',
      kind: 'job',
      phase: 'SUCCEEDED',
      attempts: 1,
      restarts: 0,
      recoveries: 0,
      blocks: [],
      timeline: [],
      result: { phase: 'SUCCEEDED', exitCode: 0, message: 'job succeeded' },
    },
    { now: 0, waiting: 'supervise x' },
  );
  expect(d).toContain('- result: job succeeded');
  expect(d).not.toContain('waiting on');
});

test('short words for summaries', () => {
  expect(shortId('l9a3f0c1d2e4b5a6')).toBe('l9a3f0c1…');
  expect(shortId('i-0abc')).toBe('i-0abc');
  expect([500, 4000, 120_000, 150_000, 3_600_000, 3_900_000].map(durationText)).toEqual([
    '500ms',
    '4s',
    '2m',
    '2m30s',
    '1h',
    '1h5m',
  ]);
  expect(oneDollar('at $2/h')).toBe('at $2/h');
  expect(oneDollar('$1 of $2')).toBe('\\$1 of \\$2');
});
